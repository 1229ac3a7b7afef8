import { CniError, ErrorCode } from "./errors.ts";

/** The CNI commands this plugin implements. */
export const COMMANDS = ["ADD", "DEL", "CHECK", "STATUS", "GC", "VERSION"] as const;
export type Command = typeof COMMANDS[number];

/** What the runtime tells the plugin through CNI_* variables. */
export interface CniEnv {
  command: Command;
  containerId: string;
  netns: string;
  ifname: string;
  args: Record<string, string>;
  path: string[];
}

// Which variables each command requires, as in libcni's skel.
const REQUIRED: Record<Command, string[]> = {
  ADD: ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"],
  CHECK: ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"],
  DEL: ["CNI_CONTAINERID", "CNI_IFNAME", "CNI_PATH"],
  STATUS: ["CNI_PATH"],
  GC: ["CNI_PATH"],
  VERSION: [],
};

const CONTAINER_ID = /^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$/;

/** Throws code 4 unless `id` is a valid container ID (libcni's rule). */
export function validateContainerId(id: string): void {
  if (!CONTAINER_ID.test(id)) {
    throw new CniError(
      ErrorCode.InvalidEnvironment,
      `invalid CNI_CONTAINERID ${JSON.stringify(id)}`,
      "must start with a letter or digit and contain only letters, digits, '_', '.' and '-'",
    );
  }
}

/** Throws code 4 unless `name` can be a Linux interface name (libcni's rule). */
export function validateIfname(name: string): void {
  let why = "";
  if (name === "") why = "is empty";
  else if (new TextEncoder().encode(name).length > 15) why = "is longer than 15 bytes";
  else if (name === "." || name === "..") why = "is . or ..";
  else if (/[/:\s]/.test(name)) why = "contains '/', ':' or white space";
  if (why) {
    throw new CniError(
      ErrorCode.InvalidEnvironment,
      `invalid CNI_IFNAME ${JSON.stringify(name)}`,
      why,
    );
  }
}

/** Parses CNI_ARGS (`K=V;K2=V2`); a pair without '=' is an error (code 4). */
export function parseCniArgs(raw: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!raw) return out;
  for (const pair of raw.split(";")) {
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    if (eq <= 0) {
      throw new CniError(
        ErrorCode.InvalidEnvironment,
        `invalid CNI_ARGS pair ${JSON.stringify(pair)}`,
        "expected KEY=VALUE",
      );
    }
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

/**
 * Reads and validates the CNI_* environment. All missing variables are named in one error (code 4).
 * @throws CniError code 4 on a missing or invalid variable; code 4 on an unknown CNI_COMMAND.
 */
export function readCniEnv(getenv: (name: string) => string | undefined): CniEnv {
  const command = getenv("CNI_COMMAND") ?? "";
  if (!(COMMANDS as readonly string[]).includes(command)) {
    throw new CniError(
      ErrorCode.InvalidEnvironment,
      `unknown CNI_COMMAND ${JSON.stringify(command)}`,
      `expected one of ${COMMANDS.join(", ")}`,
    );
  }
  const cmd = command as Command;
  const missing = REQUIRED[cmd].filter((name) => !getenv(name));
  if (missing.length > 0) {
    throw new CniError(
      ErrorCode.InvalidEnvironment,
      `required env variables [${missing.join(",")}] missing`,
    );
  }
  const env: CniEnv = {
    command: cmd,
    containerId: getenv("CNI_CONTAINERID") ?? "",
    netns: getenv("CNI_NETNS") ?? "",
    ifname: getenv("CNI_IFNAME") ?? "",
    args: parseCniArgs(getenv("CNI_ARGS") ?? ""),
    path: (getenv("CNI_PATH") ?? "").split(":").filter((p) => p !== ""),
  };
  if (REQUIRED[cmd].includes("CNI_CONTAINERID")) validateContainerId(env.containerId);
  if (REQUIRED[cmd].includes("CNI_IFNAME")) validateIfname(env.ifname);
  return env;
}
