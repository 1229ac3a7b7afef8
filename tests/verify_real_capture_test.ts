/**
 * verify on the real capture of two bagpipe-bgp 17.0.0 nodes and a GoBGP route reflector
 * (tests/fixtures/verify/bagpipe-evpn-fabric.pcap, a copy of shared/captures): expected
 * results, and fields cross-checked against tshark where tshark is right.
 */
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { decodeCapture, type VerifyReport } from "../wasm/mod.ts";
import {
  assertBgpMessageCounts,
  bgpTypesPerFrame,
  hasTshark,
  tsharkFields,
} from "./helpers/tshark.ts";

const CAPTURE = new URL("./fixtures/verify/bagpipe-evpn-fabric.pcap", import.meta.url).pathname;

async function report(): Promise<VerifyReport> {
  using file = await Deno.open(CAPTURE);
  const { report, readable } = await decodeCapture(file);
  ok(readable);
  return report;
}

/** tshark's fields for FILTER's frames of the capture. */
function tshark(filter: string, fields: string[], occurrence?: "a" | "f" | "l") {
  return tsharkFields(CAPTURE, filter, fields, { occurrence, aggregator: "," });
}

Deno.test("verify real capture: sessions, routes, flows and findings as expected", async () => {
  const r = await report();
  assertEquals([r.capture.format, r.capture.link_types, r.capture.packets], ["pcap", [276], 2565]);
  assertEquals([r.sessions.length, r.routes.length, r.flows.length], [10, 16, 48]);
  assertEquals(r.sessions.map((s) => s.closed?.reason), [
    "fin",
    "fin",
    "rst",
    "fin",
    "fin",
    "fin",
    "rst",
    "fin",
    "fin",
    "rst",
  ]);
  assertEquals(r.sessions.filter((s) => s.established).length, 9);
  // Every session ended by the end of the capture, so every route was withdrawn.
  assertEquals(r.summary.routes_active, 0);
  // Two real inconsistencies: pod 02:27:00:00:00:15 sends a router solicitation after its
  // route was withdrawn, and node .22 still floods VNI 16 to .21 after .21's session closed.
  const errors = r.findings.filter((f) => f.severity === "error").map((
    f,
  ) => [f.kind, f.src_mac, f.dst_vtep, f.first_packet]);
  assertEquals(errors, [
    ["src_mac_withdrawn", "02:27:00:00:00:15", "192.168.33.21", 1232],
    ["bum_without_imet", "b2:af:3f:2f:c4:d7", "192.168.33.21", 1398],
  ]);
  // Host-side MACs (bridges, link-local multicast) are flooded without being advertised.
  const warnings = r.findings.filter((f) => f.severity === "warning");
  const multicast = (m: string | null) =>
    m !== null && (m.startsWith("33:33") || m.startsWith("01:00:5e"));
  assertEquals(warnings.length, 21);
  ok(warnings.every((f) => f.kind === "src_mac_not_advertised" && multicast(f.dst_mac)));
  // The capture was taken on a host with UDP checksum offload.
  const infos = r.findings.filter((f) => f.severity === "info");
  assertEquals(infos.map((f) => [f.kind, f.detail.offload_pattern]), [["bad_udp_checksum", true], [
    "bad_udp_checksum",
    true,
  ]]);
  assertEquals(r.summary.errors, 2);
});

Deno.test("verify real capture: VNIs come from the whole UPDATE, also when communities follow MP_REACH", async () => {
  const r = await report();
  for (const route of r.routes) {
    assertEquals(route.label_kind, "vni");
    ok([16, 18, 20].includes(route.vni), `route ${route.id} has VNI ${route.vni}`);
  }
  const mac15 = r.routes.filter((x) => x.mac === "02:27:00:00:00:06").map((
    x,
  ) => [x.rd.value, x.vni, x.route_targets]);
  assertEquals(mac15, [["192.168.33.22:0", 16, ["64512:90"]], ["192.168.33.22:2", 18, [
    "64512:90",
  ]]]);
  // Asymmetric VNIs in one domain (RT 64512:90): .21 sends with .22's VNI 18 after pkt 2509.
  const f = r.flows.find((x) => x.vni === 18 && x.dst_mac === "02:27:00:00:00:06")!;
  assertEquals([f.src_vtep, f.first_packet, f.packets], ["192.168.33.21", 2509, 4]);
  ok(!r.findings.some((x) => x.flow === f.id));
});

Deno.test({
  name: "verify real capture: VXLAN flows match tshark frame by frame",
  ignore: !hasTshark,
  fn: async () => {
    const rows = await tshark("vxlan", ["frame.number", "ip.src", "ip.dst", "vxlan.vni"], "f");
    const inner = await tshark("vxlan", ["eth.src", "eth.dst"], "l");
    const flows = new Map<string, { first: number; last: number; n: number }>();
    rows.forEach(([frame, src, dst, vni], i) => {
      const key = [src, dst, Number(vni), ...inner[i]].join(" ");
      const f = flows.get(key) ?? { first: Number(frame), last: 0, n: 0 };
      f.last = Number(frame);
      f.n++;
      flows.set(key, f);
    });
    const r = await report();
    const ours = new Map(r.flows.map((f) => [
      [f.src_vtep, f.dst_vtep, f.vni, f.src_mac, f.dst_mac].join(" "),
      { first: f.first_packet, last: f.last_packet, n: f.packets },
    ]));
    assertEquals(ours, flows);
    assertEquals(r.capture.counters.vxlan_packets, rows.length);
  },
});

Deno.test({
  name: "verify real capture: type-2 MACs/IPs and message counts match tshark",
  ignore: !hasTshark,
  fn: async () => {
    const macs = await tshark(
      "bgp.evpn.nlri.rt == 2",
      ["bgp.evpn.nlri.mac_addr", "bgp.evpn.nlri.ip.addr"],
      "a",
    );
    const theirs = new Set(
      macs.flatMap(([m, i]) => m.split(",").map((mac, k) => `${mac} ${i.split(",")[k]}`)),
    );
    const r = await report();
    const ours = new Set(r.routes.filter((x) => x.type === 2).map((x) => `${x.mac} ${x.ip}`));
    assertEquals(ours, theirs);
    assertBgpMessageCounts(r, await bgpTypesPerFrame(CAPTURE));
  },
});

Deno.test({
  name: "verify real capture: where tshark 4.0 reads the VNI as an MPLS label, we do not",
  ignore: !hasTshark,
  fn: async () => {
    // Frames 135 and 146 are reflected by GoBGP with EXTENDED_COMMUNITIES after MP_REACH.
    const rows = await tshark("frame.number == 135 || frame.number == 146", [
      "bgp.evpn.nlri.mac_addr",
      "bgp.evpn.nlri.mpls_ls1",
      "bgp.evpn.nlri.vni",
    ]);
    assertEquals(rows.map((x) => [x[1], x[2] ?? ""]), [["1", ""], ["1", ""]]);
    const r = await report();
    for (const [m] of rows) {
      assertEquals(r.routes.filter((x) => x.mac === m).map((x) => x.vni)[0], 16);
    }
  },
});
