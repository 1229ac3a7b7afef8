/**
 * `deno task demo [--keep] [--down] ...`: see HELP. Runs as root (it creates network
 * namespaces and runs daemons in them).
 */
import { parseCliArgs } from "../cli/args.ts";
import { defaultConfigDir } from "../fabric/template.ts";
import { TOPOLOGY_KINDS, type TopologyKind } from "../fabric/topology.ts";
import { DEFAULT_STATE_FILE } from "./demo_state.ts";
import { downDemo } from "./down.ts";
import { runDemo } from "./run_demo.ts";

const HELP =
  `usage: deno task demo [--topology one-dc|two-dc] [--keep] [--state-file FILE] [--config-dir DIR]
                      [--save-capture FILE]
       deno task demo --down [--state-file FILE]

Builds the seed blog's topology in network namespaces it creates (underlay, GoBGP route
reflector, two nodes running the stock bagpipe-bgp), installs the plugin and conflist into each
node's own CNI dirs, creates two pods per node through the conflist's chain (bagpipe → portmap)
as kubelet would, pings every pod from every pod, then captures the fabric link while they ping
again (the capture starts after the pods exist, as an operator's would), runs bagpipe-cni verify
on it with the route reflector's EVPN table as the snapshot (--rib), writes kube-proxy's
iptables-mode rules for one Service per node and asks each Service, NodePort and hostPort from
every pod, every node and a client off the cluster (the Service matrix), and prints a report. Then
it removes everything.

  --topology KIND      one-dc (default) or two-dc: two datacenters, each an underlay segment,
                       a GoBGP reflector and two nodes, joined by a router netns; the reflectors
                       peer over iBGP; the capture is then of the inter-DC link
  --keep               leave it all running; recorded in the state file
  --down               remove a kept demo (or one whose process was killed)
  --state-file FILE    the record of what the demo made (default ${DEFAULT_STATE_FILE})
  --config-dir DIR     read 10-bagpipe.conflist, bgp.conf, gobgpd.toml from DIR (default config/)
  --save-capture FILE  copy the fabric capture (pcap) to FILE

Exit code 0 when the report says PASS (every pod answered every pod, verify did not find the
capture inconsistent, portmap's rules came and went, every cell of the Service matrix was answered
by the right backend, nothing left behind).`;

async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = await parseCliArgs({
      args: argv,
      options: {
        topology: { type: "string", default: "one-dc" },
        keep: { type: "boolean", default: false },
        down: { type: "boolean", default: false },
        "state-file": { type: "string", default: DEFAULT_STATE_FILE },
        "config-dir": { type: "string", default: defaultConfigDir() },
        "save-capture": { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
    }));
  } catch (e) {
    console.error(`bagpipe-cni demo: ${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const topology = values.topology as TopologyKind;
  if (!TOPOLOGY_KINDS.includes(topology)) {
    console.error(
      `bagpipe-cni demo: --topology must be one of ${TOPOLOGY_KINDS.join(", ")}, got "${topology}"`,
    );
    return 2;
  }
  if (values.keep && values.down) {
    console.error("bagpipe-cni demo: --keep and --down exclude each other");
    return 2;
  }
  if (Deno.uid() !== 0) {
    console.error(
      "bagpipe-cni demo: run it as root: it creates network namespaces and runs daemons in them",
    );
    return 2;
  }
  const write = (line: string) => console.log(line);
  if (values.down) return await downDemo(values["state-file"]!, write);
  return await runDemo({
    keep: values.keep!,
    stateFile: values["state-file"]!,
    configDir: values["config-dir"]!,
    saveCapture: values["save-capture"],
    topology,
    write,
  });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
