/**
 * bagpipe-bgp running its `dummy` EVPN driver (control plane only: it advertises, builds no
 * bridge or VXLAN device): ADD succeeds, the endpoint is attached, and the plugin's log says why
 * the veth is plugged into no bridge. A real stock daemon; only bgp.conf's EVPN driver differs.
 */
import assert from "node:assert/strict";
import { type Fabric, startFabric } from "../lib/fabric/fabric.ts";
import { defaultConfigDir } from "../lib/fabric/template.ts";
import { Cluster, type Network } from "./helpers/cluster.ts";

const net: Network = { name: "cponly", instance: "cponly", rt: "64512:700", prefix: "10.47" };

Deno.test("with the dummy EVPN driver, ADD succeeds and warns that no dataplane is built", async () => {
  const configDir = await Deno.makeTempDir({ prefix: "bcni-dummy-conf-" });
  let fabric: Fabric | undefined;
  try {
    // The fabric reads these two templates from its configDir.
    await Deno.copyFile(`${defaultConfigDir()}gobgpd.toml`, `${configDir}/gobgpd.toml`);
    const conf = await Deno.readTextFile(`${defaultConfigDir()}bgp.conf`);
    const dummy = conf.replace(
      "dataplane_driver = linux_vxlan.LinuxVXLANDataplaneDriver",
      "dataplane_driver = dummy",
    );
    assert.notEqual(dummy, conf, "bgp.conf names the Linux VXLAN driver");
    await Deno.writeTextFile(`${configDir}/bgp.conf`, dummy);
    fabric = await startFabric({ nodes: 1, configDir });
    const node = fabric.nodes[0]!;
    const cluster = await Cluster.create(fabric);

    const pod = await cluster.addPod(node, net);
    const links = await fabric.exec(node.name, [
      "ip",
      "-o",
      "link",
      "show",
      "master",
      `evpn---cponly`,
    ]);
    assert.notEqual(links.code, 0, "the dummy driver made no bridge");
    const ports = await fabric.api(node, "GET", "/looking-glass/vpns/instances/cponly/ports");
    assert.match(ports.text, new RegExp(pod.hostVeth), "the endpoint is attached");
    const log = await Deno.readTextFile(`${node.workDir}/cni/plugin.log`);
    const warning = log.split("\n").find((l) => l.includes("control plane only"));
    assert.ok(warning, "the plugin logged why the veth is in no bridge");
    assert.match(warning, /DummyDataplaneDriver/);
    await cluster.delPod(pod);
  } finally {
    await fabric?.teardown();
    await Deno.remove(configDir, { recursive: true });
  }
});
