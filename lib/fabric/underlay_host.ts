/**
 * A host on the fabric's underlay that is not a node: a client off the cluster, a control-plane
 * machine that runs no pod, a router to "the outside". A netns named after the fabric (so sweeps
 * by its id find it), plugged into the underlay bridge like the nodes are.
 */
import type { Fabric } from "./fabric.ts";
import { createNetns, deleteNetns } from "./netns.ts";
import { runChecked } from "./run_command.ts";
import { plugIntoUnderlay } from "./underlay_link.ts";

/** A host plugged into the underlay. */
export interface UnderlayHost {
  /** The netns name. */
  readonly netns: string;
  readonly ip: string;
  /** Deletes the netns (its veth goes with it). */
  remove(): Promise<void>;
}

/**
 * Creates netns `<fabric id>-<name>` with ip on its underlay interface, plugged into the fabric's
 * bridge through port `x<name>`. Extra addresses (e.g. "198.51.100.10/32") go on its loopback:
 * the host answers for them, as a router to the outside would.
 * @throws after removing what it made, with the failing command.
 */
export async function addUnderlayHost(
  fabric: Fabric,
  name: string,
  ip: string,
  extraAddresses: string[] = [],
): Promise<UnderlayHost> {
  if (!/^[a-z0-9]{1,12}$/.test(name)) {
    throw new Error(`underlay host name "${name}" must be [a-z0-9]{1,12}`);
  }
  const netns = `${fabric.id}-${name}`;
  const port = `x${name}`;
  await createNetns(netns);
  const remove = () => deleteNetns(netns);
  try {
    await plugIntoUnderlay(fabric.fabricNetns, fabric.fabricBridge, netns, port, ip);
    for (const address of extraAddresses) {
      await runChecked(["ip", "-n", netns, "addr", "add", address, "dev", "lo"]);
    }
  } catch (error) {
    await remove().catch(() => {});
    throw error;
  }
  return { netns, ip, remove };
}
