/**
 * What runtimes send beyond CNI_CONTAINERID/CNI_NETNS: the pod's identity in CNI_ARGS (into the
 * record and every log line), requested addresses (CNI_ARGS IP=, runtimeConfig.ips: honoured by
 * host-local, checked by us) and requested MACs (the rule in lib/cni/runtime_args.ts). The
 * installed plugin with the real host-local, in namespaces the test creates.
 */
import assert from "node:assert/strict";
import { CniError } from "../lib/cni/errors.ts";
import {
  checkRequestedIps,
  checkRequestedMac,
  podIdentity,
  podLabel,
  requestedIps,
  requestedMac,
} from "../lib/cni/runtime_args.ts";
import { podMacFor } from "../lib/net/names.ts";
import { execPlugin, TestNode } from "./helpers/plugin.ts";

Deno.test("runtime args: parsing and the rules", () => {
  const kubelet = {
    IgnoreUnknown: "1",
    K8S_POD_NAMESPACE: "shop",
    K8S_POD_NAME: "web-1",
    K8S_POD_INFRA_CONTAINER_ID: "abc",
    K8S_POD_UID: "u-1",
  };
  assert.deepEqual(podIdentity(kubelet), {
    namespace: "shop",
    name: "web-1",
    uid: "u-1",
    infraContainerId: "abc",
  });
  assert.equal(podLabel(podIdentity(kubelet)), "shop/web-1");
  assert.equal(podLabel(podIdentity({ K8S_POD_NAME: "a" })), "a", "podman sends a name only");
  assert.equal(podIdentity({ IgnoreUnknown: "1" }), undefined);

  assert.deepEqual(
    requestedIps({ IP: "10.27.2.9,10.27.2.10" }, { ips: ["10.27.2.9/16", "fd00::5/64"] }),
    ["10.27.2.9", "10.27.2.10", "fd00::5"],
  );
  assert.doesNotThrow(() => checkRequestedIps(["10.27.2.9"], ["10.27.2.9/16"], "host-local"));
  assert.throws(
    () => checkRequestedIps(["10.27.2.9"], ["10.27.2.3/16"], "x"),
    (e: CniError) => e.code === 7 && /did not assign .*10\.27\.2\.9/.test(e.message),
  );

  assert.deepEqual(requestedMac({ MAC: "02:00:00:00:00:01" }, { mac: "0a:58:0a:1b:02:09" }), {
    mac: "0a:58:0a:1b:02:09",
    source: "runtimeConfig.mac",
  });
  const derived = podMacFor("10.27.2.9/16");
  assert.doesNotThrow(() =>
    checkRequestedMac({ mac: derived.toUpperCase(), source: "CNI_ARGS MAC" }, derived, "10.27.2.9")
  );
  assert.throws(
    () => checkRequestedMac({ mac: "02:00:00:00:00:01", source: "CNI_ARGS MAC" }, derived, "x"),
    (e: CniError) => e.code === 2 && e.message.includes(derived) && /B1/.test(e.details ?? ""),
  );
});

Deno.test("runtime args through the installed plugin and host-local", async (t) => {
  const node = await TestNode.create("rtargs");
  const add = async (id: string, args: string, extra: Record<string, unknown> = {}) => {
    const netns = await node.addPod();
    const run = await execPlugin(node.netns, node.plugin, {
      CNI_COMMAND: "ADD",
      CNI_PATH: node.cniPath,
      CNI_CONTAINERID: id,
      CNI_NETNS: netns,
      CNI_IFNAME: "eth0",
      CNI_ARGS: args,
    }, node.config(extra));
    return { run, netns };
  };
  const logLines = () =>
    Deno.readTextFileSync(`${node.dir}/plugin.log`).trim().split("\n").map((l) => JSON.parse(l));
  try {
    await t.step("kubelet's CNI_ARGS name the pod in the record and every log line", async () => {
      const { run } = await add(
        "ctr-k8s",
        "IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-1;" +
          "K8S_POD_INFRA_CONTAINER_ID=ctr-k8s;K8S_POD_UID=u-1",
      );
      assert.equal(run.code, 0, run.stdout);
      const record = JSON.parse(Deno.readTextFileSync(`${node.stateDir}/ctr-k8s@eth0.json`));
      assert.deepEqual(record.pod, {
        namespace: "shop",
        name: "web-1",
        uid: "u-1",
        infraContainerId: "ctr-k8s",
      });
      const lines = logLines().filter((l) => l.containerId === "ctr-k8s");
      assert.ok(lines.length >= 2);
      for (const line of lines) assert.equal(line.pod, "shop/web-1", JSON.stringify(line));
    });

    await t.step("IP= and runtimeConfig.ips reach host-local", async () => {
      const viaArgs = await add("ctr-ip", "IgnoreUnknown=1;IP=10.27.2.150");
      assert.equal(viaArgs.run.code, 0, viaArgs.run.stdout);
      const ips = (viaArgs.run.json as { ips: { address: string }[] }).ips;
      assert.equal(ips[0]!.address, "10.27.2.150/16");
      const viaConfig = await add("ctr-rc", "", { runtimeConfig: { ips: ["10.27.2.151/16"] } });
      assert.equal(viaConfig.run.code, 0, viaConfig.run.stdout);
      assert.equal(
        (viaConfig.run.json as { ips: { address: string }[] }).ips[0]!.address,
        "10.27.2.151/16",
      );
    });

    await t.step("a requested MAC: the derived one is honoured, another refused", async () => {
      // Runtimes send IgnoreUnknown=1: host-local refuses CNI_ARGS it does not know otherwise.
      const ok = await add("ctr-mac-ok", `IgnoreUnknown=1;MAC=${podMacFor("10.27.2.160")}`, {
        runtimeConfig: { ips: ["10.27.2.160"] },
      });
      assert.equal(ok.run.code, 0, ok.run.stdout);
      const leases = node.leases();
      const refused = await add("ctr-mac-no", "", { runtimeConfig: { mac: "02:00:00:00:00:01" } });
      assert.equal(refused.run.code, 1);
      assert.equal(refused.run.json?.code, 2);
      assert.match(String(refused.run.json?.msg), /requested MAC 02:00:00:00:00:01/);
      assert.deepEqual(node.leases(), leases, "the lease IPAM gave was released");
      assert.ok(!node.records().includes("ctr-mac-no@eth0.json"));
    });
  } finally {
    await node.destroy();
  }
});
