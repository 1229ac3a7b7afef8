import { BagpipeClient, BagpipeError } from "../bagpipe/mod.ts";
import { CniError, ErrorCode } from "../cni/errors.ts";
import { podLabel } from "../cni/runtime_args.ts";
import { isIpv6 } from "../cni/result.ts";
import type { Logger } from "../log.ts";
import { brNetfilterLoaded, ensureBrNetfilter } from "../net/node_sysctls.ts";
import { bridgeNameFor } from "../net/names.ts";
import type { Vtep } from "../net/network_bridge.ts";
import { linkExists } from "../net/veth.ts";
import { listeningSocketInode } from "../net/listening_socket.ts";
import { type AttachmentRecord, listAttachments, saveAttachment } from "../state/attachments.ts";
import { listNetworks, loadNetwork, type NetworkSpec, saveNetwork } from "../state/networks.ts";
import type { Backend, CommandContext } from "./context.ts";
import {
  lastIdentity,
  lastListener,
  rememberIdentity,
  rememberListener,
  withStateLock,
} from "./daemon_identity.ts";
import { KernelNodeNetwork, networkSpecOf, type NodeNetwork } from "./node_network.ts";

/** The address the daemon knows the pod by: its IPv4 in CIDR form (the daemon is IPv4 only). */
export function attachedAddress(record: AttachmentRecord): string | undefined {
  return record.ips.find((ip) => !isIpv6(ip));
}

/** Turns a daemon failure into the CNI error the runtime acts on: 11 means "try again later". */
function toCni(err: unknown): unknown {
  if (!(err instanceof BagpipeError)) return err;
  const transient = err.failure === "unreachable" || err.failure === "timeout";
  // The message already ends with the daemon's detail; as details too, libcni (which shows
  // msg + details) would print it twice in what podman and kubelet report.
  return new CniError(transient ? ErrorCode.TryAgainLater : ErrorCode.BackendRejected, err.message);
}

/**
 * The pod's endpoint on the BaGPipe BGP daemon of its node, on the network's bridge and VXLAN
 * device that the plugin owns (README, "Kubernetes network model"): the attach names the bridge
 * (`linuxbr`) and forces the VNI, so the daemon reuses our VXLAN device instead of making its own with `proxy`.
 */
export class BagpipeBackend implements Backend {
  #url: string;
  #timeoutMs: number;
  #fetch: typeof globalThis.fetch | undefined;
  /** Made on first use, not before IPAM starts: URL parsing costs ~0.3 ms in a fresh runtime. */
  #clientMade: BagpipeClient | undefined;
  #stateDir: string;
  #log: Logger;
  #network: NodeNetwork;
  #gatewayNetwork: boolean;
  /** The identity found for a pod before its attach ("<containerId>/<ifname>"). */
  #pending: { pod: string; identity: string } | undefined;
  /** Networks made or found complete by bridgeFor in this process. */
  #ensured = new Set<string>();

  /**
   * `fetch` replaces the global one (tests inject a fake daemon); `network` the node side (tests
   * that must not touch the host's kernel inject one). `gatewayNetwork`: the configured network
   * routes its pods through the node (isGateway), so STATUS requires br_netfilter.
   */
  constructor(
    url: string,
    timeoutMs: number,
    stateDir: string,
    log: Logger,
    fetch?: typeof globalThis.fetch,
    network?: NodeNetwork,
    gatewayNetwork = false,
  ) {
    this.#url = url;
    this.#timeoutMs = timeoutMs;
    this.#fetch = fetch;
    this.#stateDir = stateDir;
    this.#log = log;
    this.#network = network ?? new KernelNodeNetwork(stateDir, log);
    this.#gatewayNetwork = gatewayNetwork;
  }

  get #client(): BagpipeClient {
    return this.#clientMade ??= new BagpipeClient(this.#url, {
      timeoutMs: this.#timeoutMs,
      fetch: this.#fetch,
    });
  }

  /** The inode of the daemon's listening socket; undefined when it cannot be known. */
  #listener(): string | undefined {
    // An injected fetch (a fake in tests) is not the socket the kernel's table would show.
    if (this.#fetch) return undefined;
    const { hostname, port, protocol } = this.#client.baseUrl;
    return listeningSocketInode(hostname, Number(port || (protocol === "https:" ? 443 : 80)));
  }

  async bridgeFor(record: AttachmentRecord): Promise<string> {
    const spec = networkSpecOf(record);
    await this.#network.ensure(spec, () => this.#vtep());
    this.#ensured.add(spec.instanceId);
    return bridgeNameFor(record.instanceId);
  }

  async identityFor(record: AttachmentRecord): Promise<string> {
    const pod = `${record.containerId}/${record.ifname}`;
    if (this.#pending?.pod === pod) return this.#pending.identity;
    const identity = await this.#identitySinceLastPing(record);
    this.#pending = { pod, identity };
    return identity;
  }

  async attach(record: AttachmentRecord): Promise<string> {
    const identity = await this.identityFor(record);
    this.#pending = undefined;
    await this.#attachOne(record, identity);
    return identity;
  }

  /**
   * The VTEP address the daemon's VXLAN driver uses (`dataplane_local_address`, else its BGP
   * `local_address`) and its UDP port, read from its looking glass: our VXLAN device must start
   * where the daemon's type-3 routes say the node's tunnels end, and asking the daemon keeps one
   * source of truth instead of a config field that could disagree. Only read when a network's
   * devices are made.
   */
  async #vtep(): Promise<Vtep> {
    try {
      const dataplane = await this.#client.evpnDataplane();
      if (dataplane.driver !== "LinuxVXLANDataplaneDriver") {
        // E.g. the `dummy` driver: a control-plane-only daemon. The plugin still makes and plugs
        // the devices, but nothing programs the other nodes' MACs and VTEPs into them.
        this.#log.warn("the daemon's EVPN driver programs no VXLAN device", {
          driver: dataplane.driver,
          consequence: "pods are advertised, but reach only pods on this node",
        });
      }
      return { address: dataplane.localAddress, port: dataplane.vxlanPort };
    } catch (e) {
      throw toCni(e);
    }
  }

  /**
   * The daemon's identity, resyncing when it changed. It is asked (GET /ping) only when the
   * daemon's listening socket is not the one it had at the last ping: a restarted daemon listens
   * on a new socket, so the same inode means the same process, and ADD is one exchange (the
   * attach). A daemon that is not on this node's loopback (no inode) is pinged every time.
   */
  async #identitySinceLastPing(record: AttachmentRecord): Promise<string> {
    // Read before the ping: a restart between the two then only makes the next ADD ping again.
    const listener = this.#listener();
    const last = lastIdentity(this.#stateDir, this.#url);
    const seen = listener === undefined ? undefined : lastListener(this.#stateDir, this.#url);
    if (last !== undefined && seen?.listener === listener && seen?.identity === last) return last;
    const identity = await this.#ping();
    if (last !== identity) await this.#resync(identity, record);
    if (listener !== undefined) {
      rememberListener(this.#stateDir, this.#url, { listener, identity });
    }
    return identity;
  }

  /**
   * Advertises the node's gateway (the bridge's address and MAC, local port the bridge itself)
   * once per daemon identity, so other nodes know where the node's address lives and their pods'
   * replies to it are not flooded. The daemon forgets it on restart; resync re-attaches it.
   */
  async #ensureGateway(spec: NetworkSpec, identity: string): Promise<void> {
    if (!spec.gatewayCidr || !spec.mac) return;
    const known = loadNetwork(this.#stateDir, spec.instanceId);
    if (known?.gatewayIdentity === identity) return;
    const bridge = bridgeNameFor(spec.instanceId);
    try {
      await this.#client.attach({
        vpnInstanceId: spec.instanceId,
        macAddress: spec.mac,
        localPort: bridge,
        ipAddress: `${spec.gatewayCidr.split("/")[0]}/32`,
        importRt: spec.importRt,
        exportRt: spec.exportRt,
        vni: spec.vni,
        readvertise: spec.readvertise,
        linuxbr: bridge,
        description: "node gateway",
      });
    } catch (e) {
      throw toCni(e);
    }
    saveNetwork(this.#stateDir, { spec: known?.spec ?? spec, gatewayIdentity: identity });
  }

  /**
   * The network's devices (made when missing), the veth plugged into its bridge, the node's
   * gateway advertised, then the pod's endpoint.
   */
  async #attachOne(record: AttachmentRecord, identity: string): Promise<void> {
    const spec = networkSpecOf(record);
    if (!this.#ensured.has(spec.instanceId)) await this.#network.ensure(spec, () => this.#vtep());
    await this.#network.plug(record.hostVeth, spec);
    await this.#ensureGateway(spec, identity);
    const bridge = bridgeNameFor(record.instanceId);
    try {
      await this.#client.attach({
        vpnInstanceId: record.instanceId,
        macAddress: record.mac,
        localPort: record.hostVeth,
        ipAddress: attachedAddress(record),
        gatewayIp: record.gateway && !isIpv6(record.gateway) ? record.gateway : undefined,
        importRt: record.importRt,
        exportRt: record.exportRt,
        vni: record.vni,
        readvertise: record.readvertise,
        linuxbr: bridge,
        // The daemon's looking glass shows it: name the pod as kubectl does, when we know it.
        description: [podLabel(record.pod), `${record.containerId}/${record.ifname}`]
          .filter(Boolean).join(" "),
      });
    } catch (e) {
      throw toCni(e);
    }
  }

  async detach(record: AttachmentRecord): Promise<void> {
    try {
      await this.#client.detach({
        vpnInstanceId: record.instanceId,
        macAddress: record.mac,
        localPort: record.hostVeth,
        ipAddress: attachedAddress(record),
      });
    } catch (e) {
      if (!(e instanceof BagpipeError)) throw e;
      switch (e.failure) {
        case "unreachable":
          // A daemon that is down advertises nothing: after its restart it knows no endpoint.
          this.#log.warn("daemon unreachable at detach; nothing is advertised", {
            detail: e.detail,
          });
          return;
        case "rejected":
          if (e.status !== 400) throw toCni(e); // refused before sending: a bug on our side
          // 400 "not plugged yet" / "could not be found": the endpoint is already gone.
          this.#log.info("daemon had no such endpoint", { detail: e.detail });
          return;
        case "server":
          // Bug B1: stock 17.0.0 withdraws the route, then fails unplugging the port (500).
          this.#log.warn("daemon answered 500 after withdrawing the route (bagpipe-bgp bug B1)", {
            detail: e.detail,
          });
          return;
        default:
          throw toCni(e);
      }
    }
  }

  async check(record: AttachmentRecord): Promise<void> {
    let endpoint;
    try {
      endpoint = await this.#client.findEndpoint({
        vpnInstanceId: record.instanceId,
        macAddress: record.mac,
        ipAddress: attachedAddress(record),
      });
    } catch (e) {
      throw toCni(e);
    }
    if (!endpoint) {
      throw new CniError(
        ErrorCode.StateDrifted,
        `CHECK failed: endpoint ${record.mac} ${
          attachedAddress(record) ?? ""
        } is not attached to VPN instance "${record.instanceId}"`,
        `the daemon at ${this.#url} does not list it among the instance's ports`,
      );
    }
    if (endpoint.localPort !== record.hostVeth) {
      throw new CniError(
        ErrorCode.StateDrifted,
        `CHECK failed: endpoint ${record.mac} is attached on port "${endpoint.localPort}", not "${record.hostVeth}"`,
      );
    }
    const spec = networkSpecOf(record);
    const problems = await this.#network.problems(spec, await this.#vtep());
    problems.push(...this.#network.portProblems(record.hostVeth, spec));
    if (spec.gatewayCidr && spec.mac) {
      let gateway;
      try {
        gateway = await this.#client.findEndpoint({
          vpnInstanceId: spec.instanceId,
          macAddress: spec.mac,
          ipAddress: `${spec.gatewayCidr.split("/")[0]}/32`,
        });
      } catch (e) {
        throw toCni(e);
      }
      if (!gateway) problems.push(`the node's gateway ${spec.gatewayCidr} is not advertised`);
    }
    if (problems.length > 0) {
      throw new CniError(
        ErrorCode.StateDrifted,
        `CHECK failed: network "${record.network}" on this node: ${problems[0]}`,
        problems.join("; "),
      );
    }
  }

  async status(): Promise<void> {
    let peers;
    try {
      await this.#client.ping();
      peers = await this.#client.peers();
    } catch (e) {
      const err = e instanceof BagpipeError ? e : undefined;
      throw new CniError(
        ErrorCode.PluginNotAvailable,
        `BaGPipe daemon at ${this.#url} is not available`,
        err?.message ?? String(e),
      );
    }
    if (!peers.some((p) => p.state === "Established")) {
      const states = peers.map((p) => `${p.id} ${p.state}`).join(", ") || "no peer configured";
      throw new CniError(
        ErrorCode.PluginNotAvailableLimited,
        `BaGPipe daemon at ${this.#url} has no Established BGP peer: pods would not be reachable from other nodes`,
        states,
      );
    }
    await this.#nodeStatus();
  }

  /**
   * The node side of STATUS. 50 when a new pod could not get the Kubernetes network model here
   * (br_netfilter missing and not loadable: ADD would fail); 51 when a network that already has
   * pods on this node is broken (device missing or with `proxy`, gateway address gone,
   * ip_forward off, masquerade rules gone) and could not be repaired: its pods are limited.
   * What can be repaired is (the same idempotent steps as the first ADD), then looked at again.
   */
  async #nodeStatus(): Promise<void> {
    if (this.#gatewayNetwork && !brNetfilterLoaded()) await ensureBrNetfilter();
    const broken: string[] = [];
    for (const { spec } of listNetworks(this.#stateDir)) {
      if (spec.bagpipeUrl !== this.#url) continue;
      const vtep = await this.#vtep();
      let problems = await this.#network.problems(spec, vtep);
      if (problems.length === 0) continue;
      this.#log.warn("repairing network infrastructure", { instance: spec.instanceId, problems });
      try {
        await this.#network.ensure(spec, () => Promise.resolve(vtep), true);
        problems = await this.#network.problems(spec, vtep);
      } catch (e) {
        problems.push(`repair failed: ${(e as Error).message}`);
      }
      broken.push(...problems.map((p) => `${spec.instanceId}: ${p}`));
    }
    if (broken.length > 0) {
      throw new CniError(
        ErrorCode.PluginNotAvailableLimited,
        `this node cannot give pods the Kubernetes network model: ${broken[0]}`,
        broken.join("; "),
      );
    }
  }

  async resyncIfRestarted(): Promise<number> {
    const identity = await this.#ping();
    return lastIdentity(this.#stateDir, this.#url) === identity ? 0 : await this.#resync(identity);
  }

  async #ping(): Promise<string> {
    try {
      return await this.#client.ping();
    } catch (e) {
      throw toCni(e);
    }
  }

  /**
   * Re-attaches every recorded pod of this daemon after it restarted (it keeps nothing). One
   * process does it while the others wait on the lock and then find the identity up to date.
   */
  #resync(identity: string, skip?: AttachmentRecord): Promise<number> {
    return withStateLock(this.#stateDir, "resync", async () => {
      if (lastIdentity(this.#stateDir, this.#url) === identity) return 0;
      let count = 0;
      const failures: string[] = [];
      // Gateways first, including those of networks with no pod left on this node.
      for (const { spec } of listNetworks(this.#stateDir)) {
        if (spec.bagpipeUrl !== this.#url) continue;
        try {
          await this.#network.ensure(spec, () => this.#vtep());
          await this.#ensureGateway(spec, identity);
        } catch (e) {
          failures.push(`gateway of ${spec.instanceId}: ${(e as Error).message}`);
        }
      }
      for (const record of listAttachments(this.#stateDir).records) {
        if (record.bagpipeUrl !== this.#url || record.daemonIdentity === identity) continue;
        if (skip && record.containerId === skip.containerId && record.ifname === skip.ifname) {
          continue;
        }
        // A pod whose veth is gone was deleted without DEL; GC removes its record.
        if (!linkExists(record.hostVeth)) continue;
        try {
          await this.#attachOne(record, identity);
          saveAttachment(this.#stateDir, { ...record, daemonIdentity: identity });
          count++;
        } catch (e) {
          failures.push(`${record.containerId}/${record.ifname}: ${(e as Error).message}`);
        }
      }
      if (failures.length > 0) {
        this.#log.error("resync left pods unattached", { failures });
        throw new CniError(
          ErrorCode.TryAgainLater,
          `resync after a restart of the daemon at ${this.#url} failed for ${failures.length} pod(s)`,
          failures.join("; "),
        );
      }
      rememberIdentity(this.#stateDir, this.#url, identity);
      if (count > 0) this.#log.info("re-attached pods after a daemon restart", { count, identity });
      return count;
    });
  }
}

/** The backend for `"backend": "bagpipe"` (the default). */
export function bagpipeBackend(ctx: Omit<CommandContext, "backend">): Backend {
  const { conf, log } = ctx;
  return new BagpipeBackend(
    conf.bagpipeUrl,
    conf.bagpipeTimeoutMs,
    conf.stateDir,
    log,
    undefined,
    undefined,
    conf.isGateway,
  );
}
