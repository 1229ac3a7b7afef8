import { atomicWrite } from "../atomic_write.ts";
import { CniError, ErrorCode } from "../cni/errors.ts";

/**
 * What DEL, CHECK, GC and resync need about a pod's attachment, recorded at ADD time so that they
 * work after the pod's netns is gone or the daemon forgot everything (it keeps nothing across a
 * restart).
 */
export interface AttachmentRecord {
  containerId: string;
  ifname: string;
  netns: string;
  network: string;
  /** The config's cniVersion at ADD, so GC can call IPAM like ADD did. */
  cniVersion: string;
  hostVeth: string;
  mac: string;
  /** The pod's addresses in CIDR form. */
  ips: string[];
  gateway?: string;
  instanceId: string;
  importRt: string[];
  exportRt: string[];
  vni?: number;
  advertiseSubnet: boolean;
  readvertise?: { fromRt: string[]; toRt: string[] };
  isGateway: boolean;
  /** ipMasq of the network (absent in records older than it: then on, the default). */
  ipMasq?: boolean;
  nonMasqueradeCidrs?: string[];
  /** The network's MTU (absent in older records: 1450, the default). */
  mtu?: number;
  bagpipeUrl: string;
  /** The daemon's /ping identity when the endpoint was last attached. */
  daemonIdentity?: string;
  /** The IPAM config, so GC can release leases of records whose pods are gone. */
  ipam: Record<string, unknown>;
  createdAt: string;
}

/** The file a record lives in: '@' cannot occur in a container ID, so the name parses back. */
function recordPath(dir: string, containerId: string, ifname: string): string {
  return `${dir}/${containerId}@${ifname}.json`;
}

/**
 * Writes a record atomically (temporary file, then rename), so a concurrent reader or a crash
 * never sees half a record.
 */
export function saveAttachment(dir: string, record: AttachmentRecord): void {
  const path = recordPath(dir, record.containerId, record.ifname);
  try {
    Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
    atomicWrite(path, JSON.stringify(record, null, 1) + "\n", 0o600);
  } catch (e) {
    throw new CniError(
      ErrorCode.IoFailure,
      `failed to write attachment record ${path}`,
      (e as Error).message,
    );
  }
}

/** Reads a record; undefined when there is none. */
export function loadAttachment(
  dir: string,
  containerId: string,
  ifname: string,
): AttachmentRecord | undefined {
  try {
    return JSON.parse(
      Deno.readTextFileSync(recordPath(dir, containerId, ifname)),
    ) as AttachmentRecord;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw new Error(
      `failed to read attachment record ${recordPath(dir, containerId, ifname)}: ${
        (e as Error).message
      }`,
    );
  }
}

/** Deletes a record; a missing one is fine (DEL is idempotent). */
export function removeAttachment(dir: string, containerId: string, ifname: string): void {
  try {
    Deno.removeSync(recordPath(dir, containerId, ifname));
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

/** Every record in the directory; unreadable files are skipped and named in `broken`. */
export function listAttachments(dir: string): { records: AttachmentRecord[]; broken: string[] } {
  const records: AttachmentRecord[] = [];
  const broken: string[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { records, broken };
    throw e;
  }
  for (const entry of entries) {
    if (!entry.isFile || !entry.name.endsWith(".json") || !entry.name.includes("@")) continue;
    try {
      records.push(JSON.parse(Deno.readTextFileSync(`${dir}/${entry.name}`)) as AttachmentRecord);
    } catch {
      broken.push(entry.name);
    }
  }
  return { records, broken };
}
