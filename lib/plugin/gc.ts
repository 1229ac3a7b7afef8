import { delegateVersion, execDelegate } from "../cni/delegate.ts";
import { CniError, ErrorCode } from "../cni/errors.ts";
import { listAttachments } from "../state/attachments.ts";
import type { CommandContext } from "./context.ts";
import { releaseAttachment } from "./release.ts";
import { ipamIfSupported } from "./status.ts";

/** The attachments the runtime still wants (`cni.dev/valid-attachments`). */
function validAttachments(raw: Record<string, unknown>): Set<string> {
  const list = raw["cni.dev/valid-attachments"] ?? [];
  if (!Array.isArray(list)) {
    throw new CniError(ErrorCode.InvalidNetworkConfig, "cni.dev/valid-attachments must be a list");
  }
  return new Set(list.map((a) => {
    const { containerID, ifname } = (a ?? {}) as { containerID?: unknown; ifname?: unknown };
    if (typeof containerID !== "string" || typeof ifname !== "string") {
      throw new CniError(
        ErrorCode.InvalidNetworkConfig,
        "each cni.dev/valid-attachments entry needs containerID and ifname",
      );
    }
    return `${containerID}@${ifname}`;
  }));
}

/**
 * GC: every recorded attachment of this network that the runtime no longer lists is released
 * as DEL would (releaseAttachment); then IPAM's own GC.
 * One stale attachment failing does not stop the others; all failures are reported together.
 */
export async function cmdGc(ctx: CommandContext): Promise<void> {
  const { conf, log } = ctx;
  const valid = validAttachments(ctx.rawConf);
  const { records } = listAttachments(conf.stateDir);
  const failures: string[] = [];
  for (const record of records) {
    if (record.network !== conf.name || valid.has(`${record.containerId}@${record.ifname}`)) {
      continue;
    }
    try {
      await releaseAttachment(ctx, {
        containerId: record.containerId,
        ifname: record.ifname,
        record,
        hostVeth: record.hostVeth,
        // The lease as it was taken: the record's IPAM config and version, not this GC's.
        releaseLease: async () => {
          await execDelegate(
            "DEL",
            conf.ipam.type,
            ctx.env.path,
            { ...ctx.rawConf, cniVersion: delegateVersion(record.cniVersion), ipam: record.ipam },
            { CNI_CONTAINERID: record.containerId, CNI_IFNAME: record.ifname, CNI_NETNS: "" },
          );
        },
      });
      log.info("garbage-collected attachment", {
        staleContainer: record.containerId,
        ifname: record.ifname,
      });
    } catch (e) {
      failures.push(`${record.containerId}/${record.ifname}: ${(e as Error).message}`);
    }
  }
  if (failures.length > 0) {
    throw new CniError(
      ErrorCode.Internal,
      `GC failed for ${failures.length} attachment(s)`,
      failures.join("; "),
    );
  }
  await ipamIfSupported(ctx, "GC");
}
