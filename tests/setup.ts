/**
 * Installs the Debian packages the tests and the demo need, when they are missing, and says
 * which. Run as root on a Debian machine (CI, a developer's VM).
 */
export const REQUIRED_PACKAGES = [
  "iproute2", // ip: veth, netns, addresses, routes
  "util-linux", // nsenter, for pod netns given as a path
  "procps", // sysctl, for arp_notify inside the pod
  "ethtool",
  "bridge-utils", // brctl: bagpipe-bgp's VXLAN driver shells out to it
  "tcpdump",
  "tshark",
  "iputils-ping",
  "curl", // REST calls into a node namespace's daemon
  "gobgpd", // the route reflector
  "python3-networking-bagpipe", // bagpipe-bgp 17.0.0
  "containernetworking-plugins", // host-local, bridge, tuning under /usr/lib/cni
  "rustc", // the verify decoder (wasm32-unknown-unknown)
  "libstd-rust-dev-wasm32",
];

async function missing(packages: string[]): Promise<string[]> {
  const out = await new Deno.Command("dpkg-query", {
    args: ["-W", "-f", "${Package} ${db:Status-Status}\n", ...packages],
    stdout: "piped",
    stderr: "null",
  }).output();
  const installed = new Set(
    new TextDecoder().decode(out.stdout).split("\n").filter((l) => l.endsWith(" installed")).map((
      l,
    ) => l.split(" ")[0]),
  );
  return packages.filter((p) => !installed.has(p));
}

async function apt(args: string[]): Promise<void> {
  const status = await new Deno.Command("apt-get", {
    args,
    env: { DEBIAN_FRONTEND: "noninteractive" },
    stdout: "inherit",
    stderr: "inherit",
  }).spawn().status;
  if (!status.success) throw new Error(`apt-get ${args.join(" ")} failed (exit ${status.code})`);
}

if (import.meta.main) {
  const todo = await missing(REQUIRED_PACKAGES);
  if (todo.length === 0) {
    console.error("setup: all required Debian packages are installed");
  } else {
    console.error(`setup: installing missing Debian packages: ${todo.join(" ")}`);
    await apt(["update", "-qq"]);
    await apt(["install", "-y", "-qq", ...todo]);
  }
}
