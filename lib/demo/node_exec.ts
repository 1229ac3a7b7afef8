import type { PluginExec } from "./conflist_runner.ts";
import { execInNetns } from "../fabric/netns.ts";

/** The PATH a node's runtime gives plugins (they find ip, iptables, nsenter on it). */
export const NODE_PATH = "/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * Executes plugins inside a node's netns the way its runtime does: a clean environment holding
 * only PATH and the CNI_* variables, the config on stdin.
 */
export function execInNode(nodeNetns: string): PluginExec {
  return (binary, env, stdin) =>
    execInNetns(nodeNetns, [
      "env",
      "-i",
      `PATH=${NODE_PATH}`,
      ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
      binary,
    ], { stdin });
}
