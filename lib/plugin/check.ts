import { CniError, ErrorCode } from "../cni/errors.ts";
import { parseResult } from "../cni/result.ts";
import { readLink, readRoutes } from "../net/inspect.ts";
import { linkExists } from "../net/veth.ts";
import { loadAttachment } from "../state/attachments.ts";
import type { CommandContext } from "./context.ts";
import { ipamCheck } from "./ipam.ts";

function drift(what: string, why: string): CniError {
  return new CniError(ErrorCode.StateDrifted, `CHECK failed: ${what}`, why);
}

/** Normalises a CIDR for comparison (lower case, IPv6 as the kernel prints it is already canonical). */
const norm = (cidr: string) => cidr.toLowerCase();

/**
 * CHECK: the pod's interface, MAC, addresses and routes inside its netns match prevResult; the
 * host veth still exists; IPAM agrees; the daemon still has the endpoint.
 */
export async function cmdCheck(ctx: CommandContext): Promise<void> {
  const { env, conf } = ctx;
  if (!conf.prevResult) {
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      "CHECK needs prevResult in the network configuration",
    );
  }
  const prev = parseResult(conf.prevResult, "prevResult");
  const index = prev.interfaces.findIndex((i) => i.name === env.ifname && i.sandbox === env.netns);
  if (index < 0) {
    throw drift(
      `interface "${env.ifname}"`,
      `prevResult has no interface "${env.ifname}" in sandbox "${env.netns}"`,
    );
  }
  const expected = prev.interfaces[index]!;

  const [link, routes] = await Promise.all([
    readLink(env.netns, env.ifname),
    readRoutes(env.netns, env.ifname).catch(() => []),
  ]);
  if (!link) throw drift(`interface "${env.ifname}"`, `it does not exist in netns "${env.netns}"`);
  if (expected.mac && link.mac.toLowerCase() !== expected.mac.toLowerCase()) {
    throw drift(`interface "${env.ifname}"`, `MAC is ${link.mac}, prevResult says ${expected.mac}`);
  }
  if (!link.up) throw drift(`interface "${env.ifname}"`, "it is down");
  const present = new Set(link.addresses.map(norm));
  for (const ip of prev.ips.filter((ip) => ip.interface === index)) {
    if (!present.has(norm(ip.address))) {
      throw drift(
        `address ${ip.address} on "${env.ifname}"`,
        `missing; the interface has [${link.addresses.join(", ")}]`,
      );
    }
  }
  for (const route of prev.routes) {
    const found = routes.some((r) =>
      norm(r.dst) === norm(route.dst) && (!route.gw || r.gw === route.gw)
    );
    if (!found) {
      throw drift(
        `route ${route.dst}${route.gw ? ` via ${route.gw}` : ""}`,
        `missing in netns "${env.netns}"`,
      );
    }
  }

  const record = loadAttachment(conf.stateDir, env.containerId, env.ifname);
  if (!record) {
    throw drift(`attachment of ${env.containerId}/${env.ifname}`, `no record in ${conf.stateDir}`);
  }
  if (!linkExists(record.hostVeth)) {
    throw drift(`host veth "${record.hostVeth}"`, "it does not exist");
  }
  await ipamCheck(ctx);
  await ctx.backend.check(record);
}
