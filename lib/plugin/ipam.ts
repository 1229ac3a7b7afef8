import { delegateVersion, execDelegate } from "../cni/delegate.ts";
import { parseResult, type Result } from "../cni/result.ts";
import type { CommandContext } from "./context.ts";

/** The config handed to the IPAM plugin: ours, at a version it understands. */
function ipamConf(ctx: CommandContext): Record<string, unknown> {
  return { ...ctx.rawConf, cniVersion: delegateVersion(ctx.version) };
}

/** The CNI_* variables for IPAM, from what we were given (not inherited, so callers need no process). */
function ipamEnv(ctx: CommandContext): Record<string, string> {
  const { env } = ctx;
  return {
    CNI_CONTAINERID: env.containerId,
    CNI_NETNS: env.netns,
    CNI_IFNAME: env.ifname,
    CNI_ARGS: Object.entries(env.args).map(([k, v]) => `${k}=${v}`).join(";"),
    CNI_PATH: env.path.join(":"),
  };
}

/** IPAM ADD: the pod's addresses, routes and DNS. */
export async function ipamAdd(ctx: CommandContext): Promise<Result> {
  const raw = await execDelegate(
    "ADD",
    ctx.conf.ipam.type,
    ctx.env.path,
    ipamConf(ctx),
    ipamEnv(ctx),
  );
  return parseResult(raw, `result of IPAM plugin ${ctx.conf.ipam.type}`);
}

/** IPAM DEL: releases the pod's leases (idempotent in every IPAM plugin we know). */
export async function ipamDel(ctx: CommandContext): Promise<void> {
  await execDelegate("DEL", ctx.conf.ipam.type, ctx.env.path, ipamConf(ctx), ipamEnv(ctx));
}

/** IPAM CHECK, with the prevResult CHECK received. */
export async function ipamCheck(ctx: CommandContext): Promise<void> {
  await execDelegate("CHECK", ctx.conf.ipam.type, ctx.env.path, ipamConf(ctx), ipamEnv(ctx));
}
