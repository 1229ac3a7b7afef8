import { netnsExists } from "../net/netns.ts";
import { linkNameByIndex, readLink } from "../net/inspect.ts";
import { deleteLink } from "../net/veth.ts";
import { loadAttachment, removeAttachment } from "../state/attachments.ts";
import type { CommandContext } from "./context.ts";
import { ipamDel } from "./ipam.ts";

/** Finds the host end of the pod's veth through the pod netns, when there is no record of it. */
async function hostVethFromNetns(netns: string, ifname: string): Promise<string | undefined> {
  if (!netns || !netnsExists(netns)) return undefined;
  const link = await readLink(netns, ifname);
  return link?.peerIndex === undefined ? undefined : linkNameByIndex(link.peerIndex);
}

/**
 * DEL: withdraw from the fabric, delete the host veth (which takes the pod end with it), release
 * IPAM, forget the record. Idempotent: a gone netns, link, record or endpoint is success. A
 * withdrawal that fails for a reason that may pass (daemon busy) fails DEL before the address is
 * released, so the runtime retries and the address is never reused while still advertised.
 */
export async function cmdDel(ctx: CommandContext): Promise<void> {
  const { env, conf, log } = ctx;
  const record = loadAttachment(conf.stateDir, env.containerId, env.ifname);
  if (record) await ctx.backend.detach(record);
  const hostVeth = record?.hostVeth ?? await hostVethFromNetns(env.netns, env.ifname);
  if (hostVeth) await deleteLink(hostVeth);
  await ipamDel(ctx);
  removeAttachment(conf.stateDir, env.containerId, env.ifname);
  log.info("deleted", { hostVeth, recorded: record !== undefined });
}
