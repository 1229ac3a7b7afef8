/**
 * verify: the direct path for plain VXLAN-over-IPv4 frames gives exactly the report of the
 * general decoder, on the real capture and on synthetic ones that also hit every exit of it.
 */
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { decodeBytes } from "./fixtures/verify/decode.ts";
import { FabricCapture, routes } from "./fixtures/verify/fabric.ts";
import { LINKTYPE, writePcap } from "./fixtures/verify/capture_writer.ts";
import { cat, ether, innerArp, innerPing, ipv4, udp, vxlan } from "./fixtures/verify/packets.ts";

const CAPTURE = new URL("./fixtures/verify/bagpipe-evpn-fabric.pcap", import.meta.url).pathname;
const [A, B, RR] = ["192.168.33.21", "192.168.33.22", "192.168.33.30"];
const [MA, MB] = ["02:27:00:00:00:05", "02:27:00:00:00:06"];

async function same(bytes: Uint8Array, opts: { vxlanPorts?: number[]; underlayMtu?: number } = {}) {
  const fast = await decodeBytes(bytes, opts);
  const slow = await decodeBytes(bytes, { ...opts, fastPath: false });
  // Compared as text: a deep-equal diff of two large reports is too costly to print.
  const [a, b] = [JSON.stringify(fast.report), JSON.stringify(slow.report)];
  if (a !== b) {
    const at = [...a].findIndex((c, i) => c !== b[i]);
    throw new Error(
      `reports differ at character ${at}: ${a.slice(at - 80, at + 80)} vs ${
        b.slice(at - 80, at + 80)
      }`,
    );
  }
  return fast.report;
}

Deno.test("verify fast path: same report as the general decoder on the real capture", async () => {
  const report = await same(await Deno.readFile(CAPTURE));
  ok(report.capture.counters.vxlan_packets > 2000);
});

Deno.test("verify fast path: same report on frames that leave it at every check", async () => {
  const cap = new FabricCapture();
  const s = cap.session(A, RR).establish();
  s.send("client", [routes.imet(A, 16), routes.macIp(A, MA, "10.27.0.5", 16)]);
  s.send("server", [routes.imet(B, 16), routes.macIp(B, MB, "10.27.0.6", 16)]);
  cap.ping(A, B, 16, MA, MB); // plain
  cap.ping(A, B, 16, MA, MB, 1460); // over the MTU
  cap.vxlan(A, B, 16, innerArp(MA, "10.27.0.5", "10.27.0.6")); // ARP inner
  cap.vxlan(A, B, 16, innerPing(MA, MB, "10.0.0.1", "10.0.0.2"), { checksum: "good" });
  cap.vxlan(A, B, 16, innerPing(MA, MB, "10.0.0.1", "10.0.0.2"), { checksum: "bad" });
  cap.vxlan(A, B, 16, innerPing(MA, MB, "10.0.0.1", "10.0.0.2"), { flags: 0x0c });
  cap.vxlan(A, B, 16, innerPing(MA, MB, "10.0.0.1", "10.0.0.2"), { dport: 8472 });
  cap.vxlan(
    A,
    B,
    16,
    ether(
      MB,
      MA,
      0x0800,
      ipv4("1.1.1.1", "1.1.1.2", 17, udp(1, 4789, vxlan(7, innerArp(MA, "1.1.1.1", "1.1.1.2")))),
    ),
  );
  cap.vxlan(
    A,
    B,
    16,
    cat(
      innerPing(MA, MB, "10.0.0.1", "10.0.0.2").subarray(0, 12),
      [0x81, 0, 0, 5],
      innerPing(MA, MB, "10.0.0.1", "10.0.0.2").subarray(12),
    ),
  );
  cap.ip(
    ipv4(A, B, 17, udp(49152, 4789, vxlan(16, innerPing(MA, MB, "10.0.0.1", "10.0.0.2"))), {
      fragOffset: 0,
      flags: 1,
    }),
  ); // MF set
  const full = cap.frames[cap.frames.length - 1];
  cap.frames.push({
    ...full,
    data: full.data.subarray(0, full.data.length - 20),
    origLen: full.data.length,
  });
  const sll2 = writePcap(
    cap.frames.map((f) => ({
      ...f,
      data: cat([8, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0], f.data.subarray(14)),
    })),
    { linkType: LINKTYPE.SLL2 },
  );
  for (const bytes of [cap.pcap(), sll2]) {
    const report = await same(bytes, { vxlanPorts: [8472] });
    assertEquals(report.capture.counters.vxlan_packets, 11);
  }
});
