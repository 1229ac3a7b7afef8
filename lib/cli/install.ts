import { parseCliArgs } from "./args.ts";
import { CLI_BUNDLE, cliBundleBeside } from "../cli_bundle.ts";
import { atomicCopy, atomicWrite } from "../atomic_write.ts";
import { TOOL_VERSION } from "./run_cli.ts";
import { parseNetConf } from "../cni/config.ts";
import { toCniError } from "../cni/errors.ts";
import { SUPPORTED_VERSIONS } from "../cni/version.ts";

/** The plugin's CNI type, and so its file name in the CNI bin dir. */
export const PLUGIN_TYPE = "bagpipe";

/** File name of the conflist when --conflist does not name one. */
export const DEFAULT_CONFLIST_NAME = "10-bagpipe.conflist";

/**
 * Top-level key that marks a conflist as written by `install`. Its value records the SHA-256 of
 * the rest of the file (as compact JSON), so a later install can tell "ours and untouched" (safe
 * to replace) from "ours but edited by someone" and from "not ours" (both refused without
 * --force). Runtimes (libcni) ignore unknown top-level keys and never pass them to plugins.
 */
export const INSTALLED_BY_KEY = "bagpipe-cni.dev/installed-by";

/**
 * The conflist installed when --conflist is not given; config/10-bagpipe.conflist is the same
 * document (a test keeps them equal). cniVersion 1.0.0 because portmap 1.1.1 (Debian bookworm)
 * accepts nothing newer; bagpipe itself speaks 1.1.0 too.
 */
export const DEFAULT_CONFLIST = {
  _comment:
    "cniVersion 1.0.0, not 1.1.0: portmap 1.1.1 (Debian bookworm) supports up to 1.0.0 and every plugin of a chain gets the same version. See config/README.md.",
  cniVersion: "1.0.0",
  name: "bagpipe-net",
  plugins: [
    {
      type: "bagpipe",
      importrt: "64512:90",
      exportrt: "64512:90",
      vni: 90,
      mtu: 1450,
      isGateway: true,
      ipMasq: true,
      ipam: {
        type: "host-local",
        subnet: "10.27.0.0/16",
        gateway: "10.27.1.1",
        rangeStart: "10.27.1.2",
        rangeEnd: "10.27.1.254",
      },
    },
    { type: "portmap", capabilities: { portMappings: true }, snat: true },
  ],
} as const;

/** Exit codes of `install`. */
export const INSTALL_EXIT = {
  ok: 0,
  /** The conflist is invalid, or a file could not be written. */
  failed: 1,
  /** Bad or missing flags. */
  usage: 2,
  /** The conflist path holds a file install did not write (or one edited since): see --force. */
  refused: 3,
} as const;

const INSTALL_HELP = `usage: bagpipe-cni install --cni-bin-dir DIR [--cache-dir DIR] [--bundle FILE]
                           [--cni-conf-dir DIR [--conflist FILE] [--pod-cidr CIDR] [--force]]

Writes DIR/bagpipe-deno (the runtime), DIR/bagpipe-cni-cli.js (the command line's bundle) and
DIR/bagpipe (the plugin's bundle behind a launcher line), then, with --cni-conf-dir, the network
configuration list. Every file is replaced atomically (written beside, then renamed), the conflist
last: a runtime never sees a network whose plugin is missing.

  --cni-bin-dir DIR    where the runtime looks for plugins, e.g. /opt/cni/bin
  --cache-dir DIR      the plugin's code cache (default /var/cache/bagpipe-cni)
  --bundle FILE        the plugin bundle to install, with bagpipe-cni-cli.js beside it
                       (default: the one running)
  --cni-conf-dir DIR   where the runtime reads network configs, e.g. /etc/cni/net.d
  --conflist FILE      the conflist to install, under its own file name (default: the built-in
                       ${DEFAULT_CONFLIST_NAME}, which config/${DEFAULT_CONFLIST_NAME} shows)
  --pod-cidr CIDR      this node's share of the network: sets the bagpipe entry's host-local
                       gateway to CIDR's first address (the node's own, on its bridge) and
                       rangeStart/rangeEnd to the rest; CIDR must lie inside its ipam.subnet
  --force              replace a conflist that install did not write, or that was edited since

The conflist is checked before anything is written (JSON, cniVersion, the bagpipe entry's
config). Files install writes carry a top-level "${INSTALLED_BY_KEY}" key with
the SHA-256 of the rest; install replaces such a file only while that hash still matches.

Exit codes: 0 installed, 1 invalid conflist or write failed, 2 bad flags, 3 refused to replace a
conflist it did not write (use --force).
`;

/** A failure of install with the exit code it maps to. */
export class InstallError extends Error {
  constructor(message: string, readonly exitCode: number) {
    super(message);
    this.name = "InstallError";
  }
}

/**
 * How the launcher runs the bundle. `--no-lazy` makes V8 compile every function with the script,
 * so the code cache holds all of it: lazily compiled functions (zod's, most of ours) were compiled
 * again by every pod, and ADD measured 2.4-4.3 ms faster with it (the empty script's floor the same).
 */
const RUN_FLAGS = "run --allow-all --no-config --no-lock --quiet --v8-flags=--no-lazy --ext=js";

/**
 * The first line of the installed plugin: runs the bundle with the deno installed beside it.
 * `env -S` splits the line (a shebang passes one argument); DENO_DIR gives the runtime a code
 * cache that survives between pods even when the runtime starts us without HOME.
 */
export function launcherLine(denoPath: string, cacheDir: string): string {
  return `#!/usr/bin/env -S DENO_DIR=${cacheDir} DENO_NO_UPDATE_CHECK=1 ${denoPath} ${RUN_FLAGS}`;
}

/**
 * Longest first line the kernel passes on whole: it reads 256 bytes of a script (BINPRM_BUF_SIZE)
 * and silently cuts the interpreter's arguments beyond them.
 */
export const SHEBANG_MAX = 255;

/**
 * The launcher for an installed plugin: launcherLine when it fits the kernel's limit, otherwise
 * two lines read both as sh and as JavaScript. sh runs line 2 (`//bin/true` is /bin/true), which
 * execs deno on this same file; deno skips line 1 as a hashbang and line 2 as a comment.
 * @throws Error when a path holds a quote or a newline (it could not be quoted safely).
 */
export function launcherFor(denoPath: string, cacheDir: string): string {
  const line = launcherLine(denoPath, cacheDir);
  const plain = (p: string) => /^[A-Za-z0-9_./+:@%,=-]+$/.test(p);
  if (new TextEncoder().encode(line).length <= SHEBANG_MAX && plain(denoPath) && plain(cacheDir)) {
    return line;
  }
  for (const path of [denoPath, cacheDir]) {
    if (/['\n\r]/.test(path)) {
      throw new Error(`path ${JSON.stringify(path)} holds a quote or newline`);
    }
  }
  return `#!/bin/sh\n//bin/true; DENO_DIR='${cacheDir}' DENO_NO_UPDATE_CHECK=1 exec '${denoPath}' ${RUN_FLAGS} "$0" "$@"`;
}

/** The bundle this process runs from, or undefined when it runs from source. */
function runningBundle(): string | undefined {
  const main = Deno.mainModule.startsWith("file:")
    ? decodeURIComponent(new URL(Deno.mainModule).pathname)
    : undefined;
  return main && !main.endsWith(".ts") ? main : undefined;
}

type Conflist = Record<string, unknown> & { plugins: Record<string, unknown>[] };

/**
 * Validates a conflist as a runtime and our plugin would read it and returns it without any
 * earlier install mark. With podCidr, narrows the bagpipe entry's host-local range to it.
 * @throws InstallError (exit 1) naming the source and what is wrong.
 */
export function prepareConflist(text: string, source: string, podCidr?: string): Conflist {
  const fail = (why: string) =>
    new InstallError(`bagpipe-cni install: conflist ${source} ${why}`, INSTALL_EXIT.failed);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw fail(`is not JSON: ${(e as Error).message}`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw fail("is not a JSON object");
  }
  const { [INSTALLED_BY_KEY]: _mark, ...list } = raw as Record<string, unknown>;
  if (typeof list.name !== "string" || list.name === "") throw fail("has no name");
  if (!(SUPPORTED_VERSIONS as readonly string[]).includes(list.cniVersion as string)) {
    throw fail(
      `has cniVersion ${JSON.stringify(list.cniVersion)}; bagpipe supports ${
        SUPPORTED_VERSIONS.join(", ")
      }`,
    );
  }
  const plugins = list.plugins;
  if (!Array.isArray(plugins) || plugins.length === 0) throw fail("has no plugins list");
  for (const [i, p] of plugins.entries()) {
    if (typeof p !== "object" || p === null || Array.isArray(p) || typeof p.type !== "string") {
      throw fail(`plugins[${i}] is not an object with a "type"`);
    }
  }
  const index = plugins.findIndex((p) => p.type === PLUGIN_TYPE);
  if (index < 0) throw fail(`has no plugin of type "${PLUGIN_TYPE}"`);
  const conflist = structuredClone(list) as Conflist;
  const entry = conflist.plugins[index]!;
  if (podCidr !== undefined) {
    try {
      entry.ipam = _narrowRange(entry.ipam, podCidr);
    } catch (e) {
      throw fail(`plugins[${index}]: --pod-cidr ${podCidr}: ${(e as Error).message}`);
    }
  }
  try {
    // The runtime hands each plugin its entry plus the list's name and cniVersion.
    parseNetConf(JSON.stringify({ ...entry, name: list.name, cniVersion: list.cniVersion }));
  } catch (e) {
    throw fail(`plugins[${index}] (${PLUGIN_TYPE}): ${toCniError(e).message}`);
  }
  return conflist;
}

/** The SHA-256 of text, in hex. */
async function _sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The file content install writes: the conflist with its mark first. */
export async function markedConflist(conflist: Record<string, unknown>): Promise<string> {
  const mark = {
    tool: `bagpipe-cni ${TOOL_VERSION}`,
    sha256: await _sha256(JSON.stringify(conflist)),
  };
  return `${JSON.stringify({ [INSTALLED_BY_KEY]: mark, ...conflist }, null, 2)}\n`;
}

/** Who wrote an existing conflist file, judged from its mark. */
export async function conflistOwner(text: string): Promise<"install" | "edited" | "foreign"> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return "foreign";
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return "foreign";
  const { [INSTALLED_BY_KEY]: mark, ...rest } = raw as Record<string, unknown>;
  if (typeof mark !== "object" || mark === null) return "foreign";
  const recorded = (mark as Record<string, unknown>).sha256;
  return recorded === await _sha256(JSON.stringify(rest)) ? "install" : "edited";
}

/** What happened to the conflist file. */
export type ConflistOutcome = "written" | "replaced" | "unchanged" | "forced";

/**
 * What writing content to path would do; refuses when a file is there that install did not
 * write (or that was edited since) and force is not set.
 * @throws InstallError (exit 3) when refusing, saying why and how to proceed.
 */
export async function conflistOutcome(
  path: string,
  content: string,
  force: boolean,
): Promise<ConflistOutcome> {
  let existing: string;
  try {
    existing = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return "written";
    throw new InstallError(
      `bagpipe-cni install: cannot read existing ${path}: ${(e as Error).message}`,
      INSTALL_EXIT.failed,
    );
  }
  if (existing === content) return "unchanged";
  const owner = await conflistOwner(existing);
  if (owner === "install") return "replaced";
  if (force) return "forced";
  const why = owner === "edited"
    ? `was written by bagpipe-cni install but edited since (its ${INSTALLED_BY_KEY} hash no longer matches)`
    : `was not written by bagpipe-cni install (no ${INSTALLED_BY_KEY} key)`;
  throw new InstallError(
    `bagpipe-cni install: refusing to replace ${path}: it ${why}; left it untouched. Pass --force to replace it.`,
    INSTALL_EXIT.refused,
  );
}

/**
 * Writes the conflist into confDir/name atomically (see conflistOutcome for when it refuses).
 * An identical file is left alone, so the runtime sees no change.
 */
export async function installConflist(
  confDir: string,
  name: string,
  conflist: Record<string, unknown>,
  force: boolean,
): Promise<{ path: string; outcome: ConflistOutcome }> {
  const path = `${confDir}/${name}`;
  const content = await markedConflist(conflist);
  const outcome = await conflistOutcome(path, content, force);
  if (outcome !== "unchanged") {
    await Deno.mkdir(confDir, { recursive: true });
    atomicWrite(path, content, 0o644);
  }
  return { path, outcome };
}

/**
 * `install`: see INSTALL_HELP. Returns the exit code; messages go to stdout (done) and stderr
 * (failed).
 */
export async function installCommand(argv: string[]): Promise<number> {
  try {
    return await _install(argv);
  } catch (e) {
    if (!(e instanceof InstallError)) throw e;
    console.error(e.message);
    return e.exitCode;
  }
}

async function _install(argv: string[]): Promise<number> {
  const usage = (why: string) =>
    new InstallError(
      `bagpipe-cni install: ${why}; see bagpipe-cni install --help`,
      INSTALL_EXIT.usage,
    );
  let values;
  try {
    ({ values } = await parseCliArgs({
      args: argv,
      options: {
        "cni-bin-dir": { type: "string" },
        "cache-dir": { type: "string", default: "/var/cache/bagpipe-cni" },
        bundle: { type: "string" },
        "cni-conf-dir": { type: "string" },
        conflist: { type: "string" },
        "pod-cidr": { type: "string" },
        force: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
    }));
  } catch (e) {
    throw usage((e as Error).message);
  }
  if (values.help) {
    console.log(INSTALL_HELP);
    return INSTALL_EXIT.ok;
  }
  const binDir = values["cni-bin-dir"];
  if (!binDir || !binDir.startsWith("/")) {
    throw usage("--cni-bin-dir needs an absolute directory, e.g. /opt/cni/bin");
  }
  const cacheDir = values["cache-dir"]!;
  if (!cacheDir.startsWith("/")) throw usage("--cache-dir needs an absolute directory");
  const confDir = values["cni-conf-dir"];
  if (confDir !== undefined && !confDir.startsWith("/")) {
    throw usage("--cni-conf-dir needs an absolute directory, e.g. /etc/cni/net.d");
  }
  for (const flag of ["conflist", "pod-cidr", "force"] as const) {
    if (confDir === undefined && values[flag] !== undefined && values[flag] !== false) {
      throw usage(`--${flag} needs --cni-conf-dir`);
    }
  }
  const bundle = values.bundle ?? runningBundle();
  if (!bundle) {
    throw usage(
      "run it from the bundle (deno task build; deno run -A dist/bagpipe-cni.js install ...) or pass --bundle",
    );
  }

  // Everything is read and checked before the first write, so a refusal changes nothing.
  let conflist: { name: string; list: Conflist } | undefined;
  if (confDir !== undefined) {
    const file = values.conflist;
    let text = JSON.stringify(DEFAULT_CONFLIST);
    if (file !== undefined) {
      try {
        text = await Deno.readTextFile(file);
      } catch (e) {
        throw new InstallError(
          `bagpipe-cni install: cannot read conflist ${file}: ${(e as Error).message}`,
          INSTALL_EXIT.failed,
        );
      }
    }
    const name = file === undefined ? DEFAULT_CONFLIST_NAME : file.slice(file.lastIndexOf("/") + 1);
    if (!/\.(conflist|conf|json)$/.test(name)) {
      throw usage(
        `--conflist ${file}: runtimes only read *.conflist, *.conf and *.json files, name it so`,
      );
    }
    conflist = { name, list: prepareConflist(text, file ?? "(built-in)", values["pod-cidr"]) };
    // Refuse now rather than after the plugin was replaced; checked again right before writing.
    await conflistOutcome(`${confDir}/${name}`, await markedConflist(conflist.list), values.force!);
  }
  let code: string, cliCode: string;
  const cliBundle = cliBundleBeside(bundle);
  try {
    code = (await Deno.readTextFile(bundle)).replace(/^#!.*\n/, "");
    cliCode = await Deno.readTextFile(cliBundle);
  } catch (e) {
    throw new InstallError(
      `bagpipe-cni install: cannot read the bundles ${bundle} and ${cliBundle} (deno task build ` +
        `writes both): ${(e as Error).message}`,
      INSTALL_EXIT.failed,
    );
  }

  const deno = `${binDir}/${PLUGIN_TYPE}-deno`;
  let launcher: string;
  try {
    launcher = launcherFor(deno, cacheDir);
  } catch (e) {
    throw usage(`cannot launch the plugin from there: ${(e as Error).message}`);
  }
  try {
    Deno.mkdirSync(binDir, { recursive: true });
    Deno.mkdirSync(cacheDir, { recursive: true });
    // The runtime first, so the plugin never points at a runtime that is not there yet.
    atomicCopy(Deno.execPath(), deno, 0o755);
    // Then the command line, which the plugin loads from beside itself when CNI_COMMAND is unset.
    atomicWrite(`${binDir}/${CLI_BUNDLE}`, cliCode, 0o644);
    atomicWrite(`${binDir}/${PLUGIN_TYPE}`, `${launcher}\n${code}`, 0o755);
    console.log(`installed ${binDir}/${PLUGIN_TYPE} (runtime ${deno})`);
  } catch (e) {
    throw new InstallError(
      `bagpipe-cni install: cannot write into ${binDir}: ${(e as Error).message}`,
      INSTALL_EXIT.failed,
    );
  }
  if (conflist !== undefined && confDir !== undefined) {
    let result;
    try {
      result = await installConflist(confDir, conflist.name, conflist.list, values.force!);
    } catch (e) {
      if (e instanceof InstallError) throw e;
      throw new InstallError(
        `bagpipe-cni install: cannot write conflist into ${confDir}: ${(e as Error).message}`,
        INSTALL_EXIT.failed,
      );
    }
    const how = {
      written: "installed",
      replaced: "replaced",
      unchanged: "unchanged",
      forced: "replaced (--force)",
    }[result.outcome];
    console.log(`${how} ${result.path} (network ${conflist.list.name})`);
  }
  return INSTALL_EXIT.ok;
}

/** ipam with host-local's rangeStart/rangeEnd set to the usable addresses of cidr. */
function _narrowRange(ipam: unknown, cidr: string): Record<string, unknown> {
  if (typeof ipam !== "object" || ipam === null || Array.isArray(ipam)) {
    throw new Error("the entry has no ipam object");
  }
  const conf = ipam as Record<string, unknown>;
  if (conf.type !== "host-local" || typeof conf.subnet !== "string") {
    throw new Error('needs ipam type "host-local" with a "subnet" (not "ranges")');
  }
  const pod = _parseCidr(cidr);
  const subnet = _parseCidr(conf.subnet);
  if (!pod) throw new Error("is not an IPv4 CIDR such as 10.27.3.0/24");
  if (pod.hostBits) {
    throw new Error(`has host bits set (the network is ${_ipv4(pod.base)}/${pod.len})`);
  }
  if (!subnet) throw new Error(`ipam.subnet ${conf.subnet} is not an IPv4 CIDR`);
  if (pod.len > 30) throw new Error("is too small for pods (at most /30)");
  const inside = pod.len >= subnet.len &&
    (pod.base & subnet.mask) >>> 0 === subnet.base;
  if (!inside) throw new Error(`does not lie inside ipam.subnet ${conf.subnet}`);
  const last = (pod.base | (~pod.mask >>> 0)) >>> 0;
  // The node's own gateway (on its bridge) is the first address of its share, so the pods' default
  // route points at their own node; host-local never hands it out, and rangeStart skips it too.
  return {
    ...conf,
    gateway: _ipv4(pod.base + 1),
    rangeStart: _ipv4(pod.base + 2),
    rangeEnd: _ipv4(last - 1),
  };
}

function _parseCidr(
  text: string,
): { base: number; len: number; mask: number; hostBits: boolean } | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(text);
  if (!m) return undefined;
  const octets = m.slice(1, 5).map(Number);
  const len = Number(m[5]);
  if (octets.some((o) => o > 255) || len > 32) return undefined;
  const addr = octets.reduce((a, o) => (a * 256 + o) >>> 0, 0);
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  return { base: (addr & mask) >>> 0, len, mask, hostBits: (addr & mask) >>> 0 !== addr };
}

function _ipv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}
