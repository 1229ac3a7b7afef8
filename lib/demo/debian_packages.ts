/**
 * The Debian packages the demo and the tests run on, and how to install the missing ones.
 * Run as root on Debian (CI, a developer's VM); tests/setup.ts and the demo both use it.
 */

/** What the demo runs: the fabric, the plugin chain, traffic and the capture. */
export const DEMO_PACKAGES = [
  "iproute2", // ip: veth, netns, addresses, routes; bridge fdb
  "util-linux", // nsenter, for pod netns given as a path
  "procps", // sysctl, for arp_notify inside the pod
  "ethtool",
  "bridge-utils", // brctl: bagpipe-bgp's VXLAN driver shells out to it
  "tcpdump", // the fabric capture
  "iputils-ping",
  "curl", // REST calls into a node namespace's daemon
  "gobgpd", // the route reflector
  "python3-networking-bagpipe", // bagpipe-bgp 17.0.0
  "containernetworking-plugins", // host-local, portmap under /usr/lib/cni
  "iptables", // portmap writes its DNAT rules with it
] as const;

/** What the test suite needs on top: tshark to cross-check, rustc to build the verify decoder. */
export const TEST_PACKAGES = [
  ...DEMO_PACKAGES,
  "tshark",
  "rustc", // the verify decoder (wasm32-unknown-unknown)
  "libstd-rust-dev-wasm32",
  "chromium", // headless: opens the verify --html page in tests/verify_html_test.ts
  "prometheus", // scrapes the node agent (bagpipe-cni serve) in tests/agent_test.ts
  // Container runtimes that run the plugin in tests/podman_test.ts and containerd_cri_test.ts.
  "podman",
  "crun", // named: with runc present (containerd), podman would not pull in its default, crun
  "busybox-static", // the containers' and the pod sandbox's rootfs (no registry)
  "containerd", // 1.6 with its CRI plugin, kubelet's path
  "python3-grpcio", // the tests' CRI client (tests/helpers/cri/), with Debian's python3
  "python3-grpc-tools",
  "python3-protobuf",
  "frr", // zebra + bgpd + vtysh beside the fabric: verify --rib and bursty UPDATEs, another vendor's VTEP (lib/fabric/frr_vtep.ts)
  "time", // GNU time: `deno task bench` reads each plugin run's peak RSS from it
] as const;

/** The packages of the list that dpkg does not report as installed. */
export async function missingPackages(packages: readonly string[]): Promise<string[]> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("dpkg-query", {
      args: ["-W", "-f", "${Package} ${db:Status-Status}\n", ...packages],
      stdout: "piped",
      stderr: "null",
    }).output();
  } catch (e) {
    throw new Error(`cannot run dpkg-query (is this Debian?): ${(e as Error).message}`);
  }
  const installed = new Set(
    new TextDecoder().decode(out.stdout).split("\n")
      .filter((line) => line.endsWith(" installed"))
      .map((line) => line.split(" ")[0]),
  );
  return packages.filter((p) => !installed.has(p));
}

/** `apt-get update` then `apt-get install -y` of packages, output passed through. */
export async function installPackages(packages: readonly string[]): Promise<void> {
  for (const args of [["update", "-qq"], ["install", "-y", "-qq", ...packages]]) {
    const status = await new Deno.Command("apt-get", {
      args,
      env: { DEBIAN_FRONTEND: "noninteractive" },
      stdin: "null",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn().status;
    if (!status.success) {
      throw new Error(`apt-get ${args.join(" ")} failed with exit code ${status.code}`);
    }
  }
}
