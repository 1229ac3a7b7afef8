import type { CniEnv } from "../cni/env.ts";
import type { NetConf } from "../cni/config.ts";
import type { CniVersion } from "../cni/version.ts";
import type { Logger } from "../log.ts";
import type { AttachmentRecord } from "../state/attachments.ts";

/**
 * What advertises a pod on the fabric. ADD/DEL/CHECK/STATUS/GC call it at fixed points; the
 * veth, IPAM and state around it are the plugin's.
 */
export interface Backend {
  /**
   * Makes the pod's network on this node when it is missing; the bridge the pod's host veth is
   * to be made in (plugged at creation, no process of its own), or undefined for none.
   */
  bridgeFor(record: AttachmentRecord): Promise<string | undefined>;
  /** The daemon identity the pod's attach will go to (resyncing first when it changed). */
  identityFor(record: AttachmentRecord): Promise<string | undefined>;
  /** Advertises the pod (its veth exists and is up). Returns the daemon identity it talked to. */
  attach(record: AttachmentRecord): Promise<string | undefined>;
  /** Withdraws the pod; best effort, tolerating what the daemon answers for a gone endpoint. */
  detach(record: AttachmentRecord): Promise<void>;
  /** Throws CniError when the fabric does not have the pod as recorded. */
  check(record: AttachmentRecord): Promise<void>;
  /** Throws CniError 50/51 when pods cannot be added now. */
  status(): Promise<void>;
  /** Re-attaches what the daemon lost (a restart wipes it); returns how many were re-attached. */
  resyncIfRestarted(): Promise<number>;
}

/** Everything one CNI command works with. */
export interface CommandContext {
  env: CniEnv;
  conf: NetConf;
  /** The config exactly as received, to hand on to IPAM. */
  rawConf: Record<string, unknown>;
  version: CniVersion;
  log: Logger;
  backend: Backend;
}
