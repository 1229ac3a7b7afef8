/**
 * Why a request across the cluster got no answer, named by hop: the route out of the client,
 * the neighbour (ARP) of its next hop, the server's route back to the source it saw (a missing
 * masquerade), or conntrack on a node (a reply that never met its connection, e.g. bridged past
 * netfilter). Evidence is the kernel's own view: `ip route get`, `ip neigh`, the server's request
 * log, conntrack entries and the nat counters of the rules for the port.
 */
import { execInNetns } from "./netns.ts";
import type { ProbeResult, ProbeServer, Protocol } from "./probe.ts";

/** A request that failed, and where to look. */
export interface FailedFlow {
  /** The client's netns. */
  from: string;
  protocol: Protocol;
  host: string;
  port: number;
  result: ProbeResult;
  /** The server expected to answer (its request log tells whether the request got there). */
  server?: ProbeServer;
  /** Node netns the flow crosses (their conntrack tables and nat counters are shown). */
  nodes: string[];
  /** The server's own address, when the request is translated to it (DNAT) on the way. */
  serverIp?: string;
}

/** The hop found and what shows it. */
export interface HopDiagnosis {
  hop: string;
  evidence: string[];
}

/** Finds the hop where a failed request (or its reply) was lost. */
export async function diagnoseFlow(flow: FailedFlow): Promise<HopDiagnosis> {
  const evidence: string[] = [];
  const result = flow.result;
  const failure = result.ok ? "answered by the wrong server" : result.failure;
  evidence.push(`client in ${flow.from}: ${failure}`);
  const route = await _line(flow.from, ["ip", "route", "get", flow.host]);
  evidence.push(`${flow.from}: ip route get ${flow.host}: ${route.text}`);
  if (!route.ok || failure === "ENETUNREACH") {
    return { hop: `route: ${flow.from} has no route to ${flow.host}`, evidence };
  }
  const via = /\bvia (\S+)/.exec(route.text)?.[1] ?? flow.host;
  const leak = await _byDefaultRoute(flow.from, route.text);
  // A translated destination (a ClusterIP) normally follows the default route until DNAT.
  const translated = flow.serverIp !== undefined && flow.serverIp !== flow.host;
  if (leak && flow.nodes.includes(flow.from) && !translated) {
    return {
      hop: `route: ${flow.from} sends ${flow.host} to its default route (${leak})`,
      evidence,
    };
  }
  const neigh = await _line(flow.from, ["ip", "neigh", "show", via]);
  evidence.push(`${flow.from}: ip neigh show ${via}: ${neigh.text || "(no entry)"}`);
  const seen = flow.server ? await flow.server.requests(result.token) : [];
  if (flow.server) {
    evidence.push(
      `${flow.server.name} logged ${seen.length ? seen.join("; ") : "no request with this token"}`,
    );
  }
  if (seen.length === 0 && /FAILED|INCOMPLETE/.test(neigh.text)) {
    return { hop: `ARP/neighbour: ${via} unanswered in ${flow.from} (${neigh.text})`, evidence };
  }
  for (const node of flow.nodes) evidence.push(...await _nodeState(node, flow));
  if (seen.length === 0 && translated && flow.serverIp) {
    // A pod reaching itself through a Service: br_netfilter bridges the DNATed frame back out
    // of the port it came in by, which the bridge does only with hairpin on.
    const own = await _line(flow.from, ["ip", "-4", "-o", "addr", "show"]);
    if (new RegExp(`inet ${flow.serverIp.replaceAll(".", "\\.")}/`).test(own.text)) {
      for (const node of flow.nodes) {
        const off = await _portsWithoutHairpin(node);
        evidence.push(`${node}: bridge ports with hairpin off: ${off.join(", ") || "none"}`);
        if (off.length > 0) {
          return {
            hop:
              `hairpin: ${flow.from} reaches itself through ${flow.host}, and ${node}'s bridge ports have hairpin off (${
                off.join(", ")
              })`,
            evidence,
          };
        }
      }
    }
  }
  if (seen.length === 0 && flow.serverIp) {
    // Translated on a node (Service, NodePort, hostPort): can that node reach the backend?
    for (const node of flow.nodes) {
      const toServer = await _line(node, ["ip", "route", "get", flow.serverIp]);
      evidence.push(`${node}: ip route get ${flow.serverIp}: ${toServer.text}`);
      const nodeLeak = toServer.ok ? await _byDefaultRoute(node, toServer.text) : "no route";
      if (nodeLeak) {
        return {
          hop: `route: ${node} sends the backend ${flow.serverIp} to ${
            nodeLeak === "no route" ? "nowhere (no route)" : `its default route (${nodeLeak})`
          }`,
          evidence,
        };
      }
    }
  }
  if (seen.length > 0 && flow.server) {
    // The request arrived: the reply was lost. First suspect: the server cannot route back to
    // the source it saw (the source should have been masqueraded to a node address).
    const source = seen[0]!.split(" ")[2]!;
    const back = await _line(flow.server.netns, ["ip", "route", "get", source]);
    evidence.push(`${flow.server.netns}: ip route get ${source}: ${back.text}`);
    if (!back.ok) {
      return {
        hop: `masquerade: ${flow.server.name} saw source ${source} and has no route back to it`,
        evidence,
      };
    }
    return {
      hop:
        `conntrack/return path: ${flow.server.name} answered ${source}, the reply never reached ${flow.from}`,
      evidence,
    };
  }
  return {
    hop: flow.server
      ? `forward/DNAT: the request never reached ${flow.server.name}`
      : "no answer (no server log to compare with)",
    evidence,
  };
}

async function _nodeState(node: string, flow: FailedFlow): Promise<string[]> {
  const out: string[] = [];
  const ct = await execInNetns(node, [
    "conntrack",
    "-L",
    "-p",
    flow.protocol,
    "--orig-port-dst",
    String(flow.port),
  ]);
  const entries = ct.code === 0 || ct.stdout.trim()
    ? ct.stdout.trim().split("\n").filter(Boolean)
    : (await execInNetns(node, ["cat", "/proc/net/nf_conntrack"])).stdout.split("\n")
      .filter((l) => l.includes(` dport=${flow.port} `) && l.includes(flow.protocol));
  out.push(
    `${node}: conntrack for ${flow.protocol} dport ${flow.port}: ${
      entries.length ? entries.slice(0, 4).join(" | ") : "none"
    }`,
  );
  const nat = await execInNetns(node, ["iptables-save", "-c", "-t", "nat"]);
  const hit = nat.stdout.split("\n").filter((l) =>
    l.includes(`--dport ${flow.port} `) || l.includes("-j DNAT") || l.includes("MASQUERADE")
  );
  if (hit.length) out.push(`${node}: nat rules [packets:bytes]: ${hit.slice(0, 8).join(" | ")}`);
  const brnf = await execInNetns(node, ["sysctl", "-n", "net.bridge.bridge-nf-call-iptables"]);
  out.push(
    `${node}: net.bridge.bridge-nf-call-iptables=${brnf.stdout.trim() || brnf.stderr.trim()}`,
  );
  return out;
}

/** "port (bridge)" of every bridge port of a netns whose hairpin mode is off (VXLAN ports aside). */
async function _portsWithoutHairpin(netns: string): Promise<string[]> {
  const out = await execInNetns(netns, ["bridge", "-d", "-j", "link", "show"]);
  const ports = JSON.parse(out.stdout.trim() || "[]") as {
    ifname: string;
    master?: string;
    hairpin?: boolean;
  }[];
  return ports.filter((p) => p.master && p.hairpin === false && !p.ifname.startsWith("bpvx"))
    .map((p) => `${p.ifname} (${p.master})`);
}

/** The default route's "via X dev Y" when `ip route get`'s answer took it, else "". */
async function _byDefaultRoute(netns: string, routeGet: string): Promise<string> {
  const def = (await _line(netns, ["ip", "route", "show", "default"])).text;
  const gateway = /\bvia (\S+) dev (\S+)/.exec(def);
  if (!gateway) return "";
  return routeGet.includes(`via ${gateway[1]} dev ${gateway[2]}`)
    ? `via ${gateway[1]} dev ${gateway[2]}`
    : "";
}

async function _line(netns: string, argv: string[]): Promise<{ ok: boolean; text: string }> {
  const out = await execInNetns(netns, argv);
  const text = (out.stdout.trim() || out.stderr.trim()).split("\n").map((l) => l.trim()).join(" ");
  return { ok: out.code === 0, text };
}
