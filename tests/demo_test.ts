/**
 * The demo, run as a user runs it (`deno task demo`), checked from the outside: its report says
 * every pod reached every pod, and afterwards no netns, process, directory or state file of it
 * is left. Also --keep then --down, a failing run, and the demo's pure parts (the conflist
 * runner with fake plugins, verify's verdict, the looking glass routes).
 */
import assert from "node:assert/strict";
import { ChainError, ConflistRunner, type PluginExec } from "../lib/demo/conflist_runner.ts";
import { parseReceivedRoutes } from "../lib/demo/fabric_facts.ts";
import { type DemoFacts, demoPassed } from "../lib/demo/report.ts";
import type { ServiceMatrix } from "../lib/demo/service_matrix.ts";
import type { FlowOutcome } from "../lib/fabric/flow_checks.ts";
import { findLeftovers, isClean } from "../lib/demo/leftovers.ts";
import { readVerifyOutput } from "../lib/demo/verify_capture.ts";
import { listNetns } from "../lib/fabric/netns.ts";
import { run } from "../lib/net/run.ts";

const ROOT = new URL("../", import.meta.url).pathname;

interface DemoRun {
  code: number;
  out: string;
  ms: number;
}

async function demo(...args: string[]): Promise<DemoRun> {
  const started = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--config", `${ROOT}deno.json`, "demo", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  const all = text.decode(out.stdout) + text.decode(out.stderr);
  return { code: out.code, out: all, ms: performance.now() - started };
}

/** The report line with this label (the label column is 10 wide). */
function line(out: string, label: string): string {
  const found = out.split("\n").find((l) => l.startsWith(`${label.padEnd(10)} `));
  assert.ok(found !== undefined, `no "${label}" line in the demo output:\n${out}`);
  return found.slice(11);
}

/** The fabric id and demo dir the run printed, to look for leftovers independently. */
function idsOf(out: string): { id: string; dir: string } {
  const id = /fabric (bcni-demo-[0-9a-f]{6})[: ]/.exec(out)?.[1];
  const dir = new RegExp(`(/[^\\s]*/${id}-[0-9a-z]+)/`).exec(out)?.[1];
  assert.ok(id && dir, `cannot find the fabric id and dir in:\n${out}`);
  return { id, dir };
}

/** Removes whatever a demo recorded in stateFile (a failed assertion must not orphan a kept demo). */
async function downIfRecorded(stateFile: string): Promise<void> {
  const recorded = await Deno.stat(stateFile).then(() => true, () => false);
  if (recorded) await demo("--down", "--state-file", stateFile);
}

async function assertNothingLeft(id: string, dir: string, stateFile: string): Promise<void> {
  assert.deepEqual((await listNetns()).filter((n) => n.startsWith(id)), [], "netns left");
  const left = await findLeftovers(id, dir);
  assert.deepEqual(left.pids, [], `processes left with ${dir} on their command line`);
  assert.equal(left.workDir, false, `${dir} left`);
  assert.ok(isClean(left));
  await assert.rejects(Deno.stat(stateFile), Deno.errors.NotFound, "state file left");
}

Deno.test("deno task demo: all pods reach each other, verify runs, nothing is left", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "bcni-demo-test-" });
  const stateFile = `${stateDir}/state.json`;
  try {
    const run = await demo("--state-file", stateFile);
    console.log(`demo wall time ${(run.ms / 1000).toFixed(1)} s`);
    assert.equal(run.code, 0, run.out);
    for (let n = 1; n <= 11; n++) assert.match(run.out, new RegExp(`\\] ${n}/11 `), `step ${n}`);
    assert.match(line(run.out, "RESULT"), /^PASS in \d+\.\d s$/);
    assert.match(line(run.out, "ping"), /^12\/12 pairs answered \(all OK\)/);
    assert.match(line(run.out, "services"), /^\d+\/\d+ answered by the right backend \(all OK\)/);
    assert.doesNotMatch(run.out, /FAIL|not run/);
    assert.match(
      line(run.out, "network"),
      /^bagpipe-net, cniVersion 1\.0\.0, chain bagpipe → portmap$/,
    );
    assert.match(
      line(run.out, "VNIs"),
      /import 64512:90, export 64512:90\): n1 VNI 90, n2 VNI 90$/,
    );
    // Each node's pod CIDR starts with its gateway (.1, on the bridge): pods get .2 and .3.
    for (const ip of ["10.27.1.2", "10.27.1.3", "10.27.2.2", "10.27.2.3"]) {
      assert.match(
        run.out,
        new RegExp(`^ {11}n\\d-pod\\d +n\\d +${ip.replaceAll(".", "\\.")} `, "m"),
      );
    }
    // Each node learned the other node's gateway and both its pods, and its flood route.
    const routes = line(run.out, "routes");
    assert.match(
      routes,
      /^n1 received 4: .*10\.27\.2\.1 via 10\.199\.0\.12.*10\.27\.2\.2 via 10\.199\.0\.12.*10\.27\.2\.3 via 10\.199\.0\.12/,
    );
    assert.match(run.out, /^ {11}n2 received 4: .*10\.27\.1\.1 via 10\.199\.0\.11/m);
    assert.match(
      line(run.out, "portmap"),
      /--dport 8080 -j DNAT --to-destination 10\.27\.1\.2:80, removed by DEL$/,
    );
    // verify either judged the capture or said plainly that it could not; never a made-up verdict.
    assert.match(
      line(run.out, "verify"),
      /^(CONSISTENT: 0 error\(s\), \d+ warning\(s\); \d+ BGP session\(s\), [1-9]\d* EVPN route\(s\), [1-9]\d* VXLAN flow\(s\)|NOT RUN: this build of bagpipe-cni has no verify command)/,
    );
    assert.match(line(run.out, "left"), /^nothing \(no netns, no process, work dir removed\)$/);
    const { id, dir } = idsOf(run.out);
    await assertNothingLeft(id, dir, stateFile);
  } finally {
    await downIfRecorded(stateFile);
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("deno task demo --keep leaves a working fabric that --down removes", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "bcni-demo-test-" });
  const stateFile = `${stateDir}/state.json`;
  try {
    const run = await demo("--keep", "--state-file", stateFile);
    assert.equal(run.code, 0, run.out);
    const ids = idsOf(run.out);
    assert.match(line(run.out, "left"), /^kept on purpose \(--keep\): 9 netns, \d+ processes/);
    assert.match(run.out, new RegExp(`deno task demo --down --state-file ${stateFile}`));
    const state = JSON.parse(await Deno.readTextFile(stateFile));
    assert.equal(state.status, "kept");
    assert.equal(state.fabricId, ids.id);

    // Still working after the demo process is gone: pod n1-pod1 reaches n2-pod2.
    const ping = await new Deno.Command("ip", {
      args: ["netns", "exec", `${ids.id}-n1-pod1`, "ping", "-c", "1", "-W", "2", "10.27.2.2"],
      stdout: "null",
      stderr: "null",
    }).output();
    assert.equal(ping.code, 0, "pods of a kept demo still reach each other");

    const second = await demo("--state-file", stateFile);
    assert.equal(second.code, 1);
    assert.match(second.out, /is recorded in .*; remove it first with: deno task demo --down/);

    const down = await demo("--down", "--state-file", stateFile);
    assert.equal(down.code, 0, down.out);
    assert.match(down.out, /left behind: nothing/);
    await assertNothingLeft(ids.id, ids.dir, stateFile);
    const again = await demo("--down", "--state-file", stateFile);
    assert.equal(again.code, 0);
    assert.match(again.out, /no demo recorded/);
  } finally {
    await downIfRecorded(stateFile);
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("deno task demo fails with a clear message and tears down when a step fails", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bcni-demo-test-" });
  try {
    // A real failure after the fabric is up: the conflist has a route target the plugin rejects.
    for (const name of ["bgp.conf", "gobgpd.toml"]) {
      await Deno.copyFile(`${ROOT}config/${name}`, `${dir}/${name}`);
    }
    const conflist = await Deno.readTextFile(`${ROOT}config/10-bagpipe.conflist`);
    await Deno.writeTextFile(
      `${dir}/10-bagpipe.conflist`,
      conflist.replace('"exportrt": "64512:90"', '"exportrt": "64512"'),
    );
    const run = await demo("--config-dir", dir, "--state-file", `${dir}/state.json`);
    assert.equal(run.code, 1, run.out);
    assert.match(
      line(run.out, "failure"),
      /^step "install" failed: bagpipe-cni install on node bcni-demo-\w+-n1 failed with exit 1: .*exportrt: each route target must be ASN:NN/,
    );
    assert.match(line(run.out, "RESULT"), /^FAIL in /);
    assert.match(line(run.out, "left"), /^nothing/);
    const { id, dir: demoDir } = idsOf(run.out);
    await assertNothingLeft(id, demoDir, `${dir}/state.json`);
  } finally {
    await downIfRecorded(`${dir}/state.json`);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task demo rejects bad flags with exit 2", async () => {
  const run = await demo("--keep", "--down");
  assert.equal(run.code, 2);
  assert.match(run.out, /--keep and --down exclude each other/);
  const bad = await demo("--bogus");
  assert.equal(bad.code, 2);
  assert.match(bad.out, /Unknown option '--bogus'/);
});

// --- the conflist runner, with fake plugins ---------------------------------------------------

/** A fake plugin: logs its command and stdin, prints a result naming itself, or fails. */
function fakePlugin(log: string, fail = false): string {
  return `#!/bin/sh
input=$(cat)
printf '%s %s %s\\n' "$(basename "$0")" "$CNI_COMMAND" "$input" >> ${log}
env | grep '^CNI_' | sort | sed "s|^|$(basename "$0") env |" >> ${log}
${
    fail
      ? `echo '{"cniVersion":"1.0.0","code":11,"msg":"no more ports","details":"pool empty"}'; exit 1`
      : `[ "$CNI_COMMAND" = ADD ] && echo '{"cniVersion":"1.0.0","interfaces":[{"name":"'$(basename "$0")'"}]}'`
  }
exit 0
`;
}

const directExec: PluginExec = (binary, env, stdin) =>
  run(binary, [], { env, stdin, clearEnv: true });

async function fakeChain(failSecond = false) {
  const dir = await Deno.makeTempDir({ prefix: "bcni-chain-" });
  const log = `${dir}/calls.log`;
  await Deno.mkdir(`${dir}/empty`);
  await Deno.mkdir(`${dir}/bin`);
  await Deno.writeTextFile(`${dir}/bin/one`, fakePlugin(log), { mode: 0o755 });
  await Deno.writeTextFile(`${dir}/bin/two`, fakePlugin(log, failSecond), { mode: 0o755 });
  const runner = new ConflistRunner(
    {
      name: "net",
      cniVersion: "1.0.0",
      plugins: [
        { type: "one", x: 1 },
        { type: "two", capabilities: { portMappings: true } },
      ],
    },
    [`${dir}/empty`, `${dir}/bin`],
    directExec,
  );
  const calls = async () =>
    (await Deno.readTextFile(log)).trim().split("\n").filter((l) => !l.includes(" env "));
  const envOf = async (type: string) =>
    (await Deno.readTextFile(log)).split("\n").filter((l) => l.startsWith(`${type} env `))
      .map((l) => l.slice(`${type} env `.length));
  return { dir, runner, calls, envOf };
}

const ARGS = {
  containerId: "c1",
  netns: "/run/netns/p1",
  ifname: "eth0",
  cniArgs: { K8S_POD_NAME: "p1" },
  capabilityArgs: { portMappings: [{ hostPort: 80, containerPort: 8080, protocol: "tcp" }] },
};

Deno.test("ConflistRunner.add() hands each plugin its entry, name, version, prevResult and declared runtime config", async () => {
  const chain = await fakeChain();
  try {
    const { result, steps } = await chain.runner.add(ARGS);
    assert.deepEqual(result, { cniVersion: "1.0.0", interfaces: [{ name: "two" }] });
    assert.deepEqual(steps.map((s) => s.type), ["one", "two"]);
    const [one, two] = (await chain.calls()).map((l) => {
      const [type, command, ...json] = l.split(" ");
      return { type, command, conf: JSON.parse(json.join(" ")) };
    });
    assert.deepEqual(one, {
      type: "one",
      command: "ADD",
      conf: { type: "one", x: 1, name: "net", cniVersion: "1.0.0" },
    });
    assert.equal(two!.command, "ADD");
    assert.deepEqual(two!.conf.prevResult, { cniVersion: "1.0.0", interfaces: [{ name: "one" }] });
    assert.deepEqual(two!.conf.runtimeConfig, { portMappings: ARGS.capabilityArgs.portMappings });
    assert.deepEqual(await chain.envOf("two"), [
      "CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAME=p1",
      "CNI_COMMAND=ADD",
      "CNI_CONTAINERID=c1",
      "CNI_IFNAME=eth0",
      "CNI_NETNS=/run/netns/p1",
      `CNI_PATH=${chain.dir}/empty:${chain.dir}/bin`,
    ]);
  } finally {
    await Deno.remove(chain.dir, { recursive: true });
  }
});

Deno.test("ConflistRunner.del() runs the chain in reverse with the ADD result", async () => {
  const chain = await fakeChain();
  try {
    const { result } = await chain.runner.add(ARGS);
    await chain.runner.del(ARGS, result);
    const dels = (await chain.calls()).filter((l) => l.split(" ")[1] === "DEL");
    assert.deepEqual(dels.map((l) => l.split(" ")[0]), ["two", "one"]);
    for (const l of dels) {
      assert.deepEqual(JSON.parse(l.split(" ").slice(2).join(" ")).prevResult, result);
    }
  } finally {
    await Deno.remove(chain.dir, { recursive: true });
  }
});

Deno.test("ConflistRunner.add() names the failing plugin and its CNI error, then DELs the chain", async () => {
  const chain = await fakeChain(true);
  try {
    const error = await chain.runner.add(ARGS).then(() => undefined, (e) => e);
    assert.ok(error instanceof ChainError, String(error));
    assert.equal(error.plugin, "two");
    assert.equal(error.cniCode, 11);
    assert.match(
      error.message,
      /^plugin "two" \(2 of 2\) of network "net" ADD failed with exit 1, CNI error 11: no more ports \(pool empty\)/,
    );
    const calls = (await chain.calls()).map((l) => l.split(" ").slice(0, 2).join(" "));
    // After a failed ADD the runtime DELs the whole chain, without a cached result.
    assert.deepEqual(calls, ["one ADD", "two ADD", "two DEL", "one DEL"]);
    const lastDel = (await chain.calls()).at(-1)!;
    assert.equal("prevResult" in JSON.parse(lastDel.split(" ").slice(2).join(" ")), false);
  } finally {
    await Deno.remove(chain.dir, { recursive: true });
  }
});

Deno.test("ConflistRunner.findPlugin() says which CNI_PATH it searched", async () => {
  const chain = await fakeChain();
  try {
    await assert.rejects(
      chain.runner.findPlugin("portmap-missing"),
      new RegExp(`failed to find plugin "portmap-missing" in CNI_PATH ${chain.dir}/empty:`),
    );
    await assert.rejects(chain.runner.findPlugin("../one"), /is not a file name/);
  } finally {
    await Deno.remove(chain.dir, { recursive: true });
  }
});

// --- verify's verdict and the looking glass ---------------------------------------------------

Deno.test("readVerifyOutput() reports what verify said and never invents a verdict", async (t) => {
  const report = (consistent: boolean, errors: number) =>
    JSON.stringify({
      schema: "bagpipe-cni.verify/2",
      summary: { consistent, errors, warnings: 1, sessions: 2, routes: 6, flows: 12 },
      findings: [{ severity: "warning", kind: "flow_before_route", vni: 90 }],
    });
  await t.step("no verify command in this build", () => {
    const o = readVerifyOutput(
      2,
      "",
      'bagpipe-cni: unknown command "verify"; see bagpipe-cni --help',
    );
    assert.equal(o.state, "unavailable");
  });
  await t.step("consistent", () => {
    const o = readVerifyOutput(0, report(true, 0), "");
    assert.equal(o.state, "verdict");
    assert.equal(o.state === "verdict" && o.consistent, true);
    assert.deepEqual(o.state === "verdict" && o.findings, ["warning flow_before_route (vni 90)"]);
  });
  await t.step("error findings", () => {
    const o = readVerifyOutput(1, report(false, 2), "");
    assert.equal(o.state === "verdict" && o.consistent, false);
  });
  await t.step("exit code and report disagree", () => {
    assert.equal(readVerifyOutput(1, report(true, 0), "").state, "failed");
  });
  await t.step("unreadable capture", () => {
    const o = readVerifyOutput(2, "", "verify: x.pcap: not a capture file");
    assert.equal(o.state, "failed");
    assert.match(
      o.state === "failed" ? o.why : "",
      /exited 2 without a JSON report: .*not a capture/,
    );
  });
});

Deno.test("parseReceivedRoutes() reads bagpipe-bgp 17's received_routes", () => {
  // As node 1's looking glass answered in a real run (trimmed attributes).
  const body = {
    "('Multicast', (10.199.0.12,  rd 10.199.0.12:0))": [
      { "evpn:multicast::10.199.0.12:0:0:10.199.0.12": { next_hop: "10.199.0.12" } },
    ],
    "('MAC', 0A:58:0A:1B:02:0A)": [
      {
        "evpn:macadv::10.199.0.12:0:-:0:0A:58:0A:1B:02:0A/48:10.27.2.10: label 1 (16)": {
          next_hop: "10.199.0.12",
        },
      },
    ],
    "('Other', x)": [{ "evpn:segment::whatever": { next_hop: "10.199.0.13" } }],
  };
  assert.deepEqual(parseReceivedRoutes(body), [
    { kind: "evpn:segment", nextHop: "10.199.0.13" },
    { kind: "MAC/IP", mac: "0a:58:0a:1b:02:0a", ip: "10.27.2.10", nextHop: "10.199.0.12" },
    { kind: "multicast", nextHop: "10.199.0.12" },
  ]);
  assert.deepEqual(parseReceivedRoutes("not json"), []);
});

/** A Service matrix of one cell, answered or not. */
function serviceMatrix(ok: boolean): ServiceMatrix {
  return {
    services: [],
    clients: [],
    targets: [],
    outcomes: [{ ok, tries: 1, ms: 5 } as FlowOutcome],
  };
}

Deno.test("demoPassed() needs every pair answered, no inconsistent verdict, portmap clean, nothing left", async (t) => {
  const good: DemoFacts = {
    cnis: [],
    pods: [],
    facts: [],
    portmap: [{
      pod: "n1-pod1",
      rule: "-A CNI-DN-x ... --to-destination 10.27.1.1:80",
      removed: true,
    }],
    matrix: [{ from: "a", to: "b", ms: 5, tries: 1 }, { from: "b", to: "a", ms: 7, tries: 1 }],
    services: serviceMatrix(true),
    verify: { state: "unavailable", why: "no verify command" },
    left: "nothing",
    clean: true,
    keep: false,
    timings: [],
    wallMs: 1000,
  };
  assert.equal(demoPassed(good), true);
  const verdict = (consistent: boolean) => ({
    state: "verdict" as const,
    consistent,
    errors: consistent ? 0 : 1,
    warnings: 0,
    sessions: 2,
    routes: 6,
    flows: 4,
    findings: [],
    exitCode: consistent ? 0 : 1,
  });
  const cases: [string, Partial<DemoFacts>, boolean][] = [
    ["consistent verdict", { verify: verdict(true) }, true],
    ["inconsistent verdict", { verify: verdict(false) }, false],
    ["verify could not run", { verify: { state: "failed", why: "x" } }, false],
    ["a pair unanswered", { matrix: [{ from: "a", to: "b", ms: undefined, tries: 9 }] }, false],
    ["no pings at all", { matrix: [] }, false],
    ["something left", { clean: false }, false],
    ["kept on purpose", { clean: false, keep: true }, true],
    ["portmap rule missing", { portmap: [{ pod: "p", rule: undefined }] }, false],
    ["portmap rule not removed", { portmap: [{ pod: "p", rule: "r", removed: false }] }, false],
    ["a step failed", { failure: "step x failed" }, false],
    ["a Service cell failed", { services: serviceMatrix(false) }, false],
    ["no Service matrix", { services: undefined }, false],
  ];
  for (const [name, change, passed] of cases) {
    await t.step(name, () => assert.equal(demoPassed({ ...good, ...change }), passed));
  }
});
