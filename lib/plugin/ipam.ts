import { delegateVersion, execDelegate } from "../cni/delegate.ts";
import { parseResult, type Result } from "../cni/result.ts";
import type { CommandContext } from "./context.ts";

/** The config handed to the IPAM plugin: ours, at a version it understands. */
function ipamConf(ctx: CommandContext): Record<string, unknown> {
  return { ...ctx.rawConf, cniVersion: delegateVersion(ctx.version) };
}

/** IPAM ADD: the pod's addresses, routes and DNS. */
export async function ipamAdd(ctx: CommandContext): Promise<Result> {
  const raw = await execDelegate("ADD", ctx.conf.ipam.type, ctx.env.path, ipamConf(ctx));
  return parseResult(raw, `result of IPAM plugin ${ctx.conf.ipam.type}`);
}

/** IPAM DEL: releases the pod's leases (idempotent in every IPAM plugin we know). */
export async function ipamDel(ctx: CommandContext): Promise<void> {
  await execDelegate("DEL", ctx.conf.ipam.type, ctx.env.path, ipamConf(ctx));
}

/** IPAM CHECK, with the prevResult CHECK received. */
export async function ipamCheck(ctx: CommandContext): Promise<void> {
  await execDelegate("CHECK", ctx.conf.ipam.type, ctx.env.path, ipamConf(ctx));
}
