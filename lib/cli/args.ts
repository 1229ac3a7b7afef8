import type { parseArgs as ParseArgs, ParseArgsConfig } from "node:util";

/**
 * node:util's parseArgs, loaded on first use. A static `node:` import is hoisted to the top of
 * the bundle and starts Node compatibility for every CNI command (~20 ms); the plugin never
 * parses arguments, so only the command line pays for it.
 */
export async function parseCliArgs<T extends ParseArgsConfig>(
  config: T,
): Promise<ReturnType<typeof ParseArgs<T>>> {
  const { parseArgs } = await import("node:util");
  return parseArgs(config);
}
