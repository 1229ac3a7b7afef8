import { renderTemplateFile } from "./template.ts";

/** The port bagpipe-bgp's REST API listens on (inside each node netns). */
export const BAGPIPE_API_PORT = 8082;

/** The BGP AS shared by nodes and reflector (iBGP). */
export const FABRIC_AS = 64512;

/** What one node's bgp.conf needs. */
export interface BagpipeConfigInput {
  configDir: string;
  configFile: string;
  localAddress: string;
  reflectorIp: string;
  /** The directory holding the modprobe stand-in, put first on privsep's PATH. */
  standInDir: string;
}

/** Fills config/bgp.conf for one node. */
export function renderBagpipeConfig(input: BagpipeConfigInput): Promise<string> {
  return renderTemplateFile(input.configDir, "bgp.conf", {
    LOCAL_ADDRESS: input.localAddress,
    PEERS: input.reflectorIp,
    AS: FABRIC_AS,
    API_HOST: "127.0.0.1",
    API_PORT: BAGPIPE_API_PORT,
    ROOT_HELPER: "",
    VXLAN_DST_PORT: 4789,
    PRIVSEP_PATH: `${input.standInDir}:/usr/sbin:/usr/bin:/sbin:/bin`,
    CONFIG_FILE: input.configFile,
  });
}

/**
 * A modprobe that succeeds for modules the kernel already has (/sys/module/<name>).
 * This machine's kernel has vxlan built in but no /lib/modules, so the real modprobe fails
 * and the EVPN driver exits at start.
 */
export const MODPROBE_STAND_IN = `#!/bin/sh
# modprobe stand-in written by bagpipe-cni lib/fabric: succeed only for modules present.
for arg in "$@"; do
  case "$arg" in -*) continue ;; esac
  if [ ! -d "/sys/module/$arg" ]; then
    echo "modprobe stand-in: module $arg is not built in or loaded (/sys/module/$arg)" >&2
    exit 1
  fi
done
exit 0
`;

/** Writes the modprobe stand-in into dir (created if needed). */
export async function writeModprobeStandIn(dir: string): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(`${dir}/modprobe`, MODPROBE_STAND_IN, { mode: 0o755 });
}
