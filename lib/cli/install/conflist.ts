/** The conflist `install` writes: the built-in default, and the checks any conflist must pass. */
import { parseNetConf } from "../../cni/config.ts";
import { toCniError } from "../../cni/errors.ts";
import { SUPPORTED_VERSIONS } from "../../cni/version.ts";
import { INSTALL_EXIT, InstallError } from "./errors.ts";
import { INSTALLED_BY_KEY } from "./ownership.ts";
import { narrowRange } from "./pod_cidr.ts";

/** The plugin's CNI type, and so its file name in the CNI bin dir. */
export const PLUGIN_TYPE = "bagpipe";

/** File name of the conflist when --conflist does not name one. */
export const DEFAULT_CONFLIST_NAME = "10-bagpipe.conflist";

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
      capabilities: { ips: true },
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

export type Conflist = Record<string, unknown> & { plugins: Record<string, unknown>[] };

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
      entry.ipam = narrowRange(entry.ipam, podCidr);
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
