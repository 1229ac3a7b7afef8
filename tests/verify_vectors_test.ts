/**
 * verify: byte vectors for every EVPN route type, ESI type, RD type and extended community,
 * decoded through the WebAssembly module, plus negative vectors with one field broken: the
 * broken item becomes a reported decode error and decoding goes on.
 */
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { decodeBytes } from "./fixtures/verify/decode.ts";
import { FabricCapture } from "./fixtures/verify/fabric.ts";
import {
  attr,
  bgpEvpnUpdate,
  bgpMessage,
  cat,
  esi,
  evpn,
  ext,
  pmsiIngressReplication,
  rd,
  u16,
} from "./fixtures/verify/packets.ts";
import type { VerifyReport } from "../wasm/mod.ts";

const VTEP = "192.168.33.21";

/** An UPDATE whose path attribute bytes are exactly `attrs`. */
function updateWith(attrs: Uint8Array): Uint8Array {
  return bgpMessage(2, cat([0, 0], u16(attrs.length), attrs));
}

/** One established session whose client sends `updates`; returns the report. */
async function decodeUpdates(...updates: Uint8Array[]): Promise<VerifyReport> {
  const cap = new FabricCapture();
  const s = cap.session(VTEP, "192.168.33.30").establish();
  for (const u of updates) s.send("client", [u]);
  const { report } = await decodeBytes(cap.pcap());
  return report;
}

const ALL_COMMUNITIES = [
  ext.encap(8),
  ext.rtAs2(64512, 90),
  ext.rtIp("10.0.0.1", 7),
  ext.rtAs4(4200000000, 5),
  ext.macMobility(3, true),
  ext.esiLabel(100, true),
  ext.esImport("02:00:00:00:00:09"),
  ext.routersMac("02:00:00:00:00:0a"),
  ext.defaultGateway(),
];

Deno.test("verify vectors: every route type decodes with its fields", async (t) => {
  const cases = [
    {
      name: "type 1 Ethernet A-D",
      nlri: evpn.ethernetAd(
        rd.as2(64512, 1),
        esi.lacp("02:00:00:00:00:01", 0x1234),
        0xffffffff,
        100,
      ),
      want: {
        type_name: "ethernet_ad",
        ethernet_tag: 0xffffffff,
        label1: 100,
        esi: {
          type: 1,
          kind: "lacp",
          value: "01:02:00:00:00:00:01:12:34:00",
          system_mac: "02:00:00:00:00:01",
          port_key: 0x1234,
        },
      },
    },
    {
      name: "type 2 MAC/IP IPv4, one label",
      nlri: evpn.macIp(rd.ip(VTEP, 0), "02:27:00:00:00:05", "10.27.0.5", 16),
      want: {
        type_name: "mac_ip",
        mac: "02:27:00:00:00:05",
        ip: "10.27.0.5",
        label1: 16,
        label2: null,
        vni: 16,
      },
    },
    {
      name: "type 2 MAC only, two labels",
      nlri: evpn.macIp(rd.ip(VTEP, 0), "02:27:00:00:00:07", null, 16, { label2: 5000 }),
      want: { type_name: "mac_ip", ip: null, label1: 16, label2: 5000 },
    },
    {
      name: "type 2 MAC/IP IPv6",
      nlri: evpn.macIp(rd.ip(VTEP, 0), "02:27:00:00:00:08", "fd00::8", 16),
      want: { type_name: "mac_ip", ip: "fd00::8" },
    },
    {
      name: "type 3 inclusive multicast IPv6 originator",
      nlri: evpn.imet(rd.as4(4200000000, 3), "2001:db8::21", 16),
      want: {
        type_name: "inclusive_multicast",
        originator: "2001:db8::21",
        ethernet_tag: 16,
        rd: { type: 2, value: "4200000000:3" },
      },
    },
    {
      name: "type 4 Ethernet segment",
      nlri: evpn.ethernetSegment(rd.ip(VTEP, 9), esi.routerId("10.0.0.1", 77), VTEP),
      want: {
        type_name: "ethernet_segment",
        originator: VTEP,
        esi: {
          type: 4,
          kind: "router-id",
          value: "04:0a:00:00:01:00:00:00:4d:00",
          router_id: "10.0.0.1",
          discriminator: 77,
        },
      },
    },
    {
      name: "type 5 IP prefix IPv4",
      nlri: evpn.ipPrefix(rd.ip(VTEP, 5), "10.27.0.0", 16, "10.27.0.1", 20, esi.as(64512, 4)),
      want: {
        type_name: "ip_prefix",
        prefix: "10.27.0.0/16",
        gateway: "10.27.0.1",
        label1: 20,
        esi: {
          type: 5,
          kind: "as",
          value: "05:00:00:fc:00:00:00:00:04:00",
          as: 64512,
          discriminator: 4,
        },
      },
    },
    {
      name: "type 5 IP prefix IPv6",
      nlri: evpn.ipPrefix(rd.ip(VTEP, 6), "fd00::", 64, "fd00::1", 21),
      want: { type_name: "ip_prefix", prefix: "fd00::/64", gateway: "fd00::1", label1: 21 },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const report = await decodeUpdates(
        bgpEvpnUpdate({ nextHop: VTEP, reach: [c.nlri], communities: [ext.encap(8)] }),
      );
      assertEquals(report.decode_errors, []);
      assertEquals(report.routes.length, 1);
      const r = report.routes[0] as Record<string, unknown>;
      for (const [k, v] of Object.entries(c.want)) assertEquals({ [k]: r[k] }, { [k]: v });
    });
  }
});

Deno.test("verify vectors: every ESI type", async (t) => {
  const cases: [string, number[], Record<string, unknown>][] = [
    ["single-homed", esi.zero(), { type: 0, kind: "single-homed" }],
    ["arbitrary", esi.arbitrary(), { type: 0, kind: "arbitrary" }],
    ["lacp", esi.lacp("02:00:00:00:00:01", 7), {
      type: 1,
      kind: "lacp",
      system_mac: "02:00:00:00:00:01",
      port_key: 7,
    }],
    ["mstp", esi.mstp("02:00:00:00:00:02", 0x8000), {
      type: 2,
      kind: "mstp",
      root_bridge_mac: "02:00:00:00:00:02",
      priority: 0x8000,
    }],
    ["mac-based", esi.macBased("02:00:00:00:00:03", 0x0a0b0c), {
      type: 3,
      kind: "mac-based",
      system_mac: "02:00:00:00:00:03",
      discriminator: 0x0a0b0c,
    }],
    ["router-id", esi.routerId("10.1.2.3", 9), {
      type: 4,
      kind: "router-id",
      router_id: "10.1.2.3",
      discriminator: 9,
    }],
    ["as", esi.as(65000, 11), { type: 5, kind: "as", as: 65000, discriminator: 11 }],
    ["unknown type", [9, 0, 0, 0, 0, 0, 0, 0, 0, 1], { type: 9, kind: "unknown" }],
  ];
  for (const [name, e, want] of cases) {
    await t.step(name, async () => {
      const report = await decodeUpdates(
        bgpEvpnUpdate({ nextHop: VTEP, reach: [evpn.ethernetAd(rd.as2(1, 1), e, 0, 0)] }),
      );
      const got = report.routes[0].esi as Record<string, unknown>;
      for (const [k, v] of Object.entries(want)) assertEquals({ [k]: got[k] }, { [k]: v });
    });
  }
});

Deno.test("verify vectors: every RD type", async (t) => {
  const cases: [string, number[], { type: number; value: string }][] = [
    ["type 0 ASN2:NN4", rd.as2(64512, 4000000000), { type: 0, value: "64512:4000000000" }],
    ["type 1 IPv4:NN2", rd.ip("192.168.33.21", 2), { type: 1, value: "192.168.33.21:2" }],
    ["type 2 ASN4:NN2", rd.as4(4200000000, 65535), { type: 2, value: "4200000000:65535" }],
    ["unknown type", [0, 9, 1, 2, 3, 4, 5, 6], { type: 9, value: "0009010203040506" }],
  ];
  for (const [name, r, want] of cases) {
    await t.step(name, async () => {
      const report = await decodeUpdates(
        bgpEvpnUpdate({ nextHop: VTEP, reach: [evpn.imet(r, VTEP)] }),
      );
      assertEquals(report.routes[0].rd, want);
    });
  }
});

Deno.test("verify vectors: every extended community kind, after MP_REACH like FRR/GoBGP", async () => {
  const report = await decodeUpdates(
    bgpEvpnUpdate({
      nextHop: VTEP,
      reach: [evpn.macIp(rd.ip(VTEP, 0), "02:27:00:00:00:05", "10.27.0.5", 16)],
      communities: ALL_COMMUNITIES,
    }),
  );
  const r = report.routes[0];
  assertEquals(r.route_targets, ["64512:90", "10.0.0.1:7", "4200000000:5"]);
  assertEquals(r.encapsulation, { tunnel_type: 8, name: "vxlan" });
  assertEquals(r.mac_mobility, { sequence: 3, sticky: true });
  assertEquals(r.esi_label, { single_active: true, label: 100 });
  assertEquals([r.es_import, r.routers_mac, r.default_gateway], [
    "02:00:00:00:00:09",
    "02:00:00:00:00:0a",
    true,
  ]);
  // VXLAN encapsulation anywhere in the UPDATE makes the label the VNI (RFC 8365).
  assertEquals([r.label_kind, r.vni], ["vni", 16]);
});

Deno.test("verify vectors: without VXLAN encapsulation the label is an MPLS label", async () => {
  const report = await decodeUpdates(
    bgpEvpnUpdate({
      nextHop: VTEP,
      reach: [evpn.macIp(rd.ip(VTEP, 0), "02:27:00:00:00:05", null, 0x000641)],
      communities: [ext.rtAs2(1, 1)],
    }),
  );
  assertEquals([report.routes[0].label_kind, report.routes[0].vni], ["mpls", 0x64]);
});

Deno.test("verify vectors: PMSI tunnel of an IMET route gives its VNI and endpoint", async () => {
  const report = await decodeUpdates(
    bgpEvpnUpdate({
      nextHop: VTEP,
      reach: [evpn.imet(rd.ip(VTEP, 0), VTEP)],
      pmsi: pmsiIngressReplication(16, "192.168.33.99"),
      communities: [ext.encap(8)],
    }),
  );
  const r = report.routes[0];
  assertEquals(r.pmsi_tunnel, { flags: 0, tunnel_type: 6, label: 16, endpoint: "192.168.33.99" });
  assertEquals([r.vtep, r.next_hop, r.vni], ["192.168.33.99", VTEP, 16]);
  assertEquals(report.segments.map((s) => [s.vtep, s.vni, s.imet_active]), [[
    "192.168.33.99",
    16,
    true,
  ]]);
});

Deno.test("verify vectors: unknown route types are skipped by length and counted", async () => {
  const report = await decodeUpdates(
    bgpEvpnUpdate({
      nextHop: VTEP,
      reach: [evpn.raw(7, [1, 2, 3, 4]), evpn.imet(rd.ip(VTEP, 0), VTEP), evpn.raw(11, [])],
    }),
  );
  assertEquals(report.summary.unknown_route_types, [{ type: 7, count: 1 }, { type: 11, count: 1 }]);
  assertEquals(report.routes.length, 1);
});

Deno.test("verify vectors: one broken field is reported and decoding goes on", async (t) => {
  const good = evpn.imet(rd.ip(VTEP, 1), VTEP);
  const mac = evpn.macIp(rd.ip(VTEP, 0), "02:27:00:00:00:05", "10.27.0.5", 16);
  const set = (bytes: number[], i: number, v: number) => bytes.map((b, j) => j === i ? v : b);
  const cases: [string, Uint8Array, string, number][] = [
    [
      "MAC length 40",
      bgpEvpnUpdate({ nextHop: VTEP, reach: [set(mac, 2 + 22, 40), good] }),
      "MAC address length is not 48 bits",
      1,
    ],
    [
      "IP length 24",
      bgpEvpnUpdate({ nextHop: VTEP, reach: [set(mac, 2 + 29, 24), good] }),
      "IP address length is not 0, 32 or 128 bits",
      1,
    ],
    [
      "IMET originator length 16",
      bgpEvpnUpdate({
        nextHop: VTEP,
        reach: [set(evpn.imet(rd.ip(VTEP, 0), VTEP), 2 + 12, 16), good],
      }),
      "originator IP length is not 32 or 128 bits",
      1,
    ],
    [
      "type 5 length 33",
      bgpEvpnUpdate({ nextHop: VTEP, reach: [evpn.raw(5, Array(33).fill(0)), good] }),
      "length is neither 34 (IPv4) nor 58 (IPv6)",
      1,
    ],
    [
      "type 5 prefix length 33",
      bgpEvpnUpdate({
        nextHop: VTEP,
        reach: [set(evpn.ipPrefix(rd.ip(VTEP, 0), "10.0.0.0", 8, "10.0.0.1", 1), 2 + 22, 33), good],
      }),
      "prefix length exceeds the address size",
      1,
    ],
    [
      "type 1 length 26",
      bgpEvpnUpdate({ nextHop: VTEP, reach: [evpn.raw(1, Array(26).fill(0)), good] }),
      "length is not 25",
      1,
    ],
    [
      "type 4 originator length 8",
      bgpEvpnUpdate({
        nextHop: VTEP,
        reach: [set(evpn.ethernetSegment(rd.ip(VTEP, 0), esi.zero(), VTEP), 2 + 18, 8), good],
      }),
      "originator IP length is not 32 or 128 bits",
      1,
    ],
    [
      "NLRI length past the attribute",
      bgpEvpnUpdate({ nextHop: VTEP, reach: [good, [2, 200, 1, 2]] }),
      "route length runs past the attribute",
      1,
    ],
    [
      "communities length not a multiple of 8",
      bgpEvpnUpdate({ nextHop: VTEP, reach: [good], communities: [[...ext.encap(8), 1, 2]] }),
      "length is not a multiple of 8",
      1,
    ],
    [
      "PMSI shorter than 5 bytes",
      bgpEvpnUpdate({ nextHop: VTEP, reach: [good], pmsi: [0, 6, 0] }),
      "shorter than 5 bytes",
      1,
    ],
    [
      "next hop of 3 bytes",
      updateWith(attr(0x80, 14, [0, 25, 70, 3, 1, 2, 3, 0, ...good])),
      "length is not 4, 12, 16, 24 or 32",
      0,
    ],
    [
      "attribute length past the list",
      updateWith(cat(attr(0x40, 1, [0]), [0x40, 5, 9, 0])),
      "length runs past the attribute list",
      0,
    ],
  ];
  for (const [name, update, why, routes] of cases) {
    await t.step(name, async () => {
      const report = await decodeUpdates(
        update,
        bgpEvpnUpdate({ nextHop: VTEP, reach: [evpn.imet(rd.ip(VTEP, 2), VTEP)] }),
      );
      assertEquals(report.decode_errors.map((e) => e.why), [why]);
      assertEquals(report.findings.map((f) => [f.kind, f.severity, f.detail.why]), [[
        "bgp_malformed",
        "warning",
        why,
      ]]);
      // The good NLRI of the same UPDATE (when framing allows) and the next UPDATE still count.
      assertEquals(report.routes.length, routes + 1);
    });
  }
});
