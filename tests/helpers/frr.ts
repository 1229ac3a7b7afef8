/**
 * An FRR speaker (zebra + bgpd from /usr/lib/frr) in a netns of its own on a test fabric's
 * underlay, peering with the fabric's route reflector for l2vpn evpn, as
 * /work/shared/docs/frr-interop.md describes: its own config, pid and vty socket paths in a
 * frr-owned temp directory, started as user frr, stopped with SIGTERM. Used to produce real
 * `show bgp l2vpn evpn json` output for `verify --rib`, and, with `vnis`, real FRR UPDATEs:
 * FRR packs several into one TCP segment, as the captures showed. Each VNI gets a
 * bridge, a VXLAN device and a veth host port; MACs put in the bridge's fdb on that port are
 * advertised as MAC-only type-2 routes (RT 64512:VNI, FRR's default).
 */
import type { Fabric } from "../../lib/fabric/fabric.ts";
import { DaemonProcess } from "../../lib/fabric/daemon_process.ts";
import { createNetns, deleteNetns } from "../../lib/fabric/netns.ts";
import { pollUntil } from "../../lib/fabric/poll.ts";
import { FABRIC_BRIDGE, REFLECTOR_IP, UNDERLAY_IFACE } from "../../lib/fabric/topology.ts";

const FRR_DIR = "/usr/lib/frr";
/** Underlay address of the FRR speaker (outside the node range .11-.210). */
export const FRR_IP = "10.199.0.250";

/** A running FRR speaker. */
export interface FrrPeer {
  netns: string;
  /** Runs `vtysh -c COMMAND` against this speaker; its stdout. */
  vtysh(command: string): Promise<string>;
  /** Adds static fdb entries for `macs` on the VNI's host port: FRR advertises each. */
  addMacs(vni: number, macs: string[]): Promise<void>;
  stop(): Promise<void>;
}

async function run(argv: string[]): Promise<string> {
  const out = await new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(
      `${argv.join(" ")} failed (${out.code}): ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return text;
}

/** Starts FRR beside `fabric` and waits until its session with the reflector is Established. */
export async function startFrrPeer(fabric: Fabric, vnis: number[] = []): Promise<FrrPeer> {
  const netns = `${fabric.id}-frr`;
  const port = `${fabric.id.slice(-6)}-frr`;
  const dir = await Deno.makeTempDir({ prefix: "bcni-frr-" });
  const daemons: DaemonProcess[] = [];
  const stop = async () => {
    for (const d of daemons.reverse()) await d.stop(3000).catch(() => undefined);
    await deleteNetns(netns).catch(() => undefined);
    await Deno.remove(dir, { recursive: true }).catch(() => undefined);
  };
  try {
    await createNetns(netns);
    await run([
      "ip",
      "-n",
      fabric.fabricNetns,
      "link",
      "add",
      port,
      "type",
      "veth",
      "peer",
      "name",
      UNDERLAY_IFACE,
      "netns",
      netns,
    ]);
    await run(["ip", "-n", fabric.fabricNetns, "link", "set", port, "master", FABRIC_BRIDGE, "up"]);
    await run(["ip", "-n", netns, "addr", "add", `${FRR_IP}/24`, "dev", UNDERLAY_IFACE]);
    await run(["ip", "-n", netns, "link", "set", UNDERLAY_IFACE, "up"]);
    await run(["ip", "-n", netns, "link", "set", "lo", "up"]);
    for (const vni of vnis) {
      const ip = ["ip", "-n", netns, "link"];
      await run([...ip, "add", `br${vni}`, "type", "bridge", "stp_state", "0"]);
      await run([
        ...ip,
        "add",
        `vx${vni}`,
        "type",
        "vxlan",
        "id",
        `${vni}`,
        "local",
        FRR_IP,
        "dstport",
        "4789",
        "nolearning",
      ]);
      // The host port: one end of a veth pair (the kernel here has no dummy module).
      await run([...ip, "add", `hp${vni}`, "type", "veth", "peer", "name", `hq${vni}`]);
      await run([...ip, "set", `hq${vni}`, "up"]);
      for (const dev of [`vx${vni}`, `hp${vni}`]) {
        await run([...ip, "set", dev, "master", `br${vni}`, "up"]);
      }
      await run([...ip, "set", `br${vni}`, "up"]);
    }
    await Deno.writeTextFile(`${dir}/zebra.conf`, "hostname frr-zebra\n");
    await Deno.writeTextFile(
      `${dir}/bgpd.conf`,
      [
        "hostname frr-bgpd",
        "router bgp 64512",
        ` bgp router-id ${FRR_IP}`,
        " no bgp default ipv4-unicast",
        ` neighbor ${REFLECTOR_IP} remote-as 64512`,
        ` neighbor ${REFLECTOR_IP} update-source ${FRR_IP}`,
        " address-family l2vpn evpn",
        `  neighbor ${REFLECTOR_IP} activate`,
        ...(vnis.length ? ["  advertise-all-vni"] : []),
        " exit-address-family",
        "",
      ].join("\n"),
    );
    await run(["chown", "-R", "frr:frr", dir]);
    for (const name of ["zebra", "bgpd"]) {
      const d = new DaemonProcess({
        label: `FRR ${name} in ${netns}`,
        netns,
        argv: [
          `${FRR_DIR}/${name}`,
          "-f",
          `${dir}/${name}.conf`,
          "-i",
          `${dir}/${name}.pid`,
          "-z",
          `${dir}/zserv.api`,
          "--vty_socket",
          dir,
          "-P",
          "0",
          "-u",
          "frr",
          "-g",
          "frr",
          ...(name === "bgpd" ? ["-p", "179", "-l", FRR_IP] : []),
        ],
        outputFile: `${dir}/${name}.out`,
      });
      daemons.push(d);
      await pollUntil({
        what: `FRR ${name} vty socket in ${dir}`,
        timeoutMs: 60000,
        intervalMs: 200,
        explain: () => Deno.readTextFile(`${dir}/${name}.out`).catch(() => ""),
      }, async () => (await Deno.stat(`${dir}/${name}.vty`).catch(() => null)) ? true : undefined);
    }
    const vtysh = (command: string) =>
      run(["ip", "netns", "exec", netns, "vtysh", "--vty_socket", dir, "-c", command]);
    await pollUntil({
      what: `FRR's session with the reflector ${REFLECTOR_IP} to be Established`,
      timeoutMs: 90000,
      intervalMs: 500,
      explain: () => vtysh("show bgp summary").catch((e) => String(e)),
    }, async () => {
      const s = await vtysh(`show bgp neighbors ${REFLECTOR_IP} json`).catch(() => "{}");
      return (JSON.parse(s)[REFLECTOR_IP]?.bgpState === "Established") ? true : undefined;
    });
    const addMacs = async (vni: number, macs: string[]) => {
      const batch = macs.map((m) => `fdb add ${m} dev hp${vni} master static`).join("\n") + "\n";
      const child = new Deno.Command("bridge", {
        args: ["-n", netns, "-batch", "-"],
        stdin: "piped",
        stdout: "null",
        stderr: "piped",
      }).spawn();
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode(batch));
      await w.close();
      const out = await child.output();
      if (!out.success) {
        throw new Error(`bridge fdb add in ${netns}: ${new TextDecoder().decode(out.stderr)}`);
      }
    };
    return { netns, vtysh, addMacs, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
