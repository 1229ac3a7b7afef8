/**
 * `verify --rib`: each snapshot format (files recorded from the real programs on a test
 * fabric: bagpipe-bgp 17's looking glass, GoBGP 3's `global rib -a evpn -j`, FRR 8.4's
 * `show bgp l2vpn evpn route detail json`) gives the same routes and the same verdict on the
 * same capture; malformed snapshots are exit 2 with the file and the problem named, never a
 * crash. tests/verify_operator_fabric_test.ts produces the same outputs live from the programs.
 */
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { loadSnapshot, snapshotRecords } from "../lib/verify/rib/load.ts";
import { decodeCapture } from "../wasm/mod.ts";

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
