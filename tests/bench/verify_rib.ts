/**
 * `verify_rib_load_ms`: what `--rib` adds to a verify run for a generated 100,000-route GoBGP
 * snapshot (`gobgp global rib -a evpn -j` shape: 50,000 MAC/IP routes and 50,000 inclusive
 * multicast routes over 500 VTEPs): read, JSON parse, format detection, normalisation,
 * encoding and loading into the decoder. Measured side by side as the median wall time of
 * `verify CAPTURE --rib SNAPSHOT` minus that of `verify CAPTURE` on a small real capture.
 */
const ROOT = new URL("../../", import.meta.url).pathname;
const CAPTURE = `${ROOT}tests/fixtures/verify/rib/live-n1.pcap`;

function hex2(n: number): string {
  return (n & 0xff).toString(16).padStart(2, "0");
}

/** A GoBGP EVPN table of `routes` routes (half type 2, half type 3) over `vteps` VTEPs, as GoBGP prints it. */
export function gobgpTable(routes: number, vteps = 500): Record<string, unknown[]> {
  const table: Record<string, unknown[]> = {};
  const ext = {
    type: 16,
    value: [{ type: 3, subtype: 12, tunnel_type: 8 }, { type: 0, subtype: 2, value: "64512:100" }],
  };
  for (let i = 0; i < routes / 2; i++) {
    const vtep = `10.${200 + (i % vteps >> 8)}.${(i % vteps) & 0xff}.1`;
    const rd = { type: 1, admin: vtep, assigned: i % 16 };
    const mac = `0a:58:${hex2(i >> 24)}:${hex2(i >> 16)}:${hex2(i >> 8)}:${hex2(i)}`;
    const ip = `10.${(i >> 16) & 0xff}.${(i >> 8) & 0xff}.${i & 0xff}`;
    const value = { rd, esi: "single-homed", etag: 0, mac, ip, labels: [16 + (i % 16)] };
    table[`[type:macadv][rd:${vtep}:${rd.assigned}][etag:0][mac:${mac}][ip:${ip}]`] = [{
      nlri: { type: 2, value },
      age: 0,
      best: true,
      attrs: [{ type: 1, value: 0 }, { type: 2, as_paths: [] }, { type: 5, value: 100 }, ext, {
        type: 14,
        nexthop: vtep,
        afi: 25,
        safi: 70,
        value: [{ type: 2, value }],
      }],
      stale: false,
      "source-id": vtep,
      "neighbor-ip": vtep,
    }];
    // One inclusive-multicast route per (VTEP, instance): 100,000 routes give 100 instances on each
    // of 500 VTEPs.
    const orig = vtep;
    const instance = Math.floor(i / vteps);
    const mvalue = { rd: { type: 1, admin: orig, assigned: instance }, etag: 0, ip: orig };
    table[`[type:multicast][rd:${orig}:${instance}][etag:0][ip:${orig}]`] = [{
      nlri: { type: 3, value: mvalue },
      age: 0,
      best: true,
      attrs: [ext, {
        type: 22,
        "is-leaf-info-required": false,
        "tunnel-type": 6,
        label: 16 + (i % 16),
        "tunnel-id": orig,
      }, {
        type: 14,
        nexthop: orig,
        afi: 25,
        safi: 70,
        value: [{ type: 3, value: mvalue }],
      }],
      stale: false,
    }];
  }
  return table;
}

async function wallMs(args: string[]): Promise<number> {
  const start = performance.now();
  const out = await new Deno.Command(Deno.execPath(), { args, stdout: "null", stderr: "piped" })
    .output();
  const ms = performance.now() - start;
  // Exit 1 is a verdict (the generated routes are not the capture's), not a failure.
  if (out.code !== 0 && out.code !== 1) {
    throw new Error(`verify ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return ms;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Prints `BENCH verify_rib_load_ms` (target ≤ 1000 ms) and the figures behind it. */
export async function benchRibLoad(verifyArgs: (file: string, extra?: string[]) => string[]) {
  const routes = Number(Deno.env.get("VERIFY_BENCH_RIB_ROUTES") ?? 100_000);
  const dir = await Deno.makeTempDir({ prefix: "bcni-bench-rib-" });
  try {
    const file = `${dir}/gobgp-rib.json`;
    await Deno.writeTextFile(file, JSON.stringify(gobgpTable(routes)));
    const size = (await Deno.stat(file)).size;
    console.error(`verify bench: ${routes}-route GoBGP snapshot, ${(size / 1e6).toFixed(0)} MB`);
    const plain = verifyArgs(CAPTURE);
    const seeded = verifyArgs(CAPTURE, ["--rib", file]);
    await wallMs(plain);
    await wallMs(seeded);
    const without: number[] = [];
    const withRib: number[] = [];
    for (let i = 0; i < 5; i++) {
      without.push(await wallMs(plain));
      withRib.push(await wallMs(seeded));
    }
    console.error(
      `verify bench: small capture ${without.map((x) => x.toFixed(0)).join(" ")} ms; with --rib ${
        withRib.map((x) => x.toFixed(0)).join(" ")
      } ms`,
    );
    console.log(`BENCH verify_rib_load_ms ${(median(withRib) - median(without)).toFixed(0)} ms`);
    console.log(`BENCH verify_rib_snapshot_routes ${routes} routes`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
