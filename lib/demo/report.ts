/**
 * The demo's closing report: a fixed set of labelled lines (fabric, nodes, network, VNIs, pods,
 * routes, portmap, ping, capture, verify, left, timings, RESULT) that people read and the demo
 * test checks.
 */
import type { Fabric } from "../fabric/fabric.ts";
import { describeRoute, type NodeFacts } from "./fabric_facts.ts";
import type { NodeCni } from "./node_cni.ts";
import { formatMatrix, type PingCell } from "./ping_matrix.ts";
import type { DemoPod } from "./pods.ts";
import { formatServiceMatrix, type ServiceMatrix } from "./service_matrix.ts";
import { describeVerify, type VerifyOutcome } from "./verify_capture.ts";

/** Everything the report shows; parts are missing when the demo failed before them. */
export interface DemoFacts {
  fabric?: Fabric;
  cnis: NodeCni[];
  pods: DemoPod[];
  facts: NodeFacts[];
  /** Per pod name: the DNAT rule portmap wrote, and whether DEL removed it (undefined: not deleted). */
  portmap: { pod: string; rule: string | undefined; removed?: boolean }[];
  matrix: PingCell[];
  /** Pods, nodes and an off-cluster client → each Service, NodePort and hostPort. */
  services?: ServiceMatrix;
  capture?: { file: string; bytes: number; saved: boolean };
  /** Run with --keep. */
  keep: boolean;
  verify?: VerifyOutcome;
  left: string;
  /** Teardown left nothing (false while kept). */
  clean: boolean;
  timings: readonly { step: string; ms: number }[];
  failure?: string;
  wallMs: number;
}

const pad = (label: string) => label.padEnd(10);

/**
 * Whether the run showed what it should: every pair answered, verify ran without finding the
 * capture inconsistent (or is not in this build), portmap's rules came and went, and nothing is
 * left unless kept.
 */
export function demoPassed(f: DemoFacts): boolean {
  return f.failure === undefined && (f.keep || f.clean) && f.matrix.length > 0 &&
    f.matrix.every((c) => c.ms !== undefined) &&
    f.verify?.state !== "failed" && !(f.verify?.state === "verdict" && !f.verify.consistent) &&
    f.portmap.every((p) => p.rule !== undefined && p.removed !== false) &&
    (f.services?.outcomes.every((o) => o.ok) ?? false);
}

/** The report lines. */
export function formatReport(f: DemoFacts): string[] {
  const lines = ["", "== bagpipe-cni demo report =="];
  const add = (label: string, text: string) => lines.push(`${pad(label)} ${text}`);
  const more = (text: string) => lines.push(`${pad("")} ${text}`);
  if (f.fabric) {
    const fab = f.fabric;
    for (const dc of fab.dcs) {
      add(
        fab.dcs.length === 1 ? "fabric" : `DC${dc.index}`,
        `${fab.id}: underlay ${dc.prefix} on bridge ${dc.bridge} (netns ${fab.fabricNetns}), GoBGP route reflector ${dc.reflector.ip} (netns ${dc.reflector.netns})`,
      );
    }
    if (fab.router) {
      add(
        "inter-DC",
        `router netns ${fab.router.netns} (${
          fab.dcs.map((dc) => dc.routerIp).join(" ↔ ")
        }); the reflectors peer over iBGP, one AS, a cluster id each; capture on ${
          fab.router.ports[1]
        }`,
      );
    }
  }
  for (const cni of f.cnis) {
    add(
      `node ${_short(cni.node.name)}`,
      `netns ${cni.node.name}, VTEP ${cni.node.underlayIp}, stock bagpipe-bgp, pods from ${cni.podCidr}, plugin ${cni.plugin}, conflist ${cni.conflistFile}`,
    );
  }
  const list = f.cnis[0]?.list;
  if (list) {
    add(
      "network",
      `${list.name}, cniVersion ${list.cniVersion}, chain ${
        list.plugins.map((p) => p.type).join(" → ")
      }`,
    );
  }
  if (f.facts.length > 0) {
    const i = f.facts[0]!.instance;
    add(
      "VNIs",
      `VPN instance "${i.id}" (import ${i.importRts.join(",")}, export ${i.exportRts.join(",")}): ${
        f.facts.map((n) => `${_short(n.node.name)} VNI ${n.instance.vni}`).join(", ")
      }`,
    );
  }
  if (f.pods.length > 0) {
    add("pods", "NAME     NODE  IP          MAC                HOST VETH        ADD ms per plugin");
    for (const p of f.pods) {
      more(
        [
          p.name.padEnd(8),
          _short(p.cni.node.name).padEnd(5),
          p.ip.padEnd(11),
          p.mac.padEnd(18),
          p.hostVeth.padEnd(16),
          p.steps.map((s) => `${s.type} ${s.ms}`).join(", "),
        ].join(" "),
      );
    }
  }
  for (const [index, n] of f.facts.entries()) {
    const label = index === 0 ? "routes" : "";
    add(
      label,
      `${_short(n.node.name)} received ${n.received.length}: ${
        n.received.map(describeRoute).join("; ") || "none"
      }`,
    );
  }
  for (const [index, p] of f.portmap.entries()) {
    const removed = p.removed === undefined
      ? ""
      : p.removed
      ? ", removed by DEL"
      : ", NOT removed by DEL";
    add(index === 0 ? "portmap" : "", `${p.pod}: ${p.rule ?? "NO DNAT rule found"}${removed}`);
  }
  if (f.matrix.length > 0) {
    const ok = f.matrix.filter((c) => c.ms !== undefined);
    const slowest = [...ok].sort((a, b) => b.ms! - a.ms!)[0];
    add(
      "ping",
      `${ok.length}/${f.matrix.length} pairs answered${
        ok.length === f.matrix.length ? " (all OK)" : ""
      }${slowest ? `; slowest ${slowest.from} → ${slowest.to} ${slowest.ms} ms` : ""}`,
    );
    for (const line of formatMatrix(f.pods, f.matrix)) more(line);
  }
  if (f.services) {
    const all = f.services.outcomes;
    const ok = all.filter((o) => o.ok).length;
    add(
      "services",
      `${ok}/${all.length} answered by the right backend${ok === all.length ? " (all OK)" : ""}: ${
        f.services.services.map((s) => `${s.name} ${s.clusterIP}`).join(", ")
      } (kube-proxy iptables mode)`,
    );
    for (const line of formatServiceMatrix(f.services)) more(line);
  }
  if (f.capture) {
    const where = f.capture.saved
      ? "saved"
      : f.keep
      ? "kept with the rest"
      : "removed with the rest; --save-capture FILE keeps a copy";
    add("capture", `${f.capture.file} (${f.capture.bytes} bytes, pcap; ${where})`);
  }
  if (f.verify) add("verify", describeVerify(f.verify));
  if (f.verify?.state === "verdict") { for (const finding of f.verify.findings) more(finding); }
  add("left", f.left);
  add(
    "timings",
    f.timings.map((t) => `${t.step.split(":")[0]} ${(t.ms / 1000).toFixed(1)} s`).join(", "),
  );
  if (f.failure) add("failure", f.failure);
  add("RESULT", `${demoPassed(f) ? "PASS" : "FAIL"} in ${(f.wallMs / 1000).toFixed(1)} s`);
  return lines;
}

/** "n1" from "bcni-demo-1a2b3c-n1". */
function _short(netns: string): string {
  return netns.slice(netns.lastIndexOf("-") + 1);
}
