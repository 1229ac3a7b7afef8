/**
 * `deno task bench rtc [--with-rtc]` (as root): RT membership (RTC) traffic on the two-dc fabric. Pods of
 * `span` (64512:600) on all four nodes and of `dc1only` (64512:601) on DC1's two; counts over 60 s
 * once they answer and nothing changes: UPDATEs on every reflector session, RTC routes each node's
 * bagpipe-bgp logged; whether DC2's reflector holds a `dc1only` route; then a `dc1only` pod on n4
 * and how long until DC2's reflector holds the route. `--with-rtc` adds `rtc` to the reflectors'
 * iBGP session (config/gobgpd-peer-reflector.toml, in a copy): the loop config/README.md measured.
 */
import { type Fabric, type FabricNode, startFabric } from "../../lib/fabric/fabric.ts";
import { defaultConfigDir } from "../../lib/fabric/template.ts";
import { Cluster } from "../helpers/cluster.ts";
import { dc1only, span } from "../helpers/two_dc_networks.ts";

const WINDOW_MS = 60_000;

/** UPDATEs sent and received per reflector session, keyed `rr<dc> <-> <peer>`. */
async function updates(f: Fabric): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const dc of f.dcs) {
    type Counts = { update?: number | string };
    type Peer = {
      state?: { neighbor_address?: string; messages?: { sent?: Counts; received?: Counts } };
    };
    const out = await f.gobgp(dc.index, ["neighbor", "-j"]);
    for (const peer of JSON.parse(out.stdout) as Peer[]) {
      const m = peer.state?.messages;
      counts.set(
        `rr${dc.index} <-> ${peer.state?.neighbor_address}`,
        Number(m?.sent?.update ?? 0) + Number(m?.received?.update ?? 0),
      );
    }
  }
  return counts;
}

async function rtcRoutesReceived(f: Fabric): Promise<number[]> {
  return await Promise.all(f.nodes.map(async (node) => {
    const text = await Deno.readTextFile(node.logFile);
    return text.split("\n").filter((line) => line.includes("Received an RTC route")).length;
  }));
}

/** Prints what crossed in WINDOW_MS with nothing changing. */
async function quietWindow(f: Fabric, label: string): Promise<void> {
  const [u0, r0] = [await updates(f), await rtcRoutesReceived(f)];
  await new Promise((r) => setTimeout(r, WINDOW_MS));
  const [u1, r1] = [await updates(f), await rtcRoutesReceived(f)];
  for (const [session, n] of u1) {
    const sent = n - (u0.get(session) ?? 0);
    // A session that was reset starts counting again from 0.
    const what = sent < 0 ? `reset, ${n} since` : `${sent} in 60 s`;
    console.log(`RTC ${label} updates ${session} ${what}`);
  }
  console.log(`RTC ${label} rtc-routes-per-node ${r1.map((n, i) => n - r0[i]!).join(",")} in 60 s`);
  console.log(`RTC ${label} rtc-routes-per-node-since-start ${r1.join(",")}`);
}

export async function benchRtcInterDc(withRtc: boolean): Promise<void> {
  const workDir = await Deno.makeTempDir({ prefix: "bcni-bench-rtc-" });
  let configDir = defaultConfigDir();
  if (withRtc) {
    configDir = `${workDir}/config`;
    await Deno.mkdir(configDir);
    for (const file of ["bgp.conf", "gobgpd.toml", "gobgpd-peer-reflector.toml"]) {
      await Deno.copyFile(`${defaultConfigDir()}${file}`, `${configDir}/${file}`);
    }
    await Deno.writeTextFile(
      `${configDir}/gobgpd-peer-reflector.toml`,
      `  [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      afi-safi-name = "rtc"\n`,
      { append: true },
    );
  }
  const label = withRtc ? "ibgp-evpn-rtc" : "ibgp-evpn";
  let f: Fabric | undefined;
  try {
    f = await startFabric({ topology: "two-dc", workDir, configDir, readyTimeoutMs: 300_000 });
    const [n1, n2, n3, n4] = f.nodes as [FabricNode, FabricNode, FabricNode, FabricNode];
    const cluster = await Cluster.create(f);
    const a2 = await cluster.addPod(n2, span);
    const b2 = await cluster.addPod(n4, span);
    await cluster.addPod(n1, span);
    await cluster.addPod(n3, span);
    const p = await cluster.addPod(n1, dc1only);
    const q = await cluster.addPod(n2, dc1only);
    console.log(`RTC ${label} ping b2->a2 ${await cluster.pingUntil(b2, a2.ip, 30_000)} ms`);
    console.log(`RTC ${label} ping q->p ${await cluster.pingUntil(q, p.ip, 30_000)} ms`);
    const holds = async () =>
      (await f!.gobgp(2, ["global", "rib", "-a", "evpn"])).stdout.includes(p.mac.toLowerCase());
    console.log(`RTC ${label} dc2-reflector-holds-dc1only ${await holds()}`);
    await quietWindow(f, label);
    const since = performance.now();
    const s = await cluster.addPod(n4, dc1only);
    let heldMs: number | undefined;
    while (heldMs === undefined && performance.now() - since < WINDOW_MS) {
      if (await holds()) heldMs = Math.round(performance.now() - since);
      else await new Promise((r) => setTimeout(r, 200));
    }
    console.log(`RTC ${label} dc2-reflector-holds-dc1only-after-n4-import ${heldMs} ms`);
    console.log(`RTC ${label} ping s->p ${await cluster.pingUntil(s, p.ip, 30_000)} ms`);
    await quietWindow(f, `${label}-after-import`);
    for (const pod of [...cluster.pods]) await cluster.delPod(pod);
  } finally {
    await f?.teardown();
    await Deno.remove(workDir, { recursive: true });
  }
}

if (import.meta.main) await benchRtcInterDc(Deno.args.includes("--with-rtc"));
