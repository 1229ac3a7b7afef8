// The least work any plugin on this design can do for one ADD, with nothing of ours in it: the
// runtime starts, runs host-local (config on stdin) while a sysctl runs in the pod, then one `ip`
// batch makes, addresses and routes the veth pair. No config parsing, no checks, no state, no
// logs. The benchmark runs it behind the plugin's own launcher line: its time minus the empty
// script's is what Deno.Command plus the mandatory processes cost before our code does anything.
// Environment: SKELETON_NETNS (a named netns), SKELETON_ID, SKELETON_CONF (host-local's config).
const encoder = new TextEncoder(), decoder = new TextDecoder();
const env = (name) => Deno.env.get(name) ?? "";
const netns = env("SKELETON_NETNS"), id = env("SKELETON_ID");

async function run(program, args, stdin, extraEnv) {
  const child = new Deno.Command(program, {
    args,
    env: extraEnv,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(encoder.encode(stdin));
    await writer.close();
  }
  const out = await child.output();
  if (out.code !== 0) throw new Error(`${program}: ${decoder.decode(out.stderr)}`);
  return decoder.decode(out.stdout);
}

const [ipam] = await Promise.all([
  run("/usr/lib/cni/host-local", [], env("SKELETON_CONF"), {
    CNI_COMMAND: "ADD",
    CNI_CONTAINERID: `skeleton-${id}`,
    CNI_NETNS: `/run/netns/${netns}`,
    CNI_IFNAME: "eth0",
    CNI_PATH: "/usr/lib/cni",
  }),
  run("nsenter", [
    `--net=/run/netns/${netns}`,
    "sysctl",
    "-qw",
    "net.ipv4.conf.default.arp_notify=1",
  ]),
]);
const { ips } = JSON.parse(ipam);
await run(
  "ip",
  ["-n", netns, "-batch", "-"],
  [
    `link add bcsk${id} mtu 1450 up netns /proc/${Deno.pid}/ns/net type veth peer name eth0 mtu 1450`,
    `addr add ${ips[0].address} dev eth0`,
    "link set eth0 up",
    `route add default via ${ips[0].gateway} dev eth0`,
  ].join("\n") + "\n",
);
console.log(ipam);
