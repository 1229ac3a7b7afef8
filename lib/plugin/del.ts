import { netnsExists } from "../net/netns.ts";
import { linkNameByIndex, readLink } from "../net/inspect.ts";
import { loadAttachment } from "../state/attachments.ts";
import type { CommandContext } from "./context.ts";
import { ipamDel } from "./ipam.ts";
import { releaseAttachment } from "./release.ts";

/** Finds the host end of the pod's veth through the pod netns, when there is no record of it. */
async function hostVethFromNetns(netns: string, ifname: string): Promise<string | undefined> {
  if (!netns || !netnsExists(netns)) return undefined;
  const link = await readLink(netns, ifname);
  return link?.peerIndex === undefined ? undefined : linkNameByIndex(link.peerIndex);
}

/**
 * DEL: withdraw from the fabric, delete the host veth, release IPAM, forget the record (see
 * releaseAttachment for why in that order). Idempotent: a gone netns, link, record or endpoint is
 * success; without a record, the host veth is found through the pod netns.
 */
export async function cmdDel(ctx: CommandContext): Promise<void> {
  const { env, conf, log } = ctx;
  const record = loadAttachment(conf.stateDir, env.containerId, env.ifname);
  const hostVeth = record?.hostVeth ?? await hostVethFromNetns(env.netns, env.ifname);
  const steps = await releaseAttachment(ctx, {
    containerId: env.containerId,
    ifname: env.ifname,
    record,
    hostVeth,
    releaseLease: () => ipamDel(ctx),
  });
  log.info("deleted", { hostVeth, recorded: record !== undefined, steps });
}
