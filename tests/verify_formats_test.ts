/**
 * verify: the same traffic gives the same result whatever the container (pcap µs/ns, both
 * byte orders, pcapng with several interfaces, simple packet blocks, unknown blocks), link
 * layer (Ethernet, QinQ, Linux SLL/SLL2, raw IP) or chunking; BGP is reassembled across
 * segments, retransmissions and reordering; lost bytes are reported; bad input exits 2.
 */
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { type Frame, LINKTYPE, writePcap, writePcapng } from "./fixtures/verify/capture_writer.ts";
import { decodeBytes } from "./fixtures/verify/decode.ts";
import { FabricCapture, routes } from "./fixtures/verify/fabric.ts";
import {
  bgpKeepalive,
  bgpRouteRefresh,
  cat,
  ether,
  innerPing,
  ipv4,
  u16,
  udp,
  vxlan,
} from "./fixtures/verify/packets.ts";
import type { VerifyReport } from "../wasm/mod.ts";

const A = "192.168.33.21";
const B = "192.168.33.22";
const RR = "192.168.33.30";
const MA = "02:27:00:00:00:05";
const MB = "02:27:00:00:00:06";

function scenario(): FabricCapture {
  const cap = new FabricCapture();
  const a = cap.session(A, RR).establish();
  a.send("client", [routes.imet(A, 16), routes.macIp(A, MA, "10.27.0.5", 16)]);
  a.send("server", [routes.imet(B, 16), routes.macIp(B, MB, "10.27.0.6", 16)]);
  cap.ping(A, B, 16, MA, MB);
  cap.ping(B, A, 16, MB, MA);
  cap.ping(A, B, 16, "02:99:00:00:00:01", MB); // one error finding
  return cap;
}

/** What must not depend on the container or link layer. */
function essence(r: VerifyReport) {
  return {
    packets: r.capture.packets,
    routes: r.routes.map((x) => [x.type_name, x.vtep, x.vni, x.mac ?? null, x.active]),
    flows: r.flows.map((
      f,
    ) => [f.src_vtep, f.dst_vtep, f.vni, f.src_mac, f.dst_mac, f.packets, f.first_packet]),
    findings: r.findings.map((f) => [f.kind, f.severity, f.first_packet, f.count]),
    sessions: r.sessions.map((s) => [s.client.address, s.server.address, s.established]),
  };
}

const stripEthernet = (f: Frame): Uint8Array => f.data.subarray(14);
const sll = (f: Frame) =>
  cat(u16(0), u16(1), u16(6), [0x52, 0x54, 0, 0, 0, 1, 0, 0], u16(0x0800), stripEthernet(f));
const sll2 = (f: Frame) =>
  cat(
    u16(0x0800),
    u16(0),
    [0, 0, 0, 3],
    u16(1),
    [0, 6],
    [0x52, 0x54, 0, 0, 0, 1, 0, 0],
    stripEthernet(f),
  );
const qinq = (f: Frame) =>
  cat(f.data.subarray(0, 12), [0x88, 0xa8, 0, 100, 0x81, 0, 0, 10], f.data.subarray(12));

Deno.test("verify formats: containers, byte orders and link layers agree", async (t) => {
  const cap = scenario();
  const frames = cap.frames;
  const { report: base } = await decodeBytes(cap.pcap());
  assertEquals(base.findings.length, 1);
  assertEquals(base.capture.format, "pcap");
  const map = (fn: (f: Frame) => Uint8Array): Frame[] => frames.map((f) => ({ ...f, data: fn(f) }));
  const variants: [string, Uint8Array, Partial<VerifyReport["capture"]>][] = [
    ["pcap big-endian nanoseconds", cap.pcap({ nanos: true, bigEndian: true }), {
      byte_order: "big",
      timestamp_resolution: "ns",
    }],
    ["pcap Linux SLL", writePcap(map(sll), { linkType: LINKTYPE.SLL }), { link_types: [113] }],
    ["pcap Linux SLL2", writePcap(map(sll2), { linkType: LINKTYPE.SLL2 }), { link_types: [276] }],
    ["pcap raw IP", writePcap(map(stripEthernet), { linkType: LINKTYPE.RAW }), {
      link_types: [101],
    }],
    ["pcap QinQ Ethernet", writePcap(map(qinq)), { link_types: [1] }],
    [
      "pcapng two interfaces, ns resolution, unknown blocks",
      writePcapng(frames.map((f, i) => i % 2 ? { ...f, iface: 1, data: stripEthernet(f) } : f), {
        interfaces: [{ linkType: LINKTYPE.ETHERNET }, { linkType: LINKTYPE.RAW, tsresol: 9 }],
        unknownBlocks: true,
      }),
      { format: "pcapng", link_types: [1, 101], interfaces: 2, skipped_blocks: 2 },
    ],
    ["pcapng big-endian", writePcapng(frames, { bigEndian: true }), { format: "pcapng" }],
  ];
  for (const [name, bytes, capture] of variants) {
    await t.step(name, async () => {
      const { report } = await decodeBytes(bytes);
      assertEquals(essence(report), essence(base));
      for (const [k, v] of Object.entries(capture)) {
        assertEquals({ [k]: (report.capture as Record<string, unknown>)[k] }, { [k]: v });
      }
      assertEquals(report.capture.first_time, base.capture.first_time);
    });
  }
  await t.step("pcapng simple packet blocks (no timestamps)", async () => {
    const { report } = await decodeBytes(writePcapng(frames, { simpleBlocks: true }));
    assertEquals(essence(report), essence(base));
  });
  await t.step("tiny reads and chunks", async () => {
    const { report } = await decodeBytes(cap.pcap(), { step: 7, chunkSize: 33 });
    assertEquals(essence(report), essence(base));
  });
});

Deno.test("verify formats: BGP reassembly across segments, retransmission and reordering", async () => {
  const cap = new FabricCapture();
  const s = cap.session(A, RR).establish();
  const msgs = [
    routes.imet(A, 16),
    routes.macIp(A, MA, "10.27.0.5", 16),
    bgpKeepalive(),
    routes.macIp(A, "02:27:00:00:00:09", null, 16),
  ];
  s.send("client", msgs, { split: [5, 40, 3, 100], retransmitFirst: true });
  // Swap the last two data segments: the later one arrives first.
  const n = cap.frames.length;
  [cap.frames[n - 1], cap.frames[n - 2]] = [cap.frames[n - 2], cap.frames[n - 1]];
  s.send("client", [bgpRouteRefresh()]);
  const { report } = await decodeBytes(cap.pcap());
  assertEquals(report.routes.map((r) => r.mac ?? r.type_name), [
    "inclusive_multicast",
    MA,
    "02:27:00:00:00:09",
  ]);
  const d = report.sessions[0].directions[0];
  assertEquals([d.messages.update, d.messages.keepalive, d.messages.route_refresh, d.gaps], [
    3,
    2,
    1,
    0,
  ]);
  assertEquals(d.retransmitted_bytes, 5);
  assertEquals(report.decode_errors, []);
  ok(report.timeline.some((e) => e.event === "route_refresh" && e.afi === 25 && e.safi === 70));
});

Deno.test("verify formats: lost BGP bytes are a gap; later checks become unverifiable", async () => {
  const cap = new FabricCapture();
  const s = cap.session(A, RR).establish();
  s.send("server", [routes.imet(B, 16)]);
  s.sendAfterLoss("client", 61, [routes.imet(A, 16)]);
  const p = cap.ping(A, B, 16, MA, MB);
  const { report } = await decodeBytes(cap.pcap());
  const gap = report.findings.find((f) => f.kind === "bgp_stream_gap")!;
  assertEquals([gap.severity, gap.detail.missing_bytes], ["warning", 61]);
  assertEquals(report.sessions[0].partial, true);
  assertEquals(report.routes.length, 2, "resynchronised on the next marker");
  const unverifiable = report.findings.filter((f) => f.kind === "unverifiable");
  assertEquals(unverifiable.map((f) => f.first_packet), [p, p]);
  assertEquals(report.summary.errors, 0);
});

Deno.test("verify formats: extra VXLAN ports, nested VXLAN and truncated frames", async () => {
  const cap = scenario();
  cap.vxlan(A, B, 16, innerPing(MA, MB, "10.0.0.1", "10.0.0.2"), { dport: 8472, sport: 4789 });
  const innerVxlan = ether(
    MB,
    MA,
    0x0800,
    ipv4(
      "10.0.0.1",
      "10.0.0.2",
      17,
      udp(
        1234,
        4789,
        vxlan(99, innerPing("02:00:00:00:00:01", "02:00:00:00:00:02", "1.1.1.1", "1.1.1.2")),
      ),
    ),
  );
  cap.vxlan(A, B, 16, innerVxlan);
  const full = cap.frames[cap.frames.length - 1];
  cap.frames.push({
    ...full,
    data: full.data.subarray(0, 14 + 20 + 8 + 8 + 14 + 10),
    origLen: full.data.length,
  });
  const { report: plain } = await decodeBytes(cap.pcap());
  const { report: withPort } = await decodeBytes(cap.pcap(), { vxlanPorts: [8472] });
  assertEquals(withPort.capture.counters.vxlan_packets - plain.capture.counters.vxlan_packets, 1);
  assertEquals(withPort.options.vxlan_ports, [4789, 8472]);
  assertEquals(plain.capture.counters.nested_vxlan, 1);
  const nested = plain.flows.find((f) => f.nested_vni !== null)!;
  // The truncated copy still counts on the flow (its inner Ethernet header was captured).
  assertEquals([nested.nested_vni, nested.counts.nested_vxlan, nested.packets], [99, 1, 3]);
  assertEquals(plain.capture.truncated_packets, 1);
});

Deno.test("verify formats: unreadable and truncated inputs", async (t) => {
  await t.step("not a capture", async () => {
    const { readable, report } = await decodeBytes(
      new TextEncoder().encode("GIF89a, certainly not a pcap"),
    );
    assertEquals(readable, false);
    assertEquals(report.capture.fatal_error?.why, "unknown magic number (not pcap or pcapng)");
  });
  await t.step("empty file", async () => {
    const { readable } = await decodeBytes(new Uint8Array());
    assertEquals(readable, false);
  });
  await t.step("file cut inside a record", async () => {
    const bytes = scenario().pcap();
    const { readable, report } = await decodeBytes(bytes.subarray(0, bytes.length - 30));
    assertEquals(readable, true);
    assertEquals(report.decode_errors.map((e) => e.why), [
      "file ends inside a record (truncated capture)",
    ]);
    assertEquals(report.capture.packets, scenario().frames.length - 1);
  });
});

Deno.test("verify formats: IPv6 underlay (BGP over IPv6, 16-byte next hops, VXLAN over IPv6)", async () => {
  const [a6, b6, rr6] = ["fd00::21", "fd00::22", "fd00::30"];
  const cap = new FabricCapture();
  const s = cap.session(a6, rr6).establish();
  s.send("client", [routes.imet(a6, 16), routes.macIp(a6, MA, "fd27::5", 16)]);
  s.send("server", [routes.imet(b6, 16), routes.macIp(b6, MB, "fd27::6", 16)]);
  cap.ping(a6, b6, 16, MA, MB);
  cap.ping(b6, a6, 16, MB, MA);
  cap.ping(a6, b6, 16, MA, "02:27:00:00:00:99");
  const { report } = await decodeBytes(cap.pcap());
  assertEquals(report.sessions.map((x) => [x.client.address, x.server.address, x.established]), [[
    a6,
    rr6,
    true,
  ]]);
  assertEquals(report.routes.map((r) => [r.vtep, r.ip ?? null]), [[a6, null], [a6, "fd27::5"], [
    b6,
    null,
  ], [b6, "fd27::6"]]);
  assertEquals(report.flows.map((f) => [f.src_vtep, f.dst_vtep, f.packets]), [[a6, b6, 1], [
    b6,
    a6,
    1,
  ], [a6, b6, 1]]);
  // Zero UDP checksums are fine for VXLAN over IPv6 (RFC 6935): only the unknown MAC is found.
  assertEquals(report.findings.map((f) => [f.kind, f.dst_mac]), [[
    "unknown_unicast_flooded",
    "02:27:00:00:00:99",
  ]]);
});

Deno.test("verify formats: BGP segments cut by the snap length become gaps at once", async () => {
  const cap = new FabricCapture();
  const s = cap.session(A, RR).establish();
  s.send("client", [routes.imet(A, 16)]);
  const full = cap.frames[cap.frames.length - 1];
  // Keep Ethernet + IPv4 + TCP headers and 10 payload bytes of that UPDATE.
  cap.frames[cap.frames.length - 1] = {
    ...full,
    data: full.data.subarray(0, 14 + 20 + 20 + 10),
    origLen: full.data.length,
  };
  s.send("client", [routes.macIp(A, MA, null, 16)]);
  const { report } = await decodeBytes(cap.pcap());
  const gap = report.findings.find((f) => f.kind === "bgp_stream_gap")!;
  assertEquals(gap.first_packet, cap.frames.length - 1);
  assertEquals(
    report.routes.map((r) => r.mac ?? r.type_name),
    [MA],
    "the next UPDATE is decoded right away",
  );
  assertEquals(report.capture.truncated_packets, 1);
});

Deno.test("verify formats: the fabric seen inside GRE and Geneve tunnels gives the same result", async (t) => {
  const cap = scenario();
  const { report: base } = await decodeBytes(cap.pcap());
  const outer = (payload: Uint8Array, proto: number) =>
    ipv4("172.16.0.1", "172.16.0.2", proto, payload);
  const variants: [string, (ip: Uint8Array) => Uint8Array, "gre" | "geneve"][] = [
    [
      "GRE with key and sequence number",
      (ip) => outer(cat([0x30, 0, 0x08, 0], [0, 0, 0, 7], [0, 0, 0, 1], ip), 47),
      "gre",
    ],
    [
      "GRE with transparent Ethernet",
      (ip) => outer(cat([0, 0, 0x65, 0x58], ether(MB, MA, 0x0800, ip)), 47),
      "gre",
    ],
    [
      "Geneve with an option",
      (ip) =>
        outer(
          udp(
            5000,
            6081,
            cat([0x01, 0, 0x65, 0x58, 0, 0, 9, 0], [0, 1, 0, 0], ether(MB, MA, 0x0800, ip)),
          ),
          17,
        ),
      "geneve",
    ],
  ];
  for (const [name, wrap, counter] of variants) {
    await t.step(name, async () => {
      const frames = cap.frames.map((f) => ({
        ...f,
        data: ether(MB, MA, 0x0800, wrap(f.data.subarray(14))),
      }));
      const { report } = await decodeBytes(writePcap(frames));
      assertEquals(essence(report), essence(base));
      assertEquals(report.capture.counters[counter], frames.length);
    });
  }
});
