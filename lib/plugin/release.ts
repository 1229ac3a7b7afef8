import { deleteLink } from "../net/veth.ts";
import { type AttachmentRecord, removeAttachment } from "../state/attachments.ts";
import type { CommandContext } from "./context.ts";

/** One pod interface to undo, as DEL or GC found it. */
export interface Release {
  containerId: string;
  ifname: string;
  /** The attachment record, when there is one (there is nothing to withdraw without it). */
  record?: AttachmentRecord;
  /** The host end of the veth, when known (from the record, or found through the pod netns). */
  hostVeth?: string;
  /** Releases the pod's lease with the IPAM plugin. */
  releaseLease: () => Promise<void>;
}

/**
 * Undoes one pod interface in the one safe order, shared by DEL and GC: withdraw from the fabric,
 * delete the host veth (the pod end goes with it), release the lease, forget the record. A
 * withdrawal that fails stops here, before the address could go to another pod while it is still
 * advertised; every step tolerates what is already gone, so a retry finishes the job.
 */
export async function releaseAttachment(ctx: CommandContext, release: Release): Promise<void> {
  if (release.record) await ctx.backend.detach(release.record);
  if (release.hostVeth) await deleteLink(release.hostVeth);
  await release.releaseLease();
  removeAttachment(ctx.conf.stateDir, release.containerId, release.ifname);
}
