/**
 * The verify report as produced by the decoder (`schema: "bagpipe-cni.verify/2"`), as a shape
 * used to validate what the WebAssembly module returns. The field-by-field documentation is
 * lib/verify/SCHEMA.md; keep both in step with wasm/src/report.rs.
 */
import { type Infer, s as z } from "./shape.ts";

const uint = z.uint;
const ip = z.str;
const mac = z.match(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
const time = z.num;
const direction = z.enum(["client_to_server", "server_to_client"]);

/** Version tag this schema describes. */
export const REPORT_SCHEMA_VERSION = "bagpipe-cni.verify/2";

/** Finding kinds, in code order. */
export const FINDING_KINDS = [
  "src_mac_not_advertised",
  "src_mac_withdrawn",
  "src_mac_at_other_vtep",
  "src_mac_other_domain",
  "dst_mac_not_advertised",
  "unknown_unicast_flooded",
  "dst_mac_withdrawn",
  "dst_mac_at_other_vtep",
  "dst_vni_mismatch",
  "bum_without_imet",
  "duplicate_mac",
  "oversize_frame",
  "outer_fragmented",
  "bad_udp_checksum",
  "vxlan_flag_missing",
  "vxlan_reserved_bits",
  "unverifiable",
  "bgp_stream_gap",
  "bgp_notification",
  "bgp_malformed",
  "withdraw_unknown_route",
  "vxlan_malformed",
  "dst_mac_flooded",
  "src_mac_advertised_late",
] as const;

const Capture = z.object({
  format: z.enum(["unknown", "pcap", "pcap-kuznetsov", "pcapng"]),
  byte_order: z.nullable(z.enum(["little", "big"])),
  timestamp_resolution: z.nullable(z.enum(["us", "ns", "per-interface"])),
  link_types: z.array(uint),
  interfaces: uint,
  skipped_blocks: uint,
  packets: uint,
  input_bytes: uint,
  captured_bytes: uint,
  truncated_packets: uint,
  first_time: z.nullable(time),
  last_time: z.nullable(time),
  fatal_error: z.nullable(z.object({ what: z.str, why: z.str, value: uint })),
  counters: z.object({
    tcp: uint,
    udp: uint,
    bgp_packets: uint,
    vxlan_packets: uint,
    nested_vxlan: uint,
    gre: uint,
    geneve: uint,
    ip_fragments: uint,
    non_ip: uint,
    unsupported_link: uint,
    malformed: uint,
    bad_udp_checksums: uint,
    withdrawals_unmatched: uint,
  }),
});

const Summary = z.object({
  errors: uint,
  warnings: uint,
  infos: uint,
  consistent: z.bool,
  control_plane_seen: z.bool,
  partial_sessions_open: uint,
  sessions: uint,
  routes: uint,
  routes_active: uint,
  flows: uint,
  snapshot_routes: uint,
  withdrawals: uint,
  unknown_route_types: z.array(z.object({ type: uint, count: uint })),
});

const Endpoint = z.object({ address: ip, port: uint });

const Open = z.object({
  packet: uint,
  version: uint,
  as: uint,
  hold_time: uint,
  bgp_id: ip,
  capabilities: z.array(z.object({
    code: uint,
    name: z.str,
    afi: z.optional(uint),
    safi: z.optional(uint),
    value: z.optional(uint),
  })),
});

const Session = z.object({
  id: uint,
  client: Endpoint,
  server: Endpoint,
  first_packet: uint,
  last_packet: uint,
  first_time: time,
  last_time: time,
  established: z.bool,
  partial: z.bool,
  closed: z.nullable(z.object({
    reason: z.enum(["fin", "rst", "notification", "reopened"]),
    packet: uint,
    time,
  })),
  directions: z.array(z.object({
    direction,
    open: z.nullable(Open),
    inferred: z.nullable(z.object({
      four_octet_as: z.nullable(z.bool),
      add_path: z.nullable(z.bool),
    })),
    messages: z.object({
      open: uint,
      update: uint,
      notification: uint,
      keepalive: uint,
      route_refresh: uint,
    }),
    evpn_advertised: uint,
    evpn_withdrawn: uint,
    other_family_updates: uint,
    decode_errors: uint,
    started_mid_stream: z.bool,
    gaps: uint,
    gap_bytes: uint,
    retransmitted_bytes: uint,
  })),
});

const Notification = z.object({
  session: uint,
  direction,
  packet: uint,
  time,
  code: uint,
  subcode: uint,
  code_name: z.str,
  subcode_name: z.str,
});

const Vtep = z.object({
  address: ip,
  routes: uint,
  routes_active: uint,
  mac_routes_active: uint,
  flows_sent: uint,
  flows_received: uint,
});

const Segment = z.object({
  vtep: ip,
  vni: uint,
  imet_active: z.bool,
  imet_ever: z.bool,
  mac_routes_active: uint,
  route_targets: z.array(z.str),
});

const Esi = z.object({
  type: uint,
  kind: z.enum([
    "single-homed",
    "arbitrary",
    "lacp",
    "mstp",
    "mac-based",
    "router-id",
    "as",
    "unknown",
  ]),
  value: z.str,
  system_mac: z.optional(mac),
  port_key: z.optional(uint),
  root_bridge_mac: z.optional(mac),
  priority: z.optional(uint),
  discriminator: z.optional(uint),
  router_id: z.optional(ip),
  as: z.optional(uint),
});

const Route = z.object({
  id: uint,
  type: uint,
  type_name: z.enum([
    "ethernet_ad",
    "mac_ip",
    "inclusive_multicast",
    "ethernet_segment",
    "ip_prefix",
  ]),
  rd: z.object({ type: uint, value: z.str }),
  vtep: ip,
  next_hop: ip,
  path_id: z.optional(uint),
  esi: z.optional(Esi),
  ethernet_tag: z.optional(uint),
  mac: z.optional(mac),
  ip: z.optional(z.nullable(ip)),
  prefix: z.optional(z.str),
  gateway: z.optional(ip),
  originator: z.optional(ip),
  label1: z.optional(uint),
  label2: z.optional(z.nullable(uint)),
  label_kind: z.enum(["vni", "mpls"]),
  vni: uint,
  route_targets: z.array(z.str),
  encapsulation: z.nullable(z.object({ tunnel_type: uint, name: z.str })),
  mac_mobility: z.nullable(z.object({ sequence: uint, sticky: z.bool })),
  default_gateway: z.bool,
  routers_mac: z.nullable(mac),
  esi_label: z.nullable(z.object({ single_active: z.bool, label: uint })),
  es_import: z.nullable(mac),
  pmsi_tunnel: z.nullable(z.object({
    flags: uint,
    tunnel_type: uint,
    label: uint,
    endpoint: z.nullable(ip),
  })),
  originator_id: z.nullable(ip),
  active: z.bool,
  first_packet: uint,
  first_time: time,
  last_change_packet: uint,
  last_change_time: time,
  advertisements: uint,
  withdrawals: uint,
  from_snapshot: z.bool,
});

const Withdrawal = z.object({
  packet: uint,
  time,
  count: uint,
  last_packet: uint,
  last_time: time,
  session: uint,
  direction,
  type: uint,
  type_name: Route.fields.type_name,
  rd: z.object({ type: uint, value: z.str }),
  path_id: z.optional(uint),
  esi: z.optional(Esi),
  ethernet_tag: z.optional(uint),
  mac: z.optional(mac),
  ip: z.optional(z.nullable(ip)),
  prefix: z.optional(z.str),
  gateway: z.optional(ip),
  originator: z.optional(ip),
  route: z.nullable(uint),
  matched: z.bool,
  vtep: z.nullable(ip),
  vni: z.nullable(uint),
});

const Flow = z.object({
  id: uint,
  src_vtep: ip,
  dst_vtep: ip,
  vni: uint,
  src_mac: mac,
  dst_mac: mac,
  kind: z.enum(["unicast", "bum"]),
  packets: uint,
  bytes: uint,
  max_outer_length: uint,
  first_packet: uint,
  last_packet: uint,
  first_time: time,
  last_time: time,
  inner: z.object({
    ethertype: uint,
    vlan: uint,
    src_ip: z.nullable(ip),
    dst_ip: z.nullable(ip),
    protocol: uint,
    arp_op: uint,
    icmp_type: z.nullable(uint),
  }),
  counts: z.object({
    arp: uint,
    ipv4: uint,
    ipv6: uint,
    icmp: uint,
    other: uint,
    nested_vxlan: uint,
  }),
  nested_vni: z.nullable(uint),
});

const Finding = z.object({
  id: uint,
  kind: z.enum(FINDING_KINDS),
  severity: z.enum(["error", "warning", "info"]),
  vni: z.nullable(uint),
  src_vtep: z.nullable(ip),
  dst_vtep: z.nullable(ip),
  src_mac: z.nullable(mac),
  dst_mac: z.nullable(mac),
  other_vtep: z.nullable(ip),
  flow: z.nullable(uint),
  src_ip: z.nullable(ip),
  dst_ip: z.nullable(ip),
  first_packet: uint,
  last_packet: uint,
  first_time: time,
  last_time: time,
  count: uint,
  detail: z.record(z.scalar),
});

const TimelineEvent = z.object({
  packet: uint,
  time,
  event: z.enum([
    "advertise",
    "withdraw",
    "implicit_withdraw",
    "update",
    "session_open",
    "session_established",
    "session_closed",
    "finding",
    "mac_move",
    "route_refresh",
    "notification",
  ]),
  route: z.optional(uint),
  previous_route: z.optional(uint),
  session: z.optional(uint),
  direction: z.optional(direction),
  finding: z.optional(uint),
  reason: z.optional(z.str),
  afi: z.optional(uint),
  safi: z.optional(uint),
  code: z.optional(uint),
  subcode: z.optional(uint),
});

/** The whole report. */
export const VerifyReportSchema = z.object({
  schema: z.lit(REPORT_SCHEMA_VERSION),
  options: z.object({ vxlan_ports: z.array(uint), underlay_mtu: uint }),
  capture: Capture,
  summary: Summary,
  sessions: z.array(Session),
  notifications: z.array(Notification),
  vteps: z.array(Vtep),
  segments: z.array(Segment),
  routes: z.array(Route),
  withdrawals: z.array(Withdrawal),
  flows: z.array(Flow),
  findings: z.array(Finding),
  timeline: z.array(TimelineEvent),
  decode_errors: z.array(
    z.object({ packet: uint, what: z.str, why: z.str, value: uint }),
  ),
  limits: z.object({
    decode_errors_total: uint,
    timeline_dropped: uint,
    findings_dropped: uint,
    routes_dropped: uint,
    index_overflow: uint,
    flow_packets_dropped: uint,
    sessions_dropped: uint,
    withdrawals_dropped: uint,
    json_truncated: uint,
  }),
});

/** A validated verify report. */
export type VerifyReport = Infer<typeof VerifyReportSchema>;
/** One finding of a report. */
export type VerifyFinding = VerifyReport["findings"][number];
/** One EVPN route of a report. */
export type VerifyRoute = VerifyReport["routes"][number];
/** One VXLAN flow of a report. */
export type VerifyFlow = VerifyReport["flows"][number];
/** One withdrawn NLRI of a report, with the route it named when known. */
export type VerifyWithdrawal = VerifyReport["withdrawals"][number];
/** One BGP session of a report. */
export type VerifySession = VerifyReport["sessions"][number];
