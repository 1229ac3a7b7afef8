import { CniError, ErrorCode } from "./errors.ts";
import { compareVersions } from "./version.ts";
import { run } from "../net/run.ts";

/**
 * Finds a plugin binary on CNI_PATH.
 * @throws CniError code 103 naming the plugin and the directories searched.
 */
export function findPlugin(type: string, path: string[]): string {
  if (!/^[a-zA-Z0-9_.\-]+$/.test(type)) {
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      `invalid plugin type ${JSON.stringify(type)}`,
    );
  }
  for (const dir of path) {
    const candidate = `${dir}/${type}`;
    try {
      if (Deno.statSync(candidate).isFile) return candidate;
    } catch {
      // not in this directory
    }
  }
  throw new CniError(
    ErrorCode.DelegateNotFound,
    `failed to find plugin ${JSON.stringify(type)} in CNI_PATH`,
    `searched ${JSON.stringify(path)}`,
  );
}

/**
 * The cniVersion to hand a delegate for ADD/DEL/CHECK. 1.1.0 results and configs are 1.0.0's plus
 * optional fields, and host-local up to v1.1.1 refuses 1.1.0, so 1.1.0 is sent as 1.0.0.
 */
export function delegateVersion(version: string): string {
  return compareVersions(version, "1.0.0") > 0 ? "1.0.0" : version;
}

/**
 * Runs a delegated plugin (IPAM) with our environment plus `env`, CNI_COMMAND set, and `conf` on stdin.
 * @returns the parsed JSON it printed (undefined when it printed nothing, as DEL may).
 * @throws CniError with the delegate's own code and message when it fails.
 */
export async function execDelegate(
  command: string,
  type: string,
  path: string[],
  conf: Record<string, unknown>,
  env: Record<string, string> = {},
): Promise<unknown> {
  const binary = findPlugin(type, path);
  const out = await run(binary, [], {
    stdin: JSON.stringify(conf),
    env: { ...env, CNI_COMMAND: command },
  });
  const text = out.stdout.trim();
  let parsed: unknown = undefined;
  if (text !== "") {
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new CniError(
        ErrorCode.DecodeFailure,
        `plugin ${type} ${command} printed something that is not JSON`,
        text.slice(0, 200),
      );
    }
  }
  if (out.code !== 0) {
    const err = parsed as { code?: unknown; msg?: unknown; details?: unknown } | undefined;
    const code = typeof err?.code === "number" ? err.code : ErrorCode.Internal;
    const msg = typeof err?.msg === "string"
      ? err.msg
      : out.stderr.trim() || `exit status ${out.code}`;
    const details = typeof err?.details === "string" ? err.details : undefined;
    throw new CniError(code, `plugin ${type} ${command} failed: ${msg}`, details);
  }
  return parsed;
}

/** The versions a delegate says it supports (its VERSION command); empty when it cannot say. */
export async function delegateVersions(type: string, path: string[]): Promise<string[]> {
  try {
    const info = await execDelegate("VERSION", type, path, { cniVersion: "1.1.0" }) as {
      supportedVersions?: unknown;
    };
    return Array.isArray(info?.supportedVersions) ? info.supportedVersions.map(String) : [];
  } catch {
    return [];
  }
}
