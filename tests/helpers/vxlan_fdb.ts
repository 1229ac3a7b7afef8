/** Drift injected into a node's VXLAN fdb by tests: entries rewritten, added and removed. */
import type { Fabric, FabricNode } from "../../lib/fabric/fabric.ts";

/**
 * `bridge fdb OP MAC dev VXLAN [dst VTEP] self [permanent]` on `node`, as the daemon's own entries
 * are (permanent, on the device itself); throws naming the entry when it fails.
 */
export async function vxlanFdb(
  f: Fabric,
  node: FabricNode,
  op: "replace" | "append" | "del",
  mac: string,
  vxlan: string,
  vtep?: string,
): Promise<void> {
  const argv = ["bridge", "fdb", op, mac, "dev", vxlan, ...(vtep ? ["dst", vtep] : []), "self"];
  if (op !== "del") argv.push("permanent");
  const out = await f.exec(node.name, argv);
  if (out.code !== 0) throw new Error(`${argv.join(" ")} on ${node.name}: ${out.stderr}`);
}
