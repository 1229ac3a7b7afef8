/**
 * `verify --rib`: each snapshot format (files recorded from the real programs on a test
 * fabric: bagpipe-bgp 17's looking glass, GoBGP 3's `global rib -a evpn -j`, FRR 8.4's
 * `show bgp l2vpn evpn route detail json`) gives the same routes and the same verdict on the
 * same capture; malformed snapshots are exit 2 with the file and the problem named, never a
 * crash. tests/verify_operator_fabric_test.ts produces the same outputs live from the programs.
 */
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import {
  loadSnapshot,
  parseSnapshot,
  parseSnapshotBytes,
  snapshotRecords,
} from "../lib/verify/rib/load.ts";
import { parseGobgpRib } from "../lib/verify/rib/gobgp.ts";
import { encodeRoutes, RouteEncodingError } from "../lib/verify/rib/encode.ts";
import type { SnapshotRoute } from "../lib/verify/rib/route.ts";
import { scanGobgpRib } from "../lib/verify/rib/gobgp_scan.ts";
import { JsonReader } from "../lib/verify/rib/json_reader.ts";
import { gobgpTable } from "./bench/verify_rib.ts";
import { decodeCapture } from "../wasm/mod.ts";
import { renderReport } from "../lib/verify/report_text.ts";

const DIR = new URL("./fixtures/verify/rib/", import.meta.url).pathname;
const MAIN = new URL("../main.ts", import.meta.url).pathname;
const CAPTURE = `${DIR}live-n1.pcap`;

async function verify(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "verify", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const td = new TextDecoder();
  return { code: out.code, stdout: td.decode(out.stdout), stderr: td.decode(out.stderr) };
}

const key = (r: { type: number; rd: string; mac?: string; ip?: string; originator?: string }) =>
  [r.type, r.rd, r.mac?.toLowerCase() ?? r.originator, r.ip ?? ""].join(" ");

Deno.test("verify --rib: the three formats give the same routes", async () => {
  const files = ["bagpipe-looking-glass.json", "gobgp-global.json", "frr-route-detail.json"];
  const snaps = await Promise.all(files.map((f) => loadSnapshot(DIR + f)));
  assertEquals(snaps.map((s) => s.format), ["bagpipe-bgp", "gobgp", "frr"]);
  const views = snaps.map((s) =>
    s.routes.map((r) => `${key(r)} ${r.nextHop} ${r.vni} ${r.routeTargets}`).sort()
  );
  assertEquals(views[0]!.length, 4);
  assertEquals(views[1], views[0]);
  assertEquals(views[2], views[0]);
});

Deno.test("verify --rib: a mid-life capture is fully checked against each snapshot", async () => {
  // Without a snapshot the capture (VXLAN only, no BGP) cannot be checked.
  using bare = await Deno.open(CAPTURE);
  const without = (await decodeCapture(bare)).report;
  ok(!without.summary.control_plane_seen);
  for (const f of ["bagpipe-looking-glass.json", "gobgp-global.json", "frr-route-detail.json"]) {
    using file = await Deno.open(CAPTURE);
    const snapshot = snapshotRecords([await loadSnapshot(DIR + f)]);
    const { report } = await decodeCapture(file, { snapshot });
    assertEquals(report.summary.snapshot_routes, 4, f);
    assertEquals(report.summary.routes_active, 4, f);
    ok(report.routes.every((r) => r.from_snapshot), f);
    assertEquals(report.summary.errors, 0, f);
    ok(report.flows.length > 0, f);
    ok(!report.findings.some((x) => x.kind === "unverifiable"), f);
  }
  const run = await verify([CAPTURE, "--rib", `${DIR}gobgp-global.json`, "--json"]);
  assertEquals(run.code, 0, run.stderr);
  assertEquals(JSON.parse(run.stdout).summary.snapshot_routes, 4);
  ok(run.stderr.includes("gobgp, 4 EVPN routes"), run.stderr);
});

Deno.test("verify --rib: several snapshots add up", async () => {
  const run = await verify([
    CAPTURE,
    "--rib",
    `${DIR}gobgp-global.json`,
    "--rib",
    `${DIR}frr-route-detail.json`,
    "--json",
  ]);
  assertEquals(run.code, 0, run.stderr);
  // The same four routes twice: still four routes.
  assertEquals(JSON.parse(run.stdout).summary.routes, 4);
});

Deno.test("verify --rib: malformed snapshots are exit 2 naming the file and the problem", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bcni-rib-" });
  try {
    const gobgp = JSON.parse(await Deno.readTextFile(`${DIR}gobgp-global.json`));
    const firstKey = Object.keys(gobgp)[0]!;
    const brokenRd = structuredClone(gobgp);
    brokenRd[firstKey][0].nlri.value.rd = "nope";
    const noNextHop = structuredClone(gobgp);
    noNextHop[firstKey][0].attrs = noNextHop[firstKey][0].attrs.filter((a: { type: number }) =>
      a.type !== 14
    );
    const badMac = structuredClone(gobgp);
    badMac[firstKey][0].nlri.value.mac = "0a:58:zz:1b:01:0a";
    const lg = await Deno.readTextFile(`${DIR}bagpipe-looking-glass.json`);
    const cases: [string, string, string][] = [
      ["empty.json", "", "not JSON"],
      [
        "truncated.json",
        (await Deno.readTextFile(`${DIR}gobgp-global.json`)).slice(0, 300),
        "not JSON",
      ],
      ["list.json", "[1, 2, 3]", "not a known EVPN table"],
      ["rd.json", JSON.stringify(brokenRd), "rd is not {admin, assigned}"],
      ["nexthop.json", JSON.stringify(noNextHop), "no next hop"],
      ["mac.json", JSON.stringify(badMac), 'MAC "0a:58:zz:1b:01:0a" is not a MAC address'],
      ["pmsi.json", lg.replaceAll("pmsi:ingressreplication:0:1(16)", "pmsi:other"), "pmsi-tunnel"],
      [
        "frr-short.json",
        await Deno.readTextFile(`${DIR}frr-short.json`),
        "carries no VNI (FRR prints it with `show bgp l2vpn evpn route detail json`)",
      ],
    ];
    for (const [name, text, why] of cases) {
      const path = `${dir}/${name}`;
      await Deno.writeTextFile(path, text);
      const run = await verify([CAPTURE, "--rib", path]);
      assertEquals(run.code, 2, `${name}: ${run.stderr}`);
      ok(run.stderr.includes(`snapshot "${path}"`), `${name}: ${run.stderr}`);
      ok(run.stderr.includes(why), `${name}: ${run.stderr}`);
      ok(!run.stderr.includes("error: Uncaught"), `${name}: ${run.stderr}`);
      assertEquals(run.stdout, "", name);
    }
    for (
      const [path, why] of [[`${dir}/missing.json`, "cannot be read"], [dir, "not a regular file"]]
    ) {
      const run = await verify([CAPTURE, "--rib", path!]);
      assertEquals(run.code, 2);
      ok(
        run.stderr.includes(`snapshot "${path}": cannot be read`) && run.stderr.includes(why!),
        run.stderr,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("verify --rib: the GoBGP scan gives the routes of the full parse, or leaves it to it", async () => {
  const bytes = await Deno.readFile(`${DIR}gobgp-global.json`);
  const text = new TextDecoder().decode(bytes);
  const table = JSON.parse(text);
  const generated = JSON.stringify(gobgpTable(200));
  // Taken by the scan: what GoBGP prints (indented, and compact as the bench writes it), a
  // key written with an escape, and a first string of two-byte characters (the strings after
  // it are no longer cut from the text at byte offsets).
  const escaped = text.replace(`"nlri"`, `"\\u006elri"`);
  const nonAscii = text.replace(`"single-homed"`, `"single-homed éé"`);
  for (const doc of [text, JSON.stringify(table), generated, escaped, nonAscii]) {
    const b = new TextEncoder().encode(doc);
    const scanned = scanGobgpRib(b, doc);
    ok(scanned, doc.slice(0, 80));
    assertEquals(scanned, parseGobgpRib(JSON.parse(doc)));
  }
  // Left to the full parse, which gives the same snapshot as ever.
  const firstKey = Object.keys(table)[0]!;
  const path = table[firstKey][0];
  const reordered = structuredClone(table);
  reordered[firstKey][0].attrs = path.attrs.map((a: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(a).reverse())
  );
  const withdrawn = structuredClone(table);
  withdrawn[firstKey].push({ ...path, withdrawal: true });
  const unusual: [string, string][] = [
    ["attribute type not first", JSON.stringify(reordered)],
    ["repeated route key", text.replace("{", `{"${firstKey}": [],`)],
  ];
  for (const [what, doc] of unusual) {
    const b = new TextEncoder().encode(doc);
    assertEquals(scanGobgpRib(b, doc), undefined, what);
    assertEquals(parseSnapshotBytes("x.json", b), parseSnapshot("x.json", doc), what);
  }
  // A withdrawal is not a route, both ways.
  const w = JSON.stringify(withdrawn);
  assertEquals(scanGobgpRib(new TextEncoder().encode(w), w), parseGobgpRib(withdrawn));
});

Deno.test("verify --rib: the reader's recent short strings are its strings, hash slots shared or not", () => {
  // Every two-letter string and some of each length up to past the short limit, each twice:
  // far more strings than slots, so slots are reused and share hashes; then after a
  // non-ASCII string (no longer cut from the text).
  const letters = "abcdefghijklmnopqrstuvwxyz0123456789.:";
  const strings: string[] = [];
  for (const a of letters) for (const b of letters) strings.push(a + b, b + a);
  for (let n = 0; n <= 20; n++) strings.push("1".repeat(n), "10.0.0.1".slice(0, n), "x".repeat(n));
  const all = [...strings, "é", ...strings];
  const doc = JSON.stringify(all);
  for (const text of [doc, undefined]) {
    const r = new JsonReader(new TextEncoder().encode(doc), text);
    r.open(0x5b, 0x5d);
    const read: string[] = [];
    do read.push(r.string()); while (r.more(0x5d));
    assertEquals(read, all);
  }
});

Deno.test("verify --rib: the GoBGP scan takes no document JSON.parse refuses", () => {
  const table = JSON.stringify(gobgpTable(2));
  // Each sample stands for the value of a member the scan steps over ("age").
  const samples = [
    "1",
    "-0.5e+3",
    '"a\\"b\\u00e9\\n"',
    "[1, [], {}]",
    '{"a": null, "b": true}',
    "01",
    "1.",
    "-",
    "1e",
    "tru",
    "nul",
    "[1,]",
    '{"a":1,}',
    "{a: 1}",
    '{"a" 1}',
    '"\\x"',
    '"\\u12g4"',
    '"tab\there"',
    "[1 2]",
    '"open',
  ];
  for (const sample of samples) {
    const doc = table.replace('"age":0', `"age":${sample}`);
    ok(doc !== table);
    let valid = true;
    try {
      JSON.parse(doc);
    } catch {
      valid = false;
    }
    const scanned = scanGobgpRib(new TextEncoder().encode(doc), doc);
    assertEquals(scanned !== undefined, valid, sample);
  }
  for (const tail of ["", " \n", " x", "{}"]) {
    const doc = table + tail;
    const scanned = scanGobgpRib(new TextEncoder().encode(doc), doc);
    assertEquals(scanned !== undefined, tail.trim() === "", JSON.stringify(tail));
  }
});

Deno.test("verify --rib: addresses, MACs and numbers are encoded or refused by name", () => {
  const route = (over: Partial<SnapshotRoute>): SnapshotRoute => ({
    type: 2,
    rd: "10.199.0.11:0",
    ethernetTag: 0,
    mac: "0a:58:0a:1b:01:0a",
    ip: "10.27.1.10",
    nextHop: "10.199.0.11",
    vni: 16,
    routeTargets: ["64512:100"],
    ...over,
  });
  const refusal = (r: SnapshotRoute): string | undefined => {
    try {
      encodeRoutes([r]);
      return undefined;
    } catch (e) {
      ok(e instanceof RouteEncodingError);
      return e.message;
    }
  };
  const ipv4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
  for (
    const a of [
      "1.2.3.4",
      "255.255.255.255",
      "010.0.0.1",
      "256.1.1.1",
      "1.2.3",
      "1.2.3.4.5",
      "1..2.3",
      ".1.2.3",
      "1.2.3.",
      "1234.1.1.1",
      "a.b.c.d",
      "1.2.3.4 ",
      "",
    ]
  ) {
    const m = ipv4.exec(a);
    const valid = m !== null && m.slice(1).every((p) => Number(p) <= 255);
    const why = refusal(route({ nextHop: a }));
    assertEquals(
      why,
      valid
        ? undefined
        : `route 1 (type 2, RD 10.199.0.11:0, MAC 0a:58:0a:1b:01:0a): next hop "${a}" is not an IPv4 address`,
      a,
    );
  }
  const mac = /^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$/;
  for (
    const m of [
      "0a:58:0A:1b:01:ff",
      "0a-58-0a-1b-01-0a",
      "0a:58:0a:1b:01",
      "0a:58:0a:1b:01:0g",
      "0a:58:0a:1b:01:0a:",
      "0a5:8:0a:1b:01:0a",
      "0a.58.0a.1b.01.0a",
    ]
  ) {
    const why = refusal(route({ mac: m }));
    assertEquals(why === undefined, mac.test(m), m);
    if (why) ok(why.endsWith(`MAC "${m}" is not a MAC address`), why);
  }
  for (
    const [rd, valid] of [
      ["64512:7", true],
      ["64512:4294967295", true],
      ["4200000000:65535", true],
      ["4200000000:65536", false],
      ["64512:-1", false],
      ["64512:", false],
      ["x:1", false],
      ["10.0.0.1:65536", false],
    ] as const
  ) {
    const why = refusal(route({ rd }));
    assertEquals(why === undefined, valid, rd);
    if (why) ok(why.includes(`RD ${rd}, `) && why.includes(`route distinguisher "`), why);
  }
});

Deno.test("verify --rib: a text run's brief report lists only the VTEPs of its routes", async () => {
  // 3,000 routes over 1,500 VTEPs: the 1,024 routes a brief report lists name only 512 of them.
  const doc = JSON.stringify(gobgpTable(3000, 1500));
  const snap = parseSnapshot("generated.json", doc);
  const snapshot = snapshotRecords([snap]);
  const decode = async (brief: boolean) => {
    using file = await Deno.open(CAPTURE);
    return (await decodeCapture(file, { snapshot, brief, timeline: !brief })).report;
  };
  const full = await decode(false);
  const brief = await decode(true);
  ok(brief.vteps.length < full.vteps.length, `${brief.vteps.length} VTEPs`);
  ok(brief.segments.length < full.segments.length, `${brief.segments.length} segments`);
  // Each VTEP listed has all its routes counted.
  for (const v of brief.vteps) {
    assertEquals(v, full.vteps.find((x) => x.address === v.address));
  }
  // A brief report lists the first routes only, and so the VTEPs and segments of those.
  ok(brief.routes.length < full.routes.length);
  const cut = { ...full, routes: full.routes.slice(0, brief.routes.length) };
  assertEquals(renderReport(brief, CAPTURE), renderReport(cut, CAPTURE));
});

Deno.test("verify --rib: IPv6 addresses, route targets and MAC mobility reach the decoder", async () => {
  const routes: SnapshotRoute[] = [{
    type: 2,
    rd: "64512:7",
    ethernetTag: 5,
    mac: "0A-58-0a-1b-01-0a",
    ip: "fd00::1:2",
    nextHop: "2001:db8::1",
    vni: 100,
    routeTargets: ["64512:100", "10.0.0.1:5", "4200000000:7"],
    mobility: { sequence: 3, sticky: true },
  }, {
    type: 3,
    rd: "10.0.0.1:3",
    ethernetTag: 0,
    originator: "fd00::5",
    nextHop: "10.1.1.1",
    pmsiEndpoint: "10.1.1.2",
    vni: 9,
    routeTargets: [],
  }];
  using file = await Deno.open(CAPTURE);
  const { report } = await decodeCapture(file, { snapshot: encodeRoutes(routes) });
  const [mac, imet] = report.routes;
  assertEquals(
    [mac!.mac, mac!.ip, mac!.next_hop, mac!.vni, mac!.ethernet_tag, mac!.rd.value],
    ["0a:58:0a:1b:01:0a", "fd00::1:2", "2001:db8::1", 100, 5, "64512:7"],
  );
  assertEquals(mac!.route_targets.length, 3);
  assertEquals(mac!.mac_mobility, { sequence: 3, sticky: true });
  assertEquals([imet!.originator, imet!.vtep, imet!.vni], ["fd00::5", "10.1.1.2", 9]);
});
