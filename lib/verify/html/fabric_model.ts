/**
 * What the fabric diagram draws, derived from a report: each VTEP with the VNIs and endpoints
 * the control plane advertised for it (withdrawn ones kept, marked), and the VXLAN traffic
 * between VTEP pairs. Kept apart from the SVG so the grouping can be tested on its own.
 */
import type { VerifyFinding, VerifyReport, VerifyRoute } from "../../../wasm/mod.ts";
import { SEVERITY_RANK } from "./format.ts";

/** A finding severity, or null when nothing was found. */
export type Severity = VerifyFinding["severity"] | null;

/** One advertised endpoint (or prefix / Ethernet segment) inside a VNI of a VTEP. */
export interface EndpointView {
  /** What is shown: "MAC IP", "prefix via gateway", "ES …". */
  label: string;
  mac: string | null;
  ip: string | null;
  /** Still advertised at the end of the capture. */
  active: boolean;
  /** Report route ids behind this endpoint (several when it was re-advertised under other keys). */
  routes: number[];
  lastChangePacket: number;
  /** Worst finding naming this MAC in this VNI. */
  severity: Severity;
}

/** One VNI as a VTEP advertised it. */
export interface VniView {
  vni: number;
  /** Inclusive-multicast (type 3) state: whether the VTEP accepts BUM traffic for the VNI. */
  imet: "active" | "withdrawn" | "none";
  routeTargets: string[];
  endpoints: EndpointView[];
}

/** One VTEP box. */
export interface VtepView {
  address: string;
  routes: number;
  routesActive: number;
  flowsSent: number;
  flowsReceived: number;
  vnis: VniView[];
  /** Worst finding with this VTEP as source, destination or other VTEP. */
  severity: Severity;
}

/** VXLAN traffic from one VTEP to another, all flows of the pair added up. */
export interface LinkView {
  src: string;
  dst: string;
  flows: number;
  packets: number;
  bytes: number;
  bumPackets: number;
  vnis: number[];
  /** Worst finding with this source and destination VTEP. */
  severity: Severity;
}

/** Everything the diagram draws. */
export interface FabricModel {
  vteps: VtepView[];
  links: LinkView[];
}

/** The worse of two severities (error > warning > info > none). */
export function worse(a: Severity, b: Severity): Severity {
  if (a === null) return b;
  if (b === null) return a;
  return SEVERITY_RANK[a] <= SEVERITY_RANK[b] ? a : b;
}

/** What a route is about, in a few words: "MAC IP", "prefix via gateway", "ES …", "IMET …". */
export function routeLabel(r: VerifyRoute): string {
  switch (r.type_name) {
    case "mac_ip":
      return r.ip ? `${r.mac ?? "?"} ${r.ip}` : (r.mac ?? "?");
    case "ip_prefix":
      return `${r.prefix ?? "?"}${r.gateway ? ` via ${r.gateway}` : ""}`;
    case "ethernet_segment":
      return `ES ${r.esi?.value ?? "?"}`;
    case "ethernet_ad":
      return `ES ${r.esi?.value ?? "?"} tag ${r.ethernet_tag ?? "?"}`;
    case "inclusive_multicast":
      return `IMET ${r.originator ?? r.vtep}`;
  }
}

/** Groups the report's routes, segments and flows into VTEPs, VNIs, endpoints and links. */
export function buildFabricModel(report: VerifyReport): FabricModel {
  const vteps = new Map<string, VtepView>();
  const vtep = (address: string): VtepView => {
    let v = vteps.get(address);
    if (!v) {
      v = {
        address,
        routes: 0,
        routesActive: 0,
        flowsSent: 0,
        flowsReceived: 0,
        vnis: [],
        severity: null,
      };
      vteps.set(address, v);
    }
    return v;
  };
  const vni = (v: VtepView, id: number): VniView => {
    let s = v.vnis.find((x) => x.vni === id);
    if (!s) {
      s = { vni: id, imet: "none", routeTargets: [], endpoints: [] };
      v.vnis.push(s);
    }
    return s;
  };

  for (const v of report.vteps) {
    Object.assign(vtep(v.address), {
      routes: v.routes,
      routesActive: v.routes_active,
      flowsSent: v.flows_sent,
      flowsReceived: v.flows_received,
    });
  }
  for (const s of report.segments) {
    const seg = vni(vtep(s.vtep), s.vni);
    seg.imet = s.imet_active ? "active" : s.imet_ever ? "withdrawn" : "none";
    seg.routeTargets = [...s.route_targets];
  }
  const segmentKeys = new Set(report.segments.map((s) => JSON.stringify([s.vtep, s.vni])));
  const byLabel = new Map<VniView, Map<string, EndpointView>>();
  for (const r of report.routes) {
    const seg = vni(vtep(r.vtep), r.vni);
    for (const rt of r.route_targets) if (!seg.routeTargets.includes(rt)) seg.routeTargets.push(rt);
    if (r.type_name === "inclusive_multicast") {
      // Segments are authoritative when present; routes fill in for a report without them.
      if (!segmentKeys.has(JSON.stringify([r.vtep, r.vni]))) {
        if (r.active) seg.imet = "active";
        else if (seg.imet === "none") seg.imet = "withdrawn";
      }
      continue;
    }
    const label = routeLabel(r);
    const labels = byLabel.get(seg) ?? new Map<string, EndpointView>();
    byLabel.set(seg, labels);
    const known = labels.get(label);
    if (known) {
      known.active ||= r.active;
      known.routes.push(r.id);
      known.lastChangePacket = Math.max(known.lastChangePacket, r.last_change_packet);
      continue;
    }
    const endpoint: EndpointView = {
      label,
      mac: r.mac ?? null,
      ip: r.ip ?? r.prefix ?? null,
      active: r.active,
      routes: [r.id],
      lastChangePacket: r.last_change_packet,
      severity: null,
    };
    labels.set(label, endpoint);
    seg.endpoints.push(endpoint);
  }

  const links = new Map<string, LinkView>();
  const linkKey = (src: string, dst: string) => JSON.stringify([src, dst]);
  for (const f of report.flows) {
    vtep(f.src_vtep);
    vtep(f.dst_vtep);
    const key = linkKey(f.src_vtep, f.dst_vtep);
    let l = links.get(key);
    if (!l) {
      l = {
        src: f.src_vtep,
        dst: f.dst_vtep,
        flows: 0,
        packets: 0,
        bytes: 0,
        bumPackets: 0,
        vnis: [],
        severity: null,
      };
      links.set(key, l);
    }
    l.flows++;
    l.packets += f.packets;
    l.bytes += f.bytes;
    if (f.kind === "bum") l.bumPackets += f.packets;
    if (!l.vnis.includes(f.vni)) l.vnis.push(f.vni);
  }

  // Findings name MACs; an index keeps marking endpoints linear in findings + endpoints.
  const byMac = new Map<string, { vtep: string; vni: number; endpoint: EndpointView }[]>();
  for (const v of vteps.values()) {
    for (const seg of v.vnis) {
      for (const endpoint of seg.endpoints) {
        if (endpoint.mac === null) continue;
        const list = byMac.get(endpoint.mac) ?? [];
        list.push({ vtep: v.address, vni: seg.vni, endpoint });
        byMac.set(endpoint.mac, list);
      }
    }
  }
  for (const f of report.findings) {
    const named = [f.src_vtep, f.dst_vtep, f.other_vtep].filter((a) => a !== null);
    for (const a of named) {
      const v = vteps.get(a);
      if (v) v.severity = worse(v.severity, f.severity);
    }
    if (f.src_vtep !== null && f.dst_vtep !== null) {
      const l = links.get(linkKey(f.src_vtep, f.dst_vtep));
      if (l) l.severity = worse(l.severity, f.severity);
    }
    for (const mac of new Set([f.src_mac, f.dst_mac])) {
      for (const { vtep, vni, endpoint } of (mac === null ? undefined : byMac.get(mac)) ?? []) {
        // Only the copy at a VTEP the finding names, in its VNI: the same MAC elsewhere is fine.
        if ((f.vni === null || f.vni === vni) && (named.length === 0 || named.includes(vtep))) {
          endpoint.severity = worse(endpoint.severity, f.severity);
        }
      }
    }
  }

  for (const v of vteps.values()) {
    v.vnis.sort((a, b) => a.vni - b.vni);
    for (const seg of v.vnis) {
      seg.endpoints.sort((a, b) => a.label < b.label ? -1 : a.label > b.label ? 1 : 0);
    }
  }
  for (const l of links.values()) l.vnis.sort((a, b) => a - b);
  return { vteps: [...vteps.values()], links: [...links.values()] };
}
