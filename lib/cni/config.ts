import * as z from "zod/mini";
import { CniError, ErrorCode } from "./errors.ts";

const ASN_NN = /^(\d{1,10}):(\d{1,10})$/;
const IPV4_NN = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3}):(\d{1,5})$/;

/** True for a route target the daemon accepts: `ASN:NN` (2- or 4-byte ASN) or `IPv4:NN`. */
export function isRouteTarget(rt: string): boolean {
  const asn = ASN_NN.exec(rt);
  if (asn) {
    const a = Number(asn[1]), n = Number(asn[2]);
    // A 2-byte ASN leaves 4 bytes for NN; a 4-byte ASN leaves 2 (RFC 4360 / 5668).
    return a <= 0xffff ? n <= 0xffffffff : a <= 0xffffffff && n <= 0xffff;
  }
  const ip = IPV4_NN.exec(rt);
  return ip !== null && ip.slice(1, 5).every((o) => Number(o) <= 255) && Number(ip[5]) <= 0xffff;
}

// The seed wrote one route target as a string; a list (or a comma-separated string) is also accepted.
const routeTargets = z.pipe(
  z.union([z.string(), z.array(z.string())]),
  z.transform((v) => (Array.isArray(v) ? v : v.split(",")).map((s) => s.trim()).filter(Boolean)),
).check(
  z.refine((list) => list.length > 0, { error: "needs at least one route target" }),
  z.refine((list) => list.every(isRouteTarget), {
    error: "each route target must be ASN:NN or IPv4:NN within range, e.g. 64512:90",
  }),
);

const INSTANCE_ID = /^[a-zA-Z0-9][a-zA-Z0-9_-]{0,7}$/;
const NETWORK_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$/;

const netConfSchema = z.looseObject({
  cniVersion: z.optional(z.string()),
  name: z.string().check(
    z.regex(NETWORK_NAME, {
      error: "must start with a letter or digit; letters, digits, _ . - only",
    }),
  ),
  type: z.string(),
  importrt: routeTargets,
  exportrt: routeTargets,
  mtu: z._default(
    z.number().check(z.int(), z.gte(576, { error: "must be at least 576" }), z.lte(65535)),
    1450,
  ),
  isGateway: z._default(z.boolean(), false),
  ipMasq: z._default(z.boolean(), false),
  ipam: z.looseObject({
    type: z.string().check(z.minLength(1, { error: "names the IPAM plugin" })),
  }),
  backend: z._default(z.enum(["bagpipe", "none"]), "bagpipe"),
  bagpipeUrl: z._default(
    z.string().check(
      z.regex(/^http:\/\/[^\s/]+(:\d+)?\/?$/, { error: "must be http://host:port" }),
    ),
    "http://127.0.0.1:8082",
  ),
  bagpipeTimeoutMs: z._default(z.number().check(z.int(), z.gte(100), z.lte(120_000)), 10_000),
  vpnInstanceId: z.optional(
    z.string().check(
      z.regex(INSTANCE_ID, { error: "must be 1-8 characters: letters, digits, _ or -" }),
    ),
  ),
  vni: z.optional(
    z.number().check(z.int(), z.gte(1), z.lte(16_777_215, { error: "must be 1..16777215" })),
  ),
  advertiseSubnet: z._default(z.boolean(), false),
  readvertise: z.optional(z.object({ fromRt: routeTargets, toRt: routeTargets })),
  stateDir: z._default(
    z.string().check(z.startsWith("/", { error: "must be an absolute path" })),
    "/var/lib/cni/bagpipe",
  ),
  logFile: z._default(
    z.string().check(z.startsWith("/", { error: "must be an absolute path" })),
    "/var/log/bagpipe-cni.log",
  ),
  runtimeConfig: z.optional(z.record(z.string(), z.unknown())),
  args: z.optional(z.record(z.string(), z.unknown())),
  prevResult: z.optional(z.record(z.string(), z.unknown())),
});

/** The validated network configuration, with defaults filled in and `vpnInstanceId` resolved. */
export type NetConf = z.infer<typeof netConfSchema> & { vpnInstanceId: string };

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
  const parsed = netConfSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(describeIssue);
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      `invalid network configuration: ${problems.join("; ")}`,
    );
  }
  const conf = parsed.data;
  if (conf.ipMasq) {
    throw new CniError(
      ErrorCode.UnsupportedField,
      "invalid network configuration: ipMasq: masquerading is not implemented by bagpipe",
      "remove ipMasq (or set it false); pods are routed by the fabric, use isGateway for off-subnet traffic",
    );
  }
  if (conf.advertiseSubnet) {
    throw new CniError(
      ErrorCode.UnsupportedField,
      "invalid network configuration: advertiseSubnet: bagpipe-bgp's EVPN instances advertise host routes (/32) only",
      "remove advertiseSubnet (or set it false); every pod is advertised as a MAC/IP route",
    );
  }
  return { ...conf, vpnInstanceId: conf.vpnInstanceId ?? instanceIdFor(conf.name) };
}
