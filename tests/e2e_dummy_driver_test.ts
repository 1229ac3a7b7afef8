/**
 * bagpipe-bgp running its `dummy` EVPN driver (control plane only: it advertises and programs no
 * VXLAN device): ADD succeeds, the pod's veth is on the plugin's own bridge, the endpoint is
 * attached, and the plugin's log says that nothing programs the other nodes' MACs. A real stock
 * daemon; only bgp.conf's EVPN driver differs.
 */
import assert from "node:assert/strict";
import { type Fabric, startFabric } from "../lib/fabric/fabric.ts";
import { defaultConfigDir } from "../lib/fabric/template.ts";
import { Cluster, type Network } from "./helpers/cluster.ts";

const net: Network = {
  name: "cponly",
  instance: "cponly",
  rt: "64512:700",
  prefix: "10.47",
  vni: 700,
};

Deno.test("with the dummy EVPN driver, ADD succeeds and warns that the daemon programs no dataplane", async () => {
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
      "bpbr-cponly",
    ]);
    assert.equal(links.code, 0, links.stderr);
    assert.match(links.stdout, new RegExp(pod.hostVeth), "the plugin plugged the veth itself");
    const ports = await fabric.api(node, "GET", "/looking-glass/vpns/instances/cponly/ports");
    assert.match(ports.text, new RegExp(pod.hostVeth), "the endpoint is attached");
    const log = await Deno.readTextFile(`${node.workDir}/cni/plugin.log`);
    const warning = log.split("\n").find((l) => l.includes("programs no VXLAN device"));
    assert.ok(warning, "the plugin logged that the daemon builds no dataplane");
    assert.match(warning, /DummyDataplaneDriver/);
    await cluster.delPod(pod);
  } finally {
    await fabric?.teardown();
    await Deno.remove(configDir, { recursive: true });
  }
});
