/**
 * Runs the plugin's node-network code inside a node netns (`ip netns exec NODE deno run -A this
 * {json}`), because it reads /sys and /proc and spawns `ip`/`iptables` in the netns it runs in and
 * tests must not touch the host's. Prints one JSON line: what ensure() returned or problems().
 */
import { Logger } from "../../lib/log.ts";
import { KernelNodeNetwork } from "../../lib/plugin/node_network.ts";
import type { NetworkSpec } from "../../lib/state/networks.ts";

const { action, spec, stateDir, vtep, force } = JSON.parse(Deno.args[0]!) as {
  action: "ensure" | "problems";
  spec: NetworkSpec;
  stateDir: string;
  vtep: { address: string; port: number };
  force?: boolean;
};
const network = new KernelNodeNetwork(stateDir, new Logger({}));
try {
  const out = action === "ensure"
    ? { made: await network.ensure(spec, () => Promise.resolve(vtep), force) }
    : { problems: await network.problems(spec, vtep) };
  console.log(JSON.stringify(out));
} catch (e) {
  console.log(JSON.stringify({ error: (e as Error).message }));
}
