/** `bagpipe-cni install`: flags, the order of the writes, and what it prints. */
import { atomicCopy, atomicWrite } from "../../atomic_write.ts";
import { CLI_BUNDLE, cliBundleBeside } from "../../cli_bundle.ts";
import { parseCliArgs } from "../args.ts";
import {
  type Conflist,
  DEFAULT_CONFLIST,
  DEFAULT_CONFLIST_NAME,
  PLUGIN_TYPE,
  prepareConflist,
} from "./conflist.ts";
import { INSTALL_EXIT, InstallError } from "./errors.ts";
import { launcherFor } from "./launcher.ts";
import { conflistOutcome, installConflist, INSTALLED_BY_KEY, markedConflist } from "./ownership.ts";

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

/** The bundle this process runs from, or undefined when it runs from source. */
function runningBundle(): string | undefined {
  const main = Deno.mainModule.startsWith("file:")
    ? decodeURIComponent(new URL(Deno.mainModule).pathname)
    : undefined;
  return main && !main.endsWith(".ts") ? main : undefined;
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
