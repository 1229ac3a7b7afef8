/**
 * verify: synthetic captures with known inconsistencies must produce exactly the expected
 * findings (kind, severity, VNI, MACs, VTEPs, packet numbers, counts), and consistent
 * captures none.
 */
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { decodeBytes } from "./fixtures/verify/decode.ts";
import { FabricCapture, routes } from "./fixtures/verify/fabric.ts";
import { bgpKeepalive, bgpNotification, innerArp } from "./fixtures/verify/packets.ts";
import type { VerifyReport } from "../wasm/mod.ts";
import { describeFinding } from "../lib/verify/describe.ts";

const A = "192.168.33.21";
const B = "192.168.33.22";
const C = "192.168.33.23";
const D = "192.168.33.24";
const RR = "192.168.33.30";
const MA = "02:27:00:00:00:05";
const MB = "02:27:00:00:00:06";

/** Two VTEPs peering with a reflector, each advertising one pod and an IMET for VNI 16. */
function fabric(): {
  cap: FabricCapture;
  a: ReturnType<FabricCapture["session"]>;
  b: ReturnType<FabricCapture["session"]>;
} {
  const cap = new FabricCapture();
  const a = cap.session(A, RR).establish();
  const b = cap.session(B, RR).establish();
  a.send("client", [routes.imet(A, 16), routes.macIp(A, MA, "10.27.0.5", 16)]);
  b.send("client", [routes.imet(B, 16), routes.macIp(B, MB, "10.27.0.6", 16)]);
  // The reflector passes each VTEP's routes to the other.
  a.send("server", [routes.imet(B, 16), routes.macIp(B, MB, "10.27.0.6", 16)]);
  b.send("server", [routes.imet(A, 16), routes.macIp(A, MA, "10.27.0.5", 16)]);
  return { cap, a, b };
}

function kinds(r: VerifyReport): string[] {
  return r.findings.map((f) => `${f.severity}:${f.kind}`).sort();
}

Deno.test("verify: a consistent fabric has no findings and is consistent", async () => {
  const { cap } = fabric();
  cap.ping(A, B, 16, MA, MB);
  cap.ping(B, A, 16, MB, MA);
  cap.vxlan(A, B, 16, innerArp(MA, "10.27.0.5", "10.27.0.6"));
  const { report, readable } = await decodeBytes(cap.pcap());
  assertEquals(readable, true);
  assertEquals(report.findings, []);
  assertEquals(report.summary.consistent, true);
  assertEquals(report.summary.routes_active, 4);
  assertEquals(report.flows.length, 3);
  assertEquals(report.sessions.map((s) => s.established), [true, true]);
});

Deno.test("verify: traffic to a MAC after its withdrawal is dst_mac_withdrawn", async () => {
  const { cap, a, b } = fabric();
  cap.ping(A, B, 16, MA, MB);
  b.send("client", [routes.macIpWithdraw(B, MB, "10.27.0.6")]);
  a.send("server", [routes.macIpWithdraw(B, MB, "10.27.0.6")]);
  const first = cap.ping(A, B, 16, MA, MB);
  const last = cap.ping(A, B, 16, MA, MB);
  const { report } = await decodeBytes(cap.pcap());
  assertEquals(kinds(report), ["error:dst_mac_withdrawn"]);
  const f = report.findings[0];
  assertEquals([f.vni, f.src_vtep, f.dst_vtep, f.src_mac, f.dst_mac], [16, A, B, MA, MB]);
  assertEquals([f.first_packet, f.last_packet, f.count], [first, last, 2]);
  assertEquals([f.src_ip, f.dst_ip], ["10.0.0.1", "10.0.0.2"], "inner IPs of the flow");
  assertEquals(report.flows[f.flow!].packets, 3);
  const events = report.timeline.filter((e) => e.event === "withdraw").map((e) => e.route);
  assertEquals(events.length, 1, "withdrawn once the last session holding it withdrew");
});

Deno.test("verify: BUM to a VTEP without IMET for the VNI is bum_without_imet", async () => {
  const { cap, a, b } = fabric();
  b.send("client", [routes.imetWithdraw(B)]);
  a.send("server", [routes.imetWithdraw(B)]);
  const p = cap.vxlan(A, B, 16, innerArp(MA, "10.27.0.5", "10.27.0.6"));
  const { report } = await decodeBytes(cap.pcap());
  assertEquals(kinds(report), ["error:bum_without_imet"]);
  assertEquals(report.findings[0].first_packet, p);
  assertEquals(report.findings[0].detail.imet_seen_before, true);
});

Deno.test("verify: unicast with the wrong VNI, to the wrong VTEP, and from an unknown MAC", async () => {
  const { cap } = fabric();
  cap.ping(A, B, 17, MA, MB); // B advertised MB with VNI 16
  cap.ping(A, C, 16, MA, MB); // MB lives on B
  cap.ping(A, B, 16, "02:99:00:00:00:01", MB); // source never advertised
  const { report } = await decodeBytes(cap.pcap());
  // In capture order: a copy to another VTEP is decided once its replication window passed.
  const got = [...report.findings].sort((a, b) => a.first_packet - b.first_packet).map((
    f,
  ) => [f.kind, f.severity, f.dst_vtep, f.vni, f.other_vtep, f.detail.advertised_vni ?? null]);
  assertEquals(got, [
    ["dst_vni_mismatch", "error", B, 17, null, 16],
    ["src_mac_other_domain", "error", B, 17, null, null],
    ["dst_mac_at_other_vtep", "error", C, 16, B, 16],
    ["src_mac_not_advertised", "error", B, 16, null, null],
  ]);
  const packets = report.timeline.map((e) => e.packet);
  assertEquals(packets, [...packets].sort((a, b) => a - b), "the timeline stays in capture order");
});

/** A new host behind B (a data-plane-learning VTEP) pings A's pod `adLateMs` after its
 * first frame B advertises its MAC (null: never); the capture. */
function newHostCapture(adLateMs: number | null): Uint8Array {
  const { cap, a, b } = fabric();
  const MN = "02:27:00:00:00:40";
  cap.ping(B, A, 16, MN, MA);
  if (adLateMs !== null) {
    cap.tick(adLateMs);
    b.send("client", [routes.macIp(B, MN, "10.27.0.40", 16)]);
    a.send("server", [routes.macIp(B, MN, "10.27.0.40", 16)]);
  }
  cap.tick(3000).ping(B, A, 16, MN, MA);
  return cap.pcap();
}

/** newHostCapture's report. */
async function newHostAdvertised(adLateMs: number | null): Promise<VerifyReport> {
  return (await decodeBytes(newHostCapture(adLateMs))).report;
}

Deno.test("verify: a new host's MAC advertised 100 ms after its first frame is a warning", async () => {
  const report = await newHostAdvertised(100);
  assertEquals(kinds(report), ["warning:src_mac_advertised_late"]);
  assertEquals(report.summary.consistent, true);
  const f = report.findings[0];
  assertEquals([f.src_vtep, f.dst_vtep, f.src_mac, f.count, f.detail], [
    B,
    A,
    "02:27:00:00:00:40",
    1,
    {
      delay_ms: 100,
    },
  ]);
  assertEquals(describeFinding(f).includes("100 ms"), true, describeFinding(f));
});

Deno.test("verify: findings handed out while decoding (--live) wait until a late source is known", async () => {
  for (const [adLateMs, expected] of [[100, "warning"], [null, "error"]] as const) {
    const seen: string[] = [];
    // A few hundred bytes per read: the first frame's chunk is decoded before the route's.
    await decodeBytes(newHostCapture(adLateMs), {
      step: 200,
      chunkSize: 200,
      onFindings: (fresh) => seen.push(...fresh.map((f) => `${f.severity}:${f.kind}`)),
    });
    const kind = expected === "warning" ? "src_mac_advertised_late" : "src_mac_not_advertised";
    assertEquals(seen, [`${expected}:${kind}`], `advertised ${adLateMs} ms late`);
  }
});

Deno.test("verify: a source MAC never advertised, or after the 2 s window, stays an error", async () => {
  assertEquals(kinds(await newHostAdvertised(null)), ["error:src_mac_not_advertised"]);
  assertEquals(kinds(await newHostAdvertised(2500)), ["error:src_mac_not_advertised"]);
});

/** The fabric plus VTEPs C and D with IMET routes: a flood list of three remotes for A. */
function fourVteps(): FabricCapture {
  const { cap } = fabric();
  cap.session(C, RR).establish().send("client", [routes.imet(C, 16)]);
  cap.session(D, RR).establish().send("client", [routes.imet(D, 16)]);
  return cap;
}

Deno.test("verify: one frame flooded to three VTEPs (head-end replication) is one warning", async () => {
  const cap = fourVteps();
  // A has no fdb entry for MB (on B): each ping goes to every VTEP of its flood list,
  // copies 10 µs apart; three pings a second apart.
  const first = cap.tick(1000).ping(A, C, 16, MA, MB);
  cap.ping(A, B, 16, MA, MB);
  cap.ping(A, D, 16, MA, MB);
  cap.tick(1000).ping(A, C, 16, MA, MB);
  cap.ping(A, B, 16, MA, MB);
  const last = cap.ping(A, D, 16, MA, MB);
  cap.tick(1000).ping(A, B, 16, MA, MB); // the fdb entry is in: only to B
  const { report } = await decodeBytes(cap.pcap());
  assertEquals(kinds(report), ["warning:dst_mac_flooded"]);
  assertEquals(report.summary.consistent, true);
  const f = report.findings[0];
  assertEquals([f.vni, f.src_vtep, f.dst_vtep, f.src_mac, f.dst_mac, f.other_vtep, f.flow], [
    16,
    A,
    null,
    MA,
    MB,
    B,
    null,
  ]);
  assertEquals([f.first_packet, f.last_packet, f.count], [first, last, 2]);
  assertEquals([f.src_ip, f.dst_ip], ["10.0.0.1", "10.0.0.2"]);
  assertEquals(f.detail, {
    advertised_vni: 16,
    advertised_vtep_reached: true,
    vteps: `${C}, ${D}, ${B}`,
    vteps_reached: 3,
    copies: 6,
  });
  const text = describeFinding(f);
  assertEquals(text.includes("including the advertised one"), true, text);
  assertEquals(text.includes("no fdb entry"), true, text);
});

Deno.test("verify: a flood that did not reach the advertising VTEP is a warning saying so", async () => {
  const cap = fourVteps();
  cap.tick(1000).ping(A, C, 16, MA, MB);
  cap.ping(A, D, 16, MA, MB);
  const { report } = await decodeBytes(cap.pcap());
  assertEquals(kinds(report), ["warning:dst_mac_flooded"]);
  const f = report.findings[0];
  assertEquals([f.detail.advertised_vtep_reached, f.detail.vteps, f.count], [
    false,
    `${C}, ${D}`,
    1,
  ]);
  assertEquals(describeFinding(f).includes(`no copy seen to ${B}: lost`), true);
});

Deno.test("verify: a lone copy, or copies too far apart, to other VTEPs are dst_mac_at_other_vtep", async () => {
  const cap = fourVteps();
  const lone = cap.tick(1000).ping(A, C, 16, MA, MB);
  const late1 = cap.tick(1000).ping(A, C, 16, MA, MB);
  const late2 = cap.tick(5).ping(A, D, 16, MA, MB); // 5 ms later: not one replication
  const { report } = await decodeBytes(cap.pcap());
  assertEquals(kinds(report), ["error:dst_mac_at_other_vtep", "error:dst_mac_at_other_vtep"]);
  assertEquals(report.summary.consistent, false);
  assertEquals(
    report.findings.map((f) => [f.dst_vtep, f.other_vtep, f.first_packet, f.last_packet, f.count]),
    [[C, B, lone, late1, 2], [D, B, late2, late2, 1]],
  );
});

Deno.test("verify: MAC on two VTEPs needs a higher mobility sequence number", async () => {
  const { cap, a } = fabric();
  // MA shows up on C without a sequence number while A still advertises it: duplicate.
  const c = cap.session(C, RR).establish();
  const dup = c.send("client", [routes.macIp(C, MA, "10.27.0.5", 16)])[0];
  // Later it moves properly to C with sequence 1 (another RD, same domain).
  c.send("client", [routes.macIp(C, MA, "10.27.0.5", 16, { seq: 1, rdNn: 7 })]);
  a.send("client", [routes.macIpWithdraw(A, MA, "10.27.0.5")]);
  const { report } = await decodeBytes(cap.pcap());
  assertEquals(kinds(report), ["error:duplicate_mac"]);
  const f = report.findings[0];
  assertEquals([f.src_vtep, f.dst_vtep, f.src_mac, f.first_packet], [A, C, MA, dup]);
  assertEquals([f.detail.previous_sequence, f.detail.new_sequence], [0, 0]);
  assertEquals([f.src_ip, f.dst_ip], ["10.27.0.5", null]);
  // The sequence-1 route moves MA away from A; C's own earlier route is not a move.
  assertEquals(report.timeline.filter((e) => e.event === "mac_move").length, 1);
});

Deno.test("verify: oversize outer packets and missing VXLAN I flag", async () => {
  const { cap } = fabric();
  const big = cap.ping(A, B, 16, MA, MB, 1460);
  const noI = cap.vxlan(A, B, 16, innerArp(MA, "10.27.0.5", "10.27.0.6"), { flags: 0x00 });
  const { report } = await decodeBytes(cap.pcap(), { underlayMtu: 1500 });
  assertEquals(kinds(report), ["error:oversize_frame", "error:vxlan_flag_missing"]);
  const o = report.findings.find((f) => f.kind === "oversize_frame")!;
  assertEquals([o.first_packet, o.detail.max_outer_length, o.detail.underlay_mtu], [
    big,
    1538,
    1500,
  ]);
  assertEquals(report.findings.find((f) => f.kind === "vxlan_flag_missing")!.first_packet, noI);
  const { report: jumbo } = await decodeBytes(cap.pcap(), { underlayMtu: 9000 });
  assertEquals(kinds(jumbo), ["error:vxlan_flag_missing"]);
});

Deno.test("verify: traffic before any BGP was captured is unverifiable, not an error", async () => {
  const cap = new FabricCapture();
  cap.ping(A, B, 16, MA, MB);
  const { report } = await decodeBytes(cap.pcap());
  assertEquals(kinds(report), ["info:unverifiable"]);
  assertEquals(report.findings[0].detail.reason, "no BGP session captured yet");
  assertEquals(report.summary.consistent, true);
});

Deno.test("verify: a capture starting mid-session makes failures unverifiable until it closes", async () => {
  const cap = new FabricCapture();
  const s = cap.session(A, RR); // no handshake, no OPEN: joined mid-session
  s.send("client", [bgpKeepalive()]);
  const p = cap.ping(A, B, 16, MA, MB);
  s.close();
  const after = cap.ping(A, B, 16, MA, MB);
  const { report } = await decodeBytes(cap.pcap());
  assertEquals(report.sessions[0].partial, true);
  const u = report.findings.filter((f) => f.kind === "unverifiable");
  assertEquals(u.map((f) => [f.first_packet, f.detail.would_be]), [[p, "dst_mac_not_advertised"], [
    p,
    "src_mac_not_advertised",
  ]]);
  // After the partial session closed, nothing is held from before: now real errors.
  const errs = report.findings.filter((f) => f.severity === "error").map((
    f,
  ) => [f.kind, f.first_packet]);
  assertEquals(errs, [["dst_mac_not_advertised", after], ["src_mac_not_advertised", after]]);
});

Deno.test("verify: a session closing withdraws its routes implicitly; NOTIFICATION is reported", async () => {
  const { cap, a, b } = fabric();
  b.send("client", [bgpNotification(6, 2)]);
  // B's routes are still held by the reflector's session towards A: still consistent.
  cap.ping(A, B, 16, MA, MB);
  a.close();
  // Now no session holds any route: all four were withdrawn implicitly.
  const p = cap.ping(A, B, 16, MA, MB);
  const { report } = await decodeBytes(cap.pcap());
  assertEquals(report.sessions.map((s) => s.closed?.reason), ["fin", "notification"]);
  assertEquals(
    report.notifications.map((n) => [n.code, n.subcode, n.code_name, n.subcode_name]),
    [[6, 2, "Cease", "Administrative Shutdown"]],
  );
  assertEquals(report.timeline.filter((e) => e.event === "implicit_withdraw").length, 4);
  assertEquals(kinds(report), [
    "error:dst_mac_withdrawn",
    "error:src_mac_withdrawn",
    "warning:bgp_notification",
  ]);
  assertEquals(report.findings.filter((f) => f.severity === "error").map((f) => f.first_packet), [
    p,
    p,
  ]);
});
