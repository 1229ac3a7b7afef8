/**
 * The node page's script: fetches `/api/node` every few seconds and rebuilds the tables with DOM
 * calls (`textContent` only, never markup), so nothing the node reports can add elements.
 */
export const PAGE_SCRIPT = `
"use strict";
const REFRESH_MS = 3000;
let refreshes = 0;
function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}
function table(id, headers, rows, empty) {
  const box = document.getElementById(id);
  box.replaceChildren();
  if (rows.length === 0) { box.append(el("p", empty, "empty")); return; }
  const t = el("table"), head = el("tr");
  for (const h of headers) head.append(el("th", h));
  t.append(head);
  for (const r of rows) {
    const tr = el("tr", null, r.cls);
    for (const cell of r.cells) tr.append(el("td", cell ?? "", "mono"));
    t.append(tr);
  }
  box.append(t);
}
function render(node) {
  const health = document.getElementById("health");
  health.replaceChildren(
    el("span", node.health.healthy ? "healthy" : "unhealthy", "badge " + (node.health.healthy ? "ok" : "bad")),
    el("span", " " + node.health.reason),
  );
  const d = node.daemon;
  document.getElementById("daemon").textContent = d.up
    ? "bagpipe-bgp up since " + d.since + ", identity " + d.identity + ", " + d.restarts + " restart(s) seen"
    : "bagpipe-bgp DOWN since " + d.since + ": " + (d.error || "no answer") + " (" + d.restarts + " restart(s) seen)";
  table("peers", ["peer", "state"], node.peers.map((p) => ({ cells: [p.id, p.state] })),
    node.stateError ? "peers unknown: " + node.stateError : "no BGP peer");
  table("attachments", ["pod", "network", "instance", "MAC", "addresses", "host veth", "since"],
    node.attachments.map((a) => ({ cells: [a.pod, a.network, a.instance, a.mac, a.ips.join(" "), a.hostVeth, a.createdAt] })),
    node.recordsError || "no pod attached on this node");
  table("instances", ["instance", "VNI", "bridge", "VXLAN", "ports", "received", "advertised", "route targets"],
    node.instances.map((i) => ({ cells: [i.id, i.vni, i.bridge, i.vxlan, i.ports,
      i.routes.filter((r) => r.direction === "received").length,
      i.routes.filter((r) => r.direction === "advertised").length,
      "import " + i.importRts.join(",") + " export " + i.exportRts.join(",")] })),
    node.stateError ? "instances unknown: " + node.stateError : "no VPN instance");
  table("routes", ["instance", "direction", "type", "MAC", "IP", "VNI", "VTEP"],
    node.instances.flatMap((i) => i.routes.map((r) => ({ cells: [i.id, r.direction, r.type, r.mac, r.ip, r.vni, r.vtep] }))),
    "no EVPN route");
  table("drift", ["kind", "what"], node.drift.findings.map((f) => ({ cls: "finding", cells: [f.kind, f.message] })),
    node.drift.error ? "node check could not run: " + node.drift.error : "no drift: the kernel forwards as the routes say");
  const log = node.log;
  document.getElementById("log").textContent = log.present
    ? "plugin log " + log.file + ": " + log.offset + " bytes read"
    : "plugin log unavailable: " + (log.error || log.file);
  table("requests", ["time", "command", "container", "result", "ms"],
    log.requests.map((r) => ({ cells: [r.ts, r.command, r.containerId, r.result, r.ms] })), "no CNI request logged yet");
  refreshes++;
  document.body.dataset.refreshes = String(refreshes);
  document.getElementById("updated").textContent = "updated " + node.takenAt;
}
async function refresh() {
  const status = document.getElementById("status");
  try {
    const answer = await fetch("api/node", { cache: "no-store", headers: { accept: "application/json" } });
    if (!answer.ok) throw new Error("HTTP " + answer.status);
    render(await answer.json());
    status.textContent = "";
  } catch (e) {
    status.textContent = "agent unreachable: " + e.message + " (retrying)";
  }
}
refresh();
setInterval(refresh, REFRESH_MS);
`;
