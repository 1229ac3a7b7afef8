/** One-sentence explanations of findings, shared by the text report (and a future HTML page). */
import type { VerifyFinding } from "../../wasm/mod.ts";

const dstMac = (f: VerifyFinding) => f.dst_mac ?? "?";
const srcMac = (f: VerifyFinding) => f.src_mac ?? "?";

/**
 * Where a finding's frames went: its destination VTEP, or for a flooded frame the VTEPs its
 * copies reached (null when neither applies).
 */
export function findingReceivers(f: VerifyFinding): string | null {
  if (f.dst_vtep !== null) return f.dst_vtep;
  return f.kind === "dst_mac_flooded" ? `{${f.detail.vteps ?? "?"}}` : null;
}

/** Explains a finding in one sentence: what was seen and which rule it breaks. */
export function describeFinding(f: VerifyFinding): string {
  const d = f.detail;
  const vni = f.vni ?? "?";
  switch (f.kind) {
    case "src_mac_not_advertised":
      return `inner source MAC ${srcMac(f)} was never advertised by source VTEP ${f.src_vtep}`;
    case "src_mac_advertised_late":
      return `${f.src_vtep} advertised inner source MAC ${srcMac(f)} ${d.delay_ms} ms after ` +
        `its first frame: a VTEP that learns hosts from the data plane (FRR, switches) ` +
        `advertises a new host just after its first frames`;
    case "src_mac_withdrawn":
      return `inner source MAC ${
        srcMac(f)
      } was advertised by ${f.src_vtep} but withdrawn before this frame`;
    case "src_mac_at_other_vtep":
      return `inner source MAC ${
        srcMac(f)
      } is advertised by ${f.other_vtep}, not by the sending VTEP ${f.src_vtep}`;
    case "src_mac_other_domain":
      return `${f.src_vtep} advertises ${
        srcMac(f)
      } only outside the broadcast domain (route targets) of VNI ${vni} at ${f.dst_vtep}`;
    case "dst_mac_not_advertised":
      return `unicast to ${
        dstMac(f)
      }, which nobody advertised, and ${f.dst_vtep} has no IMET route for VNI ${vni}`;
    case "unknown_unicast_flooded":
      return `unicast to ${
        dstMac(f)
      }, which nobody advertised (flooded as unknown unicast to ${f.dst_vtep})`;
    case "dst_mac_withdrawn":
      return `traffic to ${dstMac(f)} after ${f.dst_vtep} withdrew its route`;
    case "dst_mac_at_other_vtep":
      return `traffic for ${
        dstMac(f)
      } sent to ${f.dst_vtep}, but ${f.other_vtep} advertises it (VNI ${d.advertised_vni})`;
    case "dst_mac_flooded":
      return `${f.src_vtep} had no fdb entry for ${dstMac(f)} (advertised by ${f.other_vtep}, ` +
        `VNI ${d.advertised_vni}) and flooded the frame as unknown unicast to ${d.vteps_reached} ` +
        `VTEPs (${d.vteps}), ` +
        (d.advertised_vtep_reached
          ? "including the advertised one"
          : `no copy seen to ${f.other_vtep}: lost, unless that copy did not pass the capture point`) +
        `; normal for a moment at first contact, persistent flooding means the route is missing ` +
        `on the sender`;
    case "dst_vni_mismatch":
      return `${f.dst_vtep} advertised ${
        dstMac(f)
      } with VNI ${d.advertised_vni}, the frame used VNI ${vni}`;
    case "bum_without_imet":
      return `broadcast/multicast for VNI ${vni} sent to ${f.dst_vtep}, which has no active IMET route for it` +
        (d.imet_seen_before ? " (withdrawn earlier)" : "");
    case "duplicate_mac":
      return `${srcMac(f)} advertised by ${f.dst_vtep} while ${f.src_vtep} still advertises it: ` +
        `${d.reason} (sequence ${d.previous_sequence} -> ${d.new_sequence})`;
    case "oversize_frame":
      return `outer packet of ${d.max_outer_length} bytes exceeds the underlay MTU ${d.underlay_mtu}`;
    case "outer_fragmented":
      return `VXLAN packet of ${d.outer_length} bytes was fragmented on the underlay`;
    case "bad_udp_checksum":
      return d.offload_pattern
        ? `outer UDP checksums hold only the pseudo-header sum (checksum offload on the capturing host)`
        : `outer UDP checksum ${d.checksum} is wrong`;
    case "vxlan_flag_missing":
      return `VXLAN header without the I flag (flags 0x${
        Number(d.flags).toString(16)
      }); receivers drop it`;
    case "vxlan_reserved_bits":
      return `VXLAN header with non-zero reserved bits (flags 0x${Number(d.flags).toString(16)})`;
    case "unverifiable":
      return `cannot be checked: ${d.reason}` + (d.would_be ? ` (would be ${d.would_be})` : "");
    case "bgp_stream_gap":
      return `${d.missing_bytes} bytes of BGP session ${d.session} were not captured; routes may be missing`;
    case "bgp_notification":
      return `NOTIFICATION ${d.code}/${d.subcode}: ${d.code_name} / ${d.subcode_name}`;
    case "bgp_malformed":
    case "vxlan_malformed":
      return `${d.what}: ${d.why}`;
    case "withdraw_unknown_route":
      return `withdrawal of a route this session never advertised in the capture`;
  }
}
