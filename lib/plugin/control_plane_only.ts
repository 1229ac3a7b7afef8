import { type BagpipeClient, BagpipeError } from "../bagpipe/mod.ts";
import { CniError, ErrorCode } from "../cni/errors.ts";
import type { Logger } from "../log.ts";
import type { AttachmentRecord } from "../state/attachments.ts";

/**
 * Called when the daemon accepted an attach but the instance's bridge does not exist: true when
 * the daemon runs a driver without a dataplane (bagpipe-bgp's `dummy` EVPN driver advertises the
 * pod and builds nothing), a legitimate control-plane-only set-up: ADD succeeds with a warning
 * and the veth stays out of any bridge. Otherwise throws an error naming what is missing.
 * Only this failure path asks the looking glass; ADD never does.
 */
export async function controlPlaneOnly(
  client: BagpipeClient,
  record: AttachmentRecord,
  bridge: string,
  log: Logger,
): Promise<boolean> {
  let dataplane;
  try {
    dataplane = await client.instanceDataplane(record.instanceId);
  } catch (e) {
    if (!(e instanceof BagpipeError)) throw e;
    throw new CniError(
      ErrorCode.LinkSetupFailed,
      `bridge "${bridge}" of VPN instance "${record.instanceId}" does not exist after the daemon accepted the attach of "${record.hostVeth}", and its looking glass could not tell why`,
      e.message,
    );
  }
  if (dataplane?.driver !== undefined) {
    log.warn(
      "control plane only: the daemon's EVPN driver builds no dataplane, so the pod is advertised but its veth is plugged into no bridge",
      { driver: dataplane.driver, instance: record.instanceId, hostVeth: record.hostVeth },
    );
    return true;
  }
  throw new CniError(
    ErrorCode.LinkSetupFailed,
    `bridge "${bridge}" of VPN instance "${record.instanceId}" does not exist after the daemon accepted the attach of "${record.hostVeth}"`,
    dataplane === null
      ? "the daemon does not list the instance"
      : `the daemon's driver reports bridge "${dataplane.linuxBridge}" and VXLAN device "${dataplane.vxlanIf}"`,
  );
}
