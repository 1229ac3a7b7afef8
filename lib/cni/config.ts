import * as z from "zod/mini";
import { isIpv4Prefix, isRouteTarget } from "../bagpipe/requests.ts";
import { CniError, ErrorCode } from "./errors.ts";

const INSTANCE_ID = /^[a-zA-Z0-9][a-zA-Z0-9_-]{0,7}$/;
const NETWORK_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$/;

// zod checks the shape; the rules below check values. Every zod check, refine or default is an
// object built at start-up, and the plugin starts once per pod: the rules are plain code, and
// fields of one type share one schema object (measured: building the schema 1.28 → 0.99 ms). The
// schema itself is built on first use, so the command line, which shares this bundle's start-up,
// does not build it for nothing.
function buildNetConfSchema() {
  const text = z.string(), maybeText = z.optional(text);
  const maybeNumber = z.optional(z.number()), maybeBoolean = z.optional(z.boolean());
  const maybeRecord = z.optional(z.record(text, z.unknown()));
  const routeTargets = z.union([text, z.array(text)]);
  return z.looseObject({
    cniVersion: maybeText,
    name: text,
    type: text,
    importrt: routeTargets,
    exportrt: routeTargets,
    mtu: maybeNumber,
    isGateway: maybeBoolean,
    ipMasq: maybeBoolean,
    nonMasqueradeCidrs: z.optional(z.array(text)),
    ipam: z.looseObject({ type: text }),
    backend: z.optional(z.enum(["bagpipe", "none"])),
    bagpipeUrl: maybeText,
    bagpipeTimeoutMs: maybeNumber,
    vpnInstanceId: maybeText,
    vni: maybeNumber,
    advertiseSubnet: maybeBoolean,
    readvertise: z.optional(z.object({ fromRt: routeTargets, toRt: routeTargets })),
    stateDir: maybeText,
    logFile: maybeText,
    runtimeConfig: maybeRecord,
    args: maybeRecord,
    prevResult: maybeRecord,
  });
}
let netConfSchema: ReturnType<typeof buildNetConfSchema> | undefined;
type RawNetConf = z.infer<ReturnType<typeof buildNetConfSchema>>;

/** The seed wrote one route target as a string; a list or a comma-separated string also work. */
function routeTargetList(value: string | string[]): string[] {
  return (Array.isArray(value) ? value : value.split(",")).map((s) => s.trim()).filter(Boolean);
}

/** An integer within [min, max], or why not. */
function intProblem(value: number, min: number, max: number): string | undefined {
  if (!Number.isInteger(value)) return "must be an integer";
  if (value < min) return `must be at least ${min}`;
  if (value > max) return `must be at most ${max}`;
  return undefined;
}

/** Each value rule, as "field: why"; empty when the config is valid. */
function valueProblems(c: RawNetConf): string[] {
  const problems: string[] = [];
  const add = (field: string, why: string | undefined) => why && problems.push(`${field}: ${why}`);
  if (!NETWORK_NAME.test(c.name)) {
    add("name", "must start with a letter or digit; letters, digits, _ . - only");
  }
  const rts: [string, string | string[]][] = [["importrt", c.importrt], ["exportrt", c.exportrt]];
  if (c.readvertise) {
    rts.push(["readvertise.fromRt", c.readvertise.fromRt], [
      "readvertise.toRt",
      c.readvertise.toRt,
    ]);
  }
  for (const [field, value] of rts) {
    const list = routeTargetList(value);
    if (list.length === 0) add(field, "needs at least one route target");
    else if (!list.every(isRouteTarget)) {
      // The daemon's one rule: bagpipe-bgp 17 parses route targets with int(asn), so an IPv4:NN
      // target would pass here and then fail at attach, after a full rollback.
      add(
        field,
        "each route target must be ASN:NN within range, e.g. 64512:90 (bagpipe-bgp 17 reads no IPv4:NN)",
      );
    }
  }
  if (c.mtu !== undefined) add("mtu", intProblem(c.mtu, 576, 65535));
  if (c.ipam.type === "") add("ipam.type", "names the IPAM plugin");
  if (c.bagpipeUrl !== undefined && !/^http:\/\/[^\s/]+(:\d+)?\/?$/.test(c.bagpipeUrl)) {
    add("bagpipeUrl", "must be http://host:port");
  }
  if (c.bagpipeTimeoutMs !== undefined) {
    add("bagpipeTimeoutMs", intProblem(c.bagpipeTimeoutMs, 100, 120_000));
  }
  if (c.vpnInstanceId !== undefined && !INSTANCE_ID.test(c.vpnInstanceId)) {
    add("vpnInstanceId", "must be 1-8 characters: letters, digits, _ or -");
  }
  if (c.vni !== undefined) {
    add("vni", intProblem(c.vni, 1, 16_777_215) && "must be an integer 1..16777215");
  } else if (c.backend !== "none") {
    // The plugin makes the network's VXLAN device; bagpipe-bgp reuses it only when its VNI is
    // the instance's, which needs the same forced VNI on every node (README, "Kubernetes network model").
    add(
      "vni",
      "is required: the plugin's VXLAN device carries this VNI and bagpipe-bgp must use the same on every node",
    );
  }
  for (const cidr of c.nonMasqueradeCidrs ?? []) {
    if (!isIpv4Prefix(cidr)) {
      add("nonMasqueradeCidrs", `${JSON.stringify(cidr)} is not a.b.c.d/len`);
    }
  }
  for (const field of ["stateDir", "logFile"] as const) {
    const path = c[field];
    if (path !== undefined && !path.startsWith("/")) add(field, "must be an absolute path");
  }
  return problems;
}

/** The validated network configuration, with defaults filled in and `vpnInstanceId` resolved. */
export interface NetConf {
  cniVersion?: string;
  name: string;
  type: string;
  importrt: string[];
  exportrt: string[];
  mtu: number;
  /** The bridge holds the node's gateway address and the node routes for its pods (default). */
  isGateway: boolean;
  /** Traffic from the subnet to elsewhere leaves with the node's address (default). */
  ipMasq: boolean;
  /** Destinations besides the subnet that ipMasq leaves alone (e.g. the Service CIDR). */
  nonMasqueradeCidrs: string[];
  ipam: { type: string; [key: string]: unknown };
  backend: "bagpipe" | "none";
  bagpipeUrl: string;
  bagpipeTimeoutMs: number;
  vpnInstanceId: string;
  vni?: number;
  advertiseSubnet: boolean;
  readvertise?: { fromRt: string[]; toRt: string[] };
  stateDir: string;
  logFile: string;
  runtimeConfig?: Record<string, unknown>;
  args?: Record<string, unknown>;
  prevResult?: Record<string, unknown>;
  /** Keys we do not know are kept, as a chained plugin must. */
  [key: string]: unknown;
}

/** FNV-1a, 32 bit: a short stable hash for names. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) h = Math.imul(h ^ byte, 0x01000193) >>> 0;
  return h;
}

/**
 * The daemon's VPN instance id for a network. The daemon names its bridge and VXLAN device after
 * the id and cuts them to 15 characters, so only 8 count: a longer name becomes 4 of its
 * characters plus 4 hex digits of its hash, which keeps different networks apart.
 */
export function instanceIdFor(networkName: string): string {
  const clean = networkName.replace(/[^a-zA-Z0-9_-]/g, "");
  if (clean.length > 0 && clean.length <= 8 && INSTANCE_ID.test(clean)) return clean;
  const head = clean.replace(/^[_-]+/, "").slice(0, 4) || "net";
  return head + fnv1a(networkName).toString(16).padStart(8, "0").slice(0, 4);
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const field = issue.path.length ? issue.path.join(".") : "(config)";
  if (issue.message && issue.message !== "Invalid input") return `${field}: ${issue.message}`;
  switch (issue.code) {
    case "invalid_type":
      return `${field}: expected ${issue.expected}${issue.input === undefined ? " (missing)" : ""}`;
    case "invalid_value":
      return `${field}: must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    case "too_small":
      return `${field}: must be at least ${issue.minimum}`;
    case "too_big":
      return `${field}: must be at most ${issue.maximum}`;
    case "invalid_union":
      return `${field}: has the wrong type`;
    default:
      return `${field}: invalid`;
  }
}

/**
 * Parses and validates the network configuration from stdin.
 * @throws CniError code 6 when stdin is not a JSON object, code 7 naming each bad field and why,
 *   code 2 for a field we recognise but do not implement.
 */
export function parseNetConf(stdin: string): NetConf {
  return validateNetConf(decodeNetConf(stdin));
}

/**
 * Decodes stdin into a JSON object (the version is negotiated before the fields are validated).
 * @throws CniError code 6 when stdin is not a JSON object.
 */
export function decodeNetConf(stdin: string): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = JSON.parse(stdin);
  } catch (e) {
    throw new CniError(
      ErrorCode.DecodeFailure,
      "failed to decode network configuration",
      (e as Error).message,
    );
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new CniError(
      ErrorCode.DecodeFailure,
      "failed to decode network configuration",
      "not a JSON object",
    );
  }
  return raw as Record<string, unknown>;
}

/**
 * Validates a decoded configuration and fills in the defaults.
 * @throws CniError code 7 naming each bad field and why, code 2 for a field we recognise but do
 *   not implement.
 */
export function validateNetConf(raw: Record<string, unknown>): NetConf {
  netConfSchema ??= buildNetConfSchema();
  const parsed = netConfSchema.safeParse(raw);
  const problems = parsed.success
    ? valueProblems(parsed.data)
    : parsed.error.issues.map(describeIssue);
  if (!parsed.success || problems.length > 0) {
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      `invalid network configuration: ${problems.join("; ")}`,
    );
  }
  const raw_ = parsed.data;
  const conf: NetConf = {
    ...raw_,
    importrt: routeTargetList(raw_.importrt),
    exportrt: routeTargetList(raw_.exportrt),
    readvertise: raw_.readvertise && {
      fromRt: routeTargetList(raw_.readvertise.fromRt),
      toRt: routeTargetList(raw_.readvertise.toRt),
    },
    mtu: raw_.mtu ?? 1450,
    isGateway: raw_.isGateway ?? true,
    ipMasq: raw_.ipMasq ?? true,
    nonMasqueradeCidrs: raw_.nonMasqueradeCidrs ?? [],
    backend: raw_.backend ?? "bagpipe",
    bagpipeUrl: raw_.bagpipeUrl ?? "http://127.0.0.1:8082",
    // The daemon serialises attaches per instance: in a burst of 30 ADDs the last waits 10-20 s
    // (shared/docs "At node scale"); kubelet gives RunPodSandbox minutes, not seconds.
    bagpipeTimeoutMs: raw_.bagpipeTimeoutMs ?? 60_000,
    vpnInstanceId: raw_.vpnInstanceId ?? instanceIdFor(raw_.name),
    advertiseSubnet: raw_.advertiseSubnet ?? false,
    stateDir: raw_.stateDir ?? "/var/lib/cni/bagpipe",
    logFile: raw_.logFile ?? "/var/log/bagpipe-cni.log",
  };
  if (conf.advertiseSubnet) {
    throw new CniError(
      ErrorCode.UnsupportedField,
      "invalid network configuration: advertiseSubnet: bagpipe-bgp's EVPN instances advertise host routes (/32) only",
      "remove advertiseSubnet (or set it false); every pod is advertised as a MAC/IP route",
    );
  }
  return conf;
}
