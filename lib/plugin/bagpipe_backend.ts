import { BagpipeClient, BagpipeError } from "../bagpipe/mod.ts";
import { CniError, ErrorCode } from "../cni/errors.ts";
import { isIpv6 } from "../cni/result.ts";
import type { Logger } from "../log.ts";
import { ensureAnycastGateway, masterOf, plugIntoBridge } from "../net/bridge_port.ts";
import { listeningSocketInode } from "../net/listening_socket.ts";
import { bridgeNameFor, gatewayMacFor, vxlanNameFor } from "../net/names.ts";
import { deleteLink, linkExists } from "../net/veth.ts";
import { type AttachmentRecord, listAttachments, saveAttachment } from "../state/attachments.ts";
import type { Backend, CommandContext } from "./context.ts";
import { controlPlaneOnly } from "./control_plane_only.ts";
import {
  lastIdentity,
  lastListener,
  rememberIdentity,
  rememberListener,
  withStateLock,
} from "./daemon_identity.ts";

/** The address the daemon knows the pod by: its IPv4 in CIDR form (the daemon is IPv4 only). */
export function attachedAddress(record: AttachmentRecord): string | undefined {
  return record.ips.find((ip) => !isIpv6(ip));
}

/** Turns a daemon failure into the CNI error the runtime acts on: 11 means "try again later". */
function toCni(err: unknown): unknown {
  if (!(err instanceof BagpipeError)) return err;
  const transient = err.failure === "unreachable" || err.failure === "timeout";
  return new CniError(
    transient ? ErrorCode.TryAgainLater : ErrorCode.BackendRejected,
    err.message,
    err.detail,
  );
}

/** The pod's endpoint on the BaGPipe BGP daemon of its node. */
export class BagpipeBackend implements Backend {
  #client: BagpipeClient;
  #url: string;
  #stateDir: string;
  #log: Logger;
  /** The inode of the daemon's listening socket; undefined when it cannot be known. */
  #listener: () => string | undefined;

  /** `fetch` replaces the global one (tests inject a fake daemon). */
  constructor(
    url: string,
    timeoutMs: number,
    stateDir: string,
    log: Logger,
    fetch?: typeof globalThis.fetch,
  ) {
    this.#url = url;
    this.#client = new BagpipeClient(url, { timeoutMs, fetch });
    this.#stateDir = stateDir;
    this.#log = log;
    // An injected fetch (a fake in tests) is not the socket the kernel's table would show.
    const { hostname, port, protocol } = new URL(url);
    this.#listener = fetch
      ? () => undefined
      : () => listeningSocketInode(hostname, Number(port || (protocol === "https:" ? 443 : 80)));
  }

  async attach(record: AttachmentRecord): Promise<string> {
    const identity = await this.#identitySinceLastPing(record);
    await this.#attachOne(record);
    return identity;
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

  async #attachOne(record: AttachmentRecord): Promise<void> {
    const bridge = bridgeNameFor(record.instanceId), vxlan = vxlanNameFor(record.instanceId);
    // Bug B2: an instance that emptied leaves its VXLAN device behind, and the next attach
    // fails with "File exists". Without its bridge, the device is such a leftover.
    if (linkExists(vxlan) && !linkExists(bridge)) {
      this.#log.warn("deleting VXLAN device left by an emptied instance (bagpipe-bgp bug B2)", {
        vxlan,
      });
      await deleteLink(vxlan);
    }
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
        description: `${record.containerId}/${record.ifname}`,
      });
    } catch (e) {
      throw toCni(e);
    }
    // When the daemon still holds this endpoint from an earlier pod with the same address (bug
    // B1), it treats the attach as a refresh and leaves the new veth out of its bridge.
    if (masterOf(record.hostVeth) !== bridge) {
      if (!linkExists(bridge) && await controlPlaneOnly(this.#client, record, bridge, this.#log)) {
        return;
      }
      this.#log.info("plugging veth into the instance bridge the daemon skipped", {
        hostVeth: record.hostVeth,
        bridge,
      });
      await plugIntoBridge(record.hostVeth, bridge, record.mac);
    }
    if (record.isGateway && record.gateway) {
      const prefix = attachedAddress(record)?.split("/")[1] ?? "32";
      await ensureAnycastGateway(
        bridge,
        `${record.gateway}/${prefix}`,
        gatewayMacFor(record.instanceId),
      );
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
      for (const record of listAttachments(this.#stateDir).records) {
        if (record.bagpipeUrl !== this.#url || record.daemonIdentity === identity) continue;
        if (skip && record.containerId === skip.containerId && record.ifname === skip.ifname) {
          continue;
        }
        // A pod whose veth is gone was deleted without DEL; GC removes its record.
        if (!linkExists(record.hostVeth)) continue;
        try {
          await this.#attachOne(record);
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
  return new BagpipeBackend(conf.bagpipeUrl, conf.bagpipeTimeoutMs, conf.stateDir, log);
}
