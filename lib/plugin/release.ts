import { deleteLink } from "../net/veth.ts";
import { type AttachmentRecord, removeAttachment } from "../state/attachments.ts";
import type { CommandContext } from "./context.ts";
import { StepTimes } from "./step_times.ts";

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
 * then delete the host veth (the pod end goes with it) while the lease is released, then forget
 * the record. A withdrawal that fails stops here, before the address could go to another pod
 * while it is still advertised; every step tolerates what is already gone, so a retry finishes
 * the job. The veth is deleted by its index, read before the lease is released: a new pod given
 * the address (its veth named after it) before the delete runs keeps its own veth.
 * @returns milliseconds per step, for the log.
 */
export async function releaseAttachment(
  ctx: CommandContext,
  release: Release,
): Promise<Record<string, number>> {
  const times = new StepTimes();
  if (release.record) {
    await ctx.backend.detach(release.record);
    times.lap("detach");
  }
  const [link, lease] = await Promise.allSettled([
    release.hostVeth ? deleteLink(release.hostVeth, true) : Promise.resolve(),
    release.releaseLease(),
  ]);
  if (link.status === "rejected") throw link.reason;
  if (lease.status === "rejected") throw lease.reason;
  times.lap("veth_and_lease");
  removeAttachment(ctx.conf.stateDir, release.containerId, release.ifname);
  return times.steps;
}
