import { CniError, ErrorCode } from "./errors.ts";

/** The spec versions this plugin speaks, oldest first. */
export const SUPPORTED_VERSIONS = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"] as const;
export type CniVersion = typeof SUPPORTED_VERSIONS[number];
export const CURRENT_VERSION: CniVersion = "1.1.0";

/** Compares two dotted versions numerically: negative, zero or positive. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number), pb = b.split(".").map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** Returns the config's version when we support it; otherwise throws code 1 naming what we support. */
export function negotiateVersion(configVersion: unknown): CniVersion {
  const v = configVersion === undefined || configVersion === "" ? "0.1.0" : configVersion;
  if (typeof v === "string" && (SUPPORTED_VERSIONS as readonly string[]).includes(v)) {
    return v as CniVersion;
  }
  throw new CniError(
    ErrorCode.IncompatibleVersion,
    "incompatible CNI versions",
    `config is ${JSON.stringify(v)}, plugin supports ${JSON.stringify(SUPPORTED_VERSIONS)}`,
  );
}

/** The minimum spec version a command needs (CHECK came in 0.4.0, STATUS and GC in 1.1.0). */
export function requireVersionFor(command: string, version: CniVersion): void {
  const minimum = command === "CHECK"
    ? "0.4.0"
    : command === "STATUS" || command === "GC"
    ? "1.1.0"
    : "0.3.0";
  if (compareVersions(version, minimum) < 0) {
    throw new CniError(
      ErrorCode.IncompatibleVersion,
      `config version does not allow ${command}`,
      `${command} needs cniVersion ${minimum} or later, config is ${version}`,
    );
  }
}

/** The VERSION command's answer. */
export function versionInfo(): { cniVersion: string; supportedVersions: string[] } {
  return { cniVersion: CURRENT_VERSION, supportedVersions: [...SUPPORTED_VERSIONS] };
}
