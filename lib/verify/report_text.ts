/** Renders a verify report as readable text: sessions, routes per VTEP/VNI, flows, findings. */
import type { VerifyReport, VerifyRoute, VerifySession, VerifyWithdrawal } from "../../wasm/mod.ts";
import { describeFinding, findingReceivers } from "./describe.ts";

/** Lines shown per section before "… N more (see --json)". */
export const TEXT_LIMITS = {
  sessions: 50,
  routes: 200,
  withdrawals: 200,
  flows: 100,
  findings: 200,
};

const LINK_TYPES: Record<number, string> = {
  0: "BSD loopback",
  1: "Ethernet",
  101: "raw IP",
  108: "OpenBSD loopback",
  113: "Linux SLL",
  228: "raw IPv4",
  229: "raw IPv6",
  276: "Linux SLL2",
};

function iso(t: number | null): string {
  return t === null ? "-" : new Date(t * 1000).toISOString();
}

function more(n: number, shown: number): string[] {
  return n > shown ? [`  … ${n - shown} more (see --json)`] : [];
}

/** The whole report as text lines. */
export function renderReport(r: VerifyReport, file: string): string {
  const c = r.capture;
  const out: string[] = [];
  out.push(`bagpipe-cni verify ${file}`);
  const order = c.byte_order ? `, ${c.byte_order}-endian` : "";
  const res = c.timestamp_resolution ? `, ${c.timestamp_resolution} timestamps` : "";
  const links = c.link_types.map((l) => `${l} (${LINK_TYPES[l] ?? "unsupported"})`).join(", ");
  out.push(`capture  ${c.format}${order}${res}; link types ${links || "-"}`);
  const span = c.first_time !== null && c.last_time !== null
    ? ` (${(c.last_time - c.first_time).toFixed(3)} s)`
    : "";
  out.push(
    `         ${c.packets} packets, ${c.captured_bytes} bytes, ${iso(c.first_time)} .. ${
      iso(c.last_time)
    }${span}`,
  );
  const k = c.counters;
  out.push(
    `traffic  ${k.bgp_packets} BGP packets, ${k.vxlan_packets} VXLAN packets (${k.nested_vxlan} nested), ` +
      `${k.non_ip} non-IP, ${k.ip_fragments} IP fragments, ${c.truncated_packets} truncated`,
  );
  if (c.fatal_error) {
    out.push(
      `input    ${c.fatal_error.what}: ${c.fatal_error.why} (${c.fatal_error.value}); decoding stopped`,
    );
  }
  if (r.summary.snapshot_routes > 0) {
    out.push(
      `snapshot ${r.summary.snapshot_routes} routes loaded (--rib) as the control plane at the start`,
    );
  }
  out.push(
    "",
    ...sessions(r),
    "",
    ...routes(r),
    "",
    ...withdrawals(r),
    "",
    ...vtepPairs(r),
    "",
    ...flows(r),
  );
  out.push("", ...findings(r));
  if (r.limits.decode_errors_total > 0) {
    out.push("", `Decode errors (${r.limits.decode_errors_total})`);
    for (const e of r.decode_errors.slice(0, 20)) {
      out.push(`  pkt ${e.packet}: ${e.what}: ${e.why} (${e.value})`);
    }
    out.push(...more(r.limits.decode_errors_total, Math.min(20, r.decode_errors.length)));
  }
  const s = r.summary;
  const verdict = s.errors > 0
    ? `INCONSISTENT: ${s.errors} error finding(s)`
    : s.control_plane_seen
    ? "consistent"
    : "no BGP control plane in the capture: data plane unverifiable";
  out.push("", `Verdict: ${verdict}`);
  return out.join("\n") + "\n";
}

function sessions(r: VerifyReport): string[] {
  const out = [`BGP sessions (${r.sessions.length})`];
  for (const s of r.sessions.slice(0, TEXT_LIMITS.sessions)) {
    const closed = s.closed ? `closed by ${s.closed.reason} at pkt ${s.closed.packet}` : "open";
    const flags = [s.established ? "established" : "not established", closed];
    if (s.partial) flags.push("PARTIAL (mid-stream or lost bytes)");
    out.push(
      `  #${s.id} ${s.client.address}:${s.client.port} -> ${s.server.address}:${s.server.port}` +
        `  pkts ${s.first_packet}-${s.last_packet}  ${flags.join(", ")}`,
    );
    for (const d of s.directions) {
      const m = d.messages;
      const who = d.direction === "client_to_server" ? "client" : "server";
      const open = d.open
        ? `AS ${d.open.as} id ${d.open.bgp_id} hold ${d.open.hold_time} caps ${
          d.open.capabilities.map((c) =>
            c.afi !== undefined ? `${c.name}(${c.afi}/${c.safi})` : c.name
          )
            .join(" ")
        }`
        : `no OPEN seen${inferred(d.inferred)}`;
      out.push(
        `     ${who}: ${open}; OPEN ${m.open} UPDATE ${m.update} KEEPALIVE ${m.keepalive} ` +
          `NOTIFICATION ${m.notification} ROUTE-REFRESH ${m.route_refresh}; EVPN +${d.evpn_advertised} ` +
          `-${d.evpn_withdrawn}` + (d.gaps ? `; ${d.gaps} gaps (${d.gap_bytes} bytes)` : ""),
      );
    }
  }
  out.push(...more(r.sessions.length, TEXT_LIMITS.sessions));
  for (const n of r.notifications) {
    out.push(
      `  NOTIFICATION session #${n.session} pkt ${n.packet}: ${n.code}/${n.subcode} ${n.code_name} / ${n.subcode_name}`,
    );
  }
  return out;
}

function inferred(i: VerifySession["directions"][number]["inferred"]): string {
  if (!i) return "";
  const say = (v: boolean | null, name: string) =>
    v === null ? `${name} unknown` : `${name} ${v ? "yes" : "no"}`;
  return ` (inferred from UPDATEs: ${say(i.four_octet_as, "4-octet AS")}, ${
    say(i.add_path, "ADD-PATH")
  })`;
}

/** What a withdrawal names: route type, RD, Ethernet tag and MAC/IP or originator. */
export function withdrawalName(w: VerifyWithdrawal): string {
  const what = w.type_name === "mac_ip"
    ? `${w.mac}${w.ip ? " " + w.ip : ""}`
    : w.type_name === "inclusive_multicast"
    ? `originator ${w.originator}`
    : w.type_name === "ip_prefix"
    ? `${w.prefix}`
    : `ESI ${w.esi?.value}`;
  const tag = w.ethernet_tag !== undefined ? `  tag ${w.ethernet_tag}` : "";
  return `${w.type_name} ${what}  RD ${w.rd.value}${tag}`;
}

/** When a withdrawal entry was seen: its packet, or its first and last and how many times. */
export function withdrawalPackets(w: VerifyWithdrawal): string {
  return w.count > 1 ? `pkts ${w.packet}-${w.last_packet} (${w.count} times)` : `pkt ${w.packet}`;
}

function withdrawals(r: VerifyReport): string[] {
  const out = [`Withdrawals (${r.summary.withdrawals})`];
  const shown = r.withdrawals.slice(0, TEXT_LIMITS.withdrawals);
  for (const w of shown) {
    const where = w.vtep !== null
      ? `VTEP ${w.vtep} VNI ${w.vni}`
      : "VTEP and VNI unknown (announced before the capture)";
    const note = w.matched ? "" : "  (not advertised by this session in the capture)";
    out.push(
      `  ${withdrawalPackets(w)} session #${w.session}: ${withdrawalName(w)}  ${where}${note}`,
    );
  }
  // Counted in withdrawals: each entry stands for `count` of them.
  out.push(...more(r.summary.withdrawals, shown.reduce((n, w) => n + w.count, 0)));
  return out;
}

function routeLine(x: VerifyRoute): string {
  const what = x.type_name === "mac_ip"
    ? `${x.mac}${x.ip ? " " + x.ip : ""}`
    : x.type_name === "inclusive_multicast"
    ? `originator ${x.originator}`
    : x.type_name === "ip_prefix"
    ? `${x.prefix} gw ${x.gateway}`
    : x.type_name === "ethernet_segment"
    ? `ESI ${x.esi?.value} originator ${x.originator}`
    : `ESI ${x.esi?.value} tag ${x.ethernet_tag}`;
  const state = x.active ? "active" : "withdrawn";
  const mob = x.mac_mobility
    ? ` seq ${x.mac_mobility.sequence}${x.mac_mobility.sticky ? " sticky" : ""}`
    : "";
  const seen = x.from_snapshot
    ? `snapshot, last change pkt ${x.last_change_packet}`
    : `pkts ${x.first_packet}-${x.last_change_packet}`;
  return `${x.type_name} ${what}  RD ${x.rd.value}  ${x.label_kind} ${x.vni}${mob}  ${state} ` +
    `(+${x.advertisements} -${x.withdrawals}, ${seen})`;
}

function routes(r: VerifyReport): string[] {
  const out = [
    `EVPN routes per VTEP and VNI (${r.summary.routes} routes, ${r.summary.routes_active} active)`,
  ];
  let shown = 0;
  // Grouped once: a snapshot may hold 100,000 routes over thousands of VTEPs.
  const byVtep = new Map<string, VerifyRoute[]>();
  for (const x of r.routes) {
    const list = byVtep.get(x.vtep);
    if (list) list.push(x);
    else byVtep.set(x.vtep, [x]);
  }
  const segments = new Map(r.segments.map((s) => [`${s.vtep} ${s.vni}`, s]));
  let vteps = 0;
  for (const v of r.vteps) {
    const mine = byVtep.get(v.address) ?? [];
    if (mine.length === 0) continue;
    // Past the route limit, VTEP headers alone would still be one line per VTEP.
    if (shown >= TEXT_LIMITS.routes) {
      vteps++;
      continue;
    }
    out.push(`  VTEP ${v.address}: ${v.routes_active}/${v.routes} routes active`);
    const byVni = new Map<number, VerifyRoute[]>();
    for (const x of mine) {
      const list = byVni.get(x.vni);
      if (list) list.push(x);
      else byVni.set(x.vni, [x]);
    }
    for (const [vni, list] of [...byVni].sort((a, b) => a[0] - b[0])) {
      const seg = segments.get(`${v.address} ${vni}`);
      const imet = seg
        ? (seg.imet_active ? "IMET active" : seg.imet_ever ? "IMET withdrawn" : "no IMET")
        : "";
      const rts = seg?.route_targets.length ? ` RT ${seg.route_targets.join(",")}` : "";
      out.push(`    VNI ${vni}${rts} ${imet}`);
      for (const x of list) {
        if (shown++ < TEXT_LIMITS.routes) out.push(`      ${routeLine(x)}`);
      }
    }
  }
  out.push(...more(r.summary.routes, Math.min(shown, TEXT_LIMITS.routes)));
  if (vteps > 0) out.push(`  … and ${vteps} more VTEPs with routes (see --json)`);
  for (const u of r.summary.unknown_route_types) {
    out.push(`  route type ${u.type}: ${u.count} skipped (not decoded)`);
  }
  return out;
}

/**
 * VXLAN per pair of VTEPs, unicast apart from BUM: on a link between sites (a capture of an
 * inter-DC link) this says which node pairs talk across it, which the per-flow list, led by
 * IPv6 multicast chatter, buries.
 */
function vtepPairs(r: VerifyReport): string[] {
  const pairs = new Map<string, { vnis: Set<number>; unicast: number[]; bum: number[] }>();
  for (const f of r.flows) {
    const [a, b] = [f.src_vtep, f.dst_vtep].sort();
    const key = `${a} <-> ${b}`;
    const pair = pairs.get(key) ?? { vnis: new Set(), unicast: [0, 0], bum: [0, 0] };
    const way = f.src_vtep === a ? 0 : 1;
    pair.vnis.add(f.vni);
    (f.kind === "unicast" ? pair.unicast : pair.bum)[way]! += f.packets;
    pairs.set(key, pair);
  }
  const out = [`VXLAN between VTEPs (${pairs.size} pairs; packets each way, first VTEP -> second)`];
  for (const [key, p] of [...pairs].sort(([a], [b]) => a.localeCompare(b))) {
    out.push(
      `  ${key}  VNI ${[...p.vnis].sort((x, y) => x - y).join(",")}  unicast ${p.unicast[0]}/${
        p.unicast[1]
      }  BUM ${p.bum[0]}/${p.bum[1]}`,
    );
  }
  return out;
}

function flows(r: VerifyReport): string[] {
  const out = [`VXLAN flows (${r.flows.length})`];
  const sorted = [...r.flows].sort((a, b) => b.packets - a.packets);
  for (const f of sorted.slice(0, TEXT_LIMITS.flows)) {
    const i = f.inner;
    const ips = i.src_ip ? ` ${i.src_ip} -> ${i.dst_ip}` : "";
    out.push(
      `  ${f.src_vtep} -> ${f.dst_vtep} VNI ${f.vni} ${f.src_mac} -> ${f.dst_mac} ${f.kind}${ips}: ` +
        `${f.packets} pkts ${f.bytes} bytes (pkts ${f.first_packet}-${f.last_packet})` +
        (f.nested_vni !== null ? ` nested VNI ${f.nested_vni}` : ""),
    );
  }
  out.push(...more(r.flows.length, TEXT_LIMITS.flows));
  return out;
}

function findings(r: VerifyReport): string[] {
  const s = r.summary;
  const out = [`Findings: ${s.errors} errors, ${s.warnings} warnings, ${s.infos} info`];
  const rank = { error: 0, warning: 1, info: 2 } as const;
  const sorted = [...r.findings].sort((a, b) =>
    rank[a.severity] - rank[b.severity] || a.first_packet - b.first_packet
  );
  for (const f of sorted.slice(0, TEXT_LIMITS.findings)) {
    const where = [
      f.vni !== null ? `VNI ${f.vni}` : "",
      f.src_vtep ? `${f.src_vtep} -> ${findingReceivers(f)}` : "",
      f.src_mac && f.dst_mac ? `${f.src_mac} -> ${f.dst_mac}` : f.src_mac ?? "",
      f.src_ip ? (f.dst_ip ? `${f.src_ip} -> ${f.dst_ip}` : f.src_ip) : "",
    ].filter(Boolean).join("  ");
    const pkts = f.first_packet === f.last_packet
      ? `pkt ${f.first_packet}`
      : `pkts ${f.first_packet}-${f.last_packet}`;
    out.push(`  ${f.severity.toUpperCase().padEnd(7)} ${f.kind}  ${where}  ${pkts} (${f.count}x)`);
    out.push(`          ${describeFinding(f)}`);
  }
  out.push(...more(r.findings.length, TEXT_LIMITS.findings));
  return out;
}
