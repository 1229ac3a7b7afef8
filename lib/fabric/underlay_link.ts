/** The veth that plugs a namespace (node, reflector, underlay host) into an underlay bridge. */
import { runChecked } from "./run_command.ts";
import { UNDERLAY_IFACE, UNDERLAY_PREFIX_LEN } from "./topology.ts";

/** Adds a veth between bridge (port) in the fabric netns and netns (ifname with ip). */
export async function plugIntoUnderlay(
  fabricNetns: string,
  bridge: string,
  netns: string,
  port: string,
  ip: string,
  ifname = UNDERLAY_IFACE,
) {
  const inFabric = ["ip", "-n", fabricNetns, "link"];
  await runChecked([
    ...inFabric,
    "add",
    port,
    "type",
    "veth",
    "peer",
    "name",
    ifname,
    "netns",
    netns,
  ]);
  await runChecked([...inFabric, "set", port, "master", bridge, "up"]);
  await runChecked([
    "ip",
    "-n",
    netns,
    "addr",
    "add",
    `${ip}/${UNDERLAY_PREFIX_LEN}`,
    "dev",
    ifname,
  ]);
  await runChecked(["ip", "-n", netns, "link", "set", ifname, "up"]);
}
