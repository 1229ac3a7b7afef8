import { CniError, ErrorCode } from "../cni/errors.ts";
import { isIpv6, parseResult, type Result, type ResultRoute } from "../cni/result.ts";
import {
  checkRequestedIps,
  checkRequestedMac,
  podIdentity,
  requestedIps,
  requestedMac,
} from "../cni/runtime_args.ts";
import { macOf } from "../net/bridge_port.ts";
import { netnsExists } from "../net/netns.ts";
import { hostVethFor, podMacFor } from "../net/names.ts";
import { createPodInterface, deleteLink, enableArpNotify, linkExists } from "../net/veth.ts";
import { type AttachmentRecord, removeAttachment, saveAttachment } from "../state/attachments.ts";
import type { CommandContext } from "./context.ts";
import { ipamAdd, ipamDel } from "./ipam.ts";
import { Rollback } from "./rollback.ts";
import { StepTimes } from "./step_times.ts";

/** The routes the pod gets: IPAM's (a missing gw means the subnet's gateway), plus a default route. */
export function podRoutes(ipam: Result): ResultRoute[] {
  const gatewayOf = (v6: boolean) =>
    ipam.ips.find((ip) => isIpv6(ip.address) === v6 && ip.gateway)?.gateway;
  const routes = ipam.routes.map((r) => ({ dst: r.dst, gw: r.gw ?? gatewayOf(isIpv6(r.dst)) }));
  for (const v6 of [false, true]) {
    const gw = gatewayOf(v6);
    const defaultDst = v6 ? "::/0" : "0.0.0.0/0";
    if (gw && !routes.some((r) => r.dst === defaultDst)) routes.push({ dst: defaultDst, gw });
  }
  return routes.map((r) => (r.gw ? r : { dst: r.dst }));
}

/**
 * ADD: IPAM (while arp_notify is turned on in the pod) → the network's devices when missing →
 * the veth pair, made in the bridge, addressed and routed by one `ip` process (while the state
 * record is written, with the daemon identity) → attach on the fabric. Every step
 * registers its undo; a failure undoes all earlier steps and reports the original error.
 */
export async function cmdAdd(ctx: CommandContext): Promise<Result> {
  const { env, conf, log } = ctx;
  if (!netnsExists(env.netns)) {
    throw new CniError(ErrorCode.InvalidEnvironment, `CNI_NETNS "${env.netns}" does not exist`);
  }
  const rollback = new Rollback();
  const times = new StepTimes();
  try {
    // The veth's host name and the pod's MAC come from the address, so IPAM goes first; the one
    // thing that needs no address (a sysctl in the pod) runs alongside it.
    const [ipamDone, arpNotifyDone] = await Promise.allSettled([
      ipamAdd(ctx),
      enableArpNotify(env.netns),
    ]);
    if (ipamDone.status === "fulfilled") {
      rollback.push(`IPAM lease (${conf.ipam.type})`, () => ipamDel(ctx));
    }
    if (ipamDone.status === "rejected") throw ipamDone.reason;
    if (arpNotifyDone.status === "rejected") throw arpNotifyDone.reason;
    const ipam = ipamDone.value;
    times.lap("ipam");
    const primary = ipam.ips.find((ip) => !isIpv6(ip.address)) ?? ipam.ips[0];
    if (!primary) {
      throw new CniError(
        ErrorCode.InvalidNetworkConfig,
        `IPAM plugin ${conf.ipam.type} returned no address`,
      );
    }

    const hostVeth = hostVethFor(conf.vpnInstanceId, primary.address);
    const podMac = podMacFor(primary.address);
    // What the runtime asked for (IP=, runtimeConfig.ips/mac) is held against what IPAM gave.
    const assigned = ipam.ips.map((ip) => ip.address);
    checkRequestedIps(requestedIps(env.args, conf.runtimeConfig), assigned, conf.ipam.type);
    checkRequestedMac(requestedMac(env.args, conf.runtimeConfig), podMac, primary.address);
    if (linkExists(hostVeth)) {
      // IPAM just handed us this address, so a link named after it is left over from a run that
      // was killed before it could roll back.
      log.warn("deleting leftover host veth", { hostVeth });
      await deleteLink(hostVeth);
    }
    const routes = podRoutes(ipam);
    const record: AttachmentRecord = {
      containerId: env.containerId,
      ifname: env.ifname,
      netns: env.netns,
      network: conf.name,
      cniVersion: ctx.version,
      pod: podIdentity(env.args),
      hostVeth,
      mac: podMac,
      ips: ipam.ips.map((ip) => ip.address),
      gateway: primary.gateway,
      instanceId: conf.vpnInstanceId,
      importRt: conf.importrt,
      exportRt: conf.exportrt,
      vni: conf.vni,
      advertiseSubnet: conf.advertiseSubnet,
      readvertise: conf.readvertise,
      isGateway: conf.isGateway,
      ipMasq: conf.ipMasq,
      nonMasqueradeCidrs: conf.nonMasqueradeCidrs,
      mtu: conf.mtu,
      bagpipeUrl: conf.bagpipeUrl,
      ipam: conf.ipam,
      createdAt: new Date().toISOString(),
    };
    // The network's devices first, so the veth is made plugged into its bridge.
    const bridge = await ctx.backend.bridgeFor(record);
    // Registered first: a batch that fails half-way may have made the pair already.
    rollback.push(`veth "${hostVeth}" of ${env.ifname}`, () => deleteLink(hostVeth));
    // While the `ip` process works (its own core on a node busy starting pods, where work beside
    // IPAM's processes only slows them): the daemon's identity and the record.
    let recorded: Promise<PromiseSettledResult<void>[]> = Promise.allSettled([]);
    const [made] = await Promise.allSettled([
      createPodInterface({
        hostVeth,
        ifname: env.ifname,
        netns: env.netns,
        mtu: conf.mtu,
        mac: podMac,
        addresses: ipam.ips.map((ip) => ip.address),
        routes,
        bridge,
      }, () => {
        recorded = Promise.allSettled([recordAttachment(ctx, record, rollback)]);
      }),
    ]);
    // Both settled before anything is thrown, so a rollback never races the record's write.
    for (const step of [made, ...await recorded]) if (step.status === "rejected") throw step.reason;
    times.lap("veth");

    // A detach that fails (the daemon timed out: it may still attach, or hold the endpoint) must
    // not free the address for another pod: what is older stays for the runtime's DEL.
    rollback.push(
      `attachment of "${hostVeth}" to VPN instance "${conf.vpnInstanceId}"`,
      () => ctx.backend.detach(record),
      { holdsOlder: true },
    );
    if (await ctx.backend.attach(record) !== undefined) times.lap("attach");
    rollback.commit();

    const result: Result = {
      interfaces: [
        { name: hostVeth, mac: macOf(hostVeth) },
        { name: env.ifname, mac: podMac, mtu: conf.mtu, sandbox: env.netns },
      ].map((i) => (i.mac === undefined ? { name: i.name } : i)),
      ips: ipam.ips.map((ip) => ({ ...ip, interface: 1 })),
      routes,
      dns: ipam.dns,
    };
    log.info("added", {
      hostVeth,
      mac: podMac,
      ips: record.ips,
      instance: conf.vpnInstanceId,
      steps: times.steps,
    });
    return chainAfterPrevious(ctx, result);
  } catch (e) {
    const undoFailures = await rollback.unwind();
    for (const failure of undoFailures) log.error(failure);
    if (undoFailures.length > 0 && e instanceof CniError) {
      throw new CniError(
        e.code,
        e.message,
        [e.details, `rollback: ${undoFailures.join("; ")}`].filter(Boolean).join("; "),
      );
    }
    throw e;
  }
}

/**
 * Writes the pod's record before anything is advertised, so a DEL or GC after a crash still finds
 * what to withdraw; with the identity of the daemon the attach will go to (pinged only when it
 * may have restarted: then resynced; a restart after this is the next ADD's resync).
 */
async function recordAttachment(
  ctx: CommandContext,
  record: AttachmentRecord,
  rollback: Rollback,
): Promise<void> {
  const { stateDir } = ctx.conf;
  const identity = await ctx.backend.identityFor(record);
  saveAttachment(stateDir, { ...record, daemonIdentity: identity });
  rollback.push(
    "attachment record",
    () => Promise.resolve(removeAttachment(stateDir, record.containerId, record.ifname)),
  );
}

/** When we are not first in a chain, our interfaces, addresses and routes extend the previous result. */
function chainAfterPrevious(ctx: CommandContext, ours: Result): Result {
  if (!ctx.conf.prevResult) return ours;
  const prev = parseResult(ctx.conf.prevResult, "prevResult");
  const offset = prev.interfaces.length;
  return {
    interfaces: [...prev.interfaces, ...ours.interfaces],
    ips: [
      ...prev.ips,
      ...ours.ips.map((ip) => ({ ...ip, interface: (ip.interface ?? 0) + offset })),
    ],
    routes: [...prev.routes, ...ours.routes],
    dns: Object.keys(ours.dns).length > 0 ? ours.dns : prev.dns,
  };
}
