/** The prefix of the directories where `ip netns` keeps named namespaces. */
const NAMED_NETNS_DIRS = ["/run/netns/", "/var/run/netns/"];

/** The `ip netns` name of a netns path, when it is a named one (`ip -n` takes names, not paths). */
export function netnsName(path: string): string | undefined {
  for (const dir of NAMED_NETNS_DIRS) {
    if (path.startsWith(dir) && !path.slice(dir.length).includes("/")) {
      return path.slice(dir.length);
    }
  }
  return undefined;
}

/**
 * The program and leading arguments that run `ip` inside a netns: `ip -n NAME` for named
 * namespaces, otherwise `nsenter --net=PATH ip` (runtimes may pass /proc/PID/ns/net).
 */
export function ipIn(netnsPath: string): [string, string[]] {
  const name = netnsName(netnsPath);
  return name ? ["ip", ["-n", name]] : ["nsenter", [`--net=${netnsPath}`, "ip"]];
}

/** The program and leading arguments that run any command inside a netns. */
export function commandIn(netnsPath: string, argv: string[]): [string, string[]] {
  return ["nsenter", [`--net=${netnsPath}`, ...argv]];
}

/** True when the path names an existing netns (a cheap stat, no spawn). */
export function netnsExists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}
