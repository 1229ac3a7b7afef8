import { delegateVersions, execDelegate } from "../cni/delegate.ts";
import type { CommandContext } from "./context.ts";

/**
 * Delegates a 1.1-only command (STATUS, GC) to IPAM when IPAM speaks 1.1.0; older IPAM plugins
 * (host-local up to v1.1.1) do not know the command, and libcni skips them the same way.
 */
export async function ipamIfSupported(
  ctx: CommandContext,
  command: "STATUS" | "GC",
): Promise<void> {
  const type = ctx.conf.ipam.type;
  if (!(await delegateVersions(type, ctx.env.path)).includes("1.1.0")) {
    ctx.log.info(`IPAM plugin ${type} does not support ${command}; skipped`);
    return;
  }
  await execDelegate(command, type, ctx.env.path, ctx.rawConf);
}

/** STATUS: the fabric can take pods (daemon up, a BGP peer Established), and so can IPAM. */
export async function cmdStatus(ctx: CommandContext): Promise<void> {
  await ctx.backend.status();
  const reattached = await ctx.backend.resyncIfRestarted();
  if (reattached > 0) ctx.log.info("re-attached pods after a daemon restart", { reattached });
  await ipamIfSupported(ctx, "STATUS");
}
