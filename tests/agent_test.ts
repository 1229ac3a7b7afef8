/**
 * `bagpipe-cni serve` (the node agent) on a real fabric: the installed CLI runs inside a node
 * netns next to the node's stock bagpipe-bgp, a real Prometheus server (Debian `prometheus`, its
 * own config and data dir, on that netns's loopback) scrapes it, and the metrics it stores must
 * match what the test did: ADDs and a failed ADD, log rotation and truncation, a daemon stop and
 * restart, a resync, a reflector stop. The page is rendered by headless Chromium in the same
 * netns: no console message, the node's pods shown, refreshed without reloading.
 */
import assert from "node:assert/strict";
import { type Fabric, type FabricNode, startFabric } from "../lib/fabric/fabric.ts";
import { httpInNetns } from "../lib/fabric/netns_http.ts";
import { Cluster, type Network } from "./helpers/cluster.ts";
import { NetnsProcess } from "./helpers/netns_process.ts";

const BUNDLE = new URL("../dist/bagpipe-cni.js", import.meta.url).pathname;

const net: Network = { name: "agt", instance: "agt", rt: "64512:520", prefix: "10.52", vni: 520 };
const AGENT = "127.0.0.1:9483";
const SECOND_AGENT = "127.0.0.1:9484";
const PROMETHEUS = "127.0.0.1:9090";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Prometheus on the node netns's loopback, scraping the agent every second. */
async function startPrometheus(f: Fabric, node: FabricNode, dir: string): Promise<NetnsProcess> {
  await Deno.mkdir(`${dir}/data`, { recursive: true });
  await Deno.writeTextFile(
    `${dir}/prometheus.yml`,
    [
      "global:",
      "  scrape_interval: 1s",
      "  scrape_timeout: 1s",
      "scrape_configs:",
      "  - job_name: bagpipe-cni",
      "    static_configs:",
      `      - targets: ["${AGENT}"]`,
      "",
    ].join("\n"),
  );
  const prometheus = NetnsProcess.start(node.name, [
    "prometheus",
    `--config.file=${dir}/prometheus.yml`,
    `--storage.tsdb.path=${dir}/data`,
    `--web.listen-address=${PROMETHEUS}`,
  ], `${dir}/prometheus.log`);
  for (let i = 0; i < 120; i++) {
    const ready = await httpInNetns(f.httpTool, node.name, "GET", `http://${PROMETHEUS}/-/ready`)
      .catch(() => undefined);
    if (ready?.status === 200) return prometheus;
    await sleep(500);
  }
  await prometheus.stop();
  throw new Error(`prometheus did not get ready:\n${prometheus.output().slice(-2000)}`);
}

Deno.test("node agent on a real fabric: metrics scraped by Prometheus, health, page in Chromium", async (t) => {
  let fabric: Fabric | undefined;
  const processes: NetnsProcess[] = [];
  try {
    fabric = await startFabric({ nodes: 2, readyTimeoutMs: 120_000 });
    const f = fabric;
    const [n1, n2] = f.nodes as [FabricNode, FabricNode];
    const cluster = await Cluster.create(f);
    const dir = `${f.workDir}/agent-test`;
    await Deno.mkdir(dir, { recursive: true });
    // The fabric kills every process whose command line names a node's directory when it stops
    // that node's daemon (its helpers' clean-up): the agent reaches the node's CNI files through
    // a link, and runs the bundle as the DaemonSet does (deno run -A bagpipe-cni.js serve).
    await Deno.symlink(`${n1.workDir}/cni`, `${dir}/n1-cni`);
    const logFile = `${n1.workDir}/cni/plugin.log`;
    const serve = (listen: string, log: string) => [
      Deno.execPath(),
      "run",
      "-A",
      "--no-config",
      BUNDLE,
      "serve",
      "--listen",
      listen,
      "--state-dir",
      `${dir}/n1-cni/state`,
      "--log-file",
      log,
      "--refresh-ms",
      "500",
    ];
    const agent = NetnsProcess.start(
      n1.name,
      serve(AGENT, `${dir}/n1-cni/plugin.log`),
      `${dir}/agent.log`,
    );
    processes.push(agent);
    const prometheus = await startPrometheus(f, n1, dir);
    processes.push(prometheus);

    const get = (path: string, base = AGENT) =>
      httpInNetns(f.httpTool, n1.name, "GET", `http://${base}${path}`);
    /** The value Prometheus stored for an instant query (undefined while it has none). */
    const query = async (expr: string): Promise<number | undefined> => {
      const answer = await get(`/api/v1/query?query=${encodeURIComponent(expr)}`, PROMETHEUS);
      const result = (answer.body as { data?: { result?: { value: [number, string] }[] } })?.data
        ?.result;
      return result?.[0] ? Number(result[0].value[1]) : undefined;
    };
    /** Polls Prometheus until `expr` has `want`, or fails with the last value and the agent's log. */
    const expectQuery = async (expr: string, want: number) => {
      let last: number | undefined;
      for (let i = 0; i < 120; i++) {
        last = await query(expr);
        if (last === want) return;
        await sleep(500);
      }
      const targets = await get("/api/v1/targets", PROMETHEUS).catch((e) => ({ text: String(e) }));
      assert.fail(
        `Prometheus: ${expr} is ${last}, expected ${want}\nagent:\n${agent.output()}\n` +
          `targets: ${targets.text.slice(0, 1500)}`,
      );
    };

    await t.step(
      "N ADDs and a failed ADD: the histogram's counts, errors by code, attachments",
      async () => {
        for (let i = 0; i < 3; i++) await cluster.addPod(n1, net);
        await cluster.addPod(n2, net);
        const bad = await cluster.exec(n1, "ADD", {
          ...cluster.config(n1, net),
          ipam: { type: "no-such-ipam" },
        }, { CNI_CONTAINERID: "ctr-bad", CNI_NETNS: cluster.pods[0]!.netns, CNI_IFNAME: "eth1" });
        assert.equal(bad.code, 1);
        const code = (bad.json as { code: number }).code;
        await expectQuery(
          'bagpipe_cni_request_duration_seconds_count{command="ADD",result="success"}',
          3,
        );
        await expectQuery(
          'bagpipe_cni_request_duration_seconds_count{command="ADD",result="error"}',
          1,
        );
        await expectQuery(`bagpipe_cni_request_errors_total{command="ADD",code="${code}"}`, 1);
        await expectQuery(`bagpipe_cni_attachments{network="${net.name}"}`, 3);
        // Received: node 2's pod and node 2's gateway (type 2) and its VTEP (type 3). Advertised:
        // our 3 pods and our gateway (type 2) and type 3.
        await expectQuery(
          `bagpipe_cni_evpn_routes{vpn_instance="${net.instance}",direction="received"}`,
          3,
        );
        await expectQuery(
          `bagpipe_cni_evpn_routes{vpn_instance="${net.instance}",direction="advertised"}`,
          5,
        );
        await expectQuery("sum(bagpipe_cni_node_drift_findings)", 0);
        await expectQuery('bagpipe_cni_bgp_peers{state="Established"}', 1);
        const health = await get("/healthz");
        assert.equal(health.status, 200, health.text);
        assert.equal((await get("/readyz")).status, 200);
      },
    );

    await t.step("the log rotated, then truncated: later ADDs still counted", async () => {
      await Deno.rename(logFile, `${logFile}.1`);
      await cluster.addPod(n1, net);
      await expectQuery(
        'bagpipe_cni_request_duration_seconds_count{command="ADD",result="success"}',
        4,
      );
      await expectQuery('bagpipe_cni_log_rotations_total{how="rotated"}', 1);
      await Deno.truncate(logFile, 0);
      await sleep(1500); // the agent sees the empty file before the next ADD writes to it
      await cluster.addPod(n1, net);
      await expectQuery(
        'bagpipe_cni_request_duration_seconds_count{command="ADD",result="success"}',
        5,
      );
      await expectQuery('bagpipe_cni_log_rotations_total{how="truncated"}', 1);
    });

    await t.step(
      "the page in headless Chromium: no console message, the pods, refreshed in place",
      async () => {
        const chromium = (url: string) =>
          f.exec(n1.name, [
            "timeout",
            "-k",
            "5",
            "120",
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            `--user-data-dir=${dir}/chromium-profile`,
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=8000",
            "--dump-dom",
            url,
          ]);
        const consoleLines = (stderr: string) =>
          stderr.split("\n").filter((l) => l.includes(":CONSOLE"));
        // The check can fail: a page that logs an error is seen.
        const control = await chromium(
          "data:text/html,<script>console.error('control-error')</script><p>x</p>",
        );
        assert.ok(
          consoleLines(control.stderr).some((l) => l.includes("control-error")),
          `chromium's console log is not visible:\n${control.stderr.slice(-1500)}`,
        );
        const page = await chromium(`http://${AGENT}/`);
        assert.equal(page.code, 0, page.stderr.slice(-1500));
        assert.deepEqual(consoleLines(page.stderr), []);
        for (const pod of cluster.pods.filter((p) => p.node === n1)) {
          assert.ok(page.stdout.includes(pod.containerId), `the page lacks pod ${pod.containerId}`);
          assert.ok(page.stdout.includes(pod.mac), `the page lacks MAC ${pod.mac}`);
        }
        assert.match(page.stdout, /healthy/);
        assert.match(page.stdout, /no drift/);
        const refreshes = Number(/data-refreshes="(\d+)"/.exec(page.stdout)?.[1]);
        assert.ok(refreshes >= 2, `the page refreshed ${refreshes} time(s)`);
        await Deno.remove(`${dir}/chromium-profile`, { recursive: true }).catch(() => {});
      },
    );

    await t.step(
      "bad requests and a missing log file: the agent keeps serving and says so",
      async () => {
        const post = await httpInNetns(f.httpTool, n1.name, "POST", `http://${AGENT}/metrics`, {});
        assert.equal(post.status, 405);
        assert.match(post.text, /read-only/);
        assert.equal((await get("/no/such/page")).status, 404);
        const garbage = await f.exec(n1.name, [
          "bash",
          "-c",
          `exec 3<>/dev/tcp/${
            AGENT.replace(":", "/")
          }; printf 'NOT HTTP\\r\\n\\r\\n' >&3; timeout 5 cat <&3`,
        ]);
        assert.match(garbage.stdout, /^HTTP\/1\.1 4\d\d/, garbage.stdout + garbage.stderr);
        assert.equal((await get("/healthz")).status, 200);

        const second = NetnsProcess.start(
          n1.name,
          serve(SECOND_AGENT, `${dir}/no-such-dir/plugin.log`),
          `${dir}/agent2.log`,
        );
        processes.push(second);
        let metrics;
        for (let i = 0; i < 120 && metrics?.status !== 200; i++) {
          metrics = await get("/metrics", SECOND_AGENT).catch(() => undefined);
          if (metrics?.status !== 200) await sleep(500);
        }
        assert.equal(metrics?.status, 200, second.output());
        assert.match(metrics!.text, /^bagpipe_cni_log_file_present 0$/m);
        assert.match(metrics!.text, /^bagpipe_cni_daemon_up 1$/m);
        const node = (await get("/api/node", SECOND_AGENT)).body as { log: { error: string } };
        assert.match(node.log.error, /does not exist/);
        await second.stop();
      },
    );

    await t.step(
      "the daemon stopped: down, unhealthy, still serving; restarted: restart and resync counted",
      async () => {
        await f.stopDaemon(n1);
        await expectQuery("bagpipe_cni_daemon_up", 0);
        const health = await get("/healthz");
        assert.equal(health.status, 503);
        assert.match(health.text, /daemon not answering/);
        const ready = await get("/readyz");
        assert.equal(ready.status, 503);
        assert.match(ready.text, /daemon not answering/);
        const node = (await get("/api/node")).body as {
          daemon: { up: boolean };
          drift: { error: string };
        };
        assert.equal(node.daemon.up, false);
        assert.match(node.drift.error, /down/);
        await f.startDaemon(n1);
        await expectQuery("bagpipe_cni_daemon_up", 1);
        await expectQuery("bagpipe_cni_daemon_restarts_total", 1);
        // The restarted daemon knows none of the node's 5 pods until resync.
        await f.waitEstablished(n1);
        await expectQuery('bagpipe_cni_node_drift_findings{kind="port_not_attached"}', 5);
        const resync = await cluster.resync(n1);
        assert.equal(resync.code, 0, resync.stdout + resync.stderr);
        await expectQuery("bagpipe_cni_resyncs_total", 1);
        await expectQuery("bagpipe_cni_resync_reattached_pods_total", 5);
        await expectQuery('bagpipe_cni_node_drift_findings{kind="port_not_attached"}', 0);
      },
    );

    await t.step("the route reflector stopped: no Established peer, unhealthy", async () => {
      await f.stopReflector();
      await expectQuery('bagpipe_cni_bgp_peers{state="Established"}', 0);
      const health = await get("/healthz");
      assert.equal(health.status, 503);
      assert.match(health.text, /no Established BGP peer/);
      // Still ready: the outage is the fabric's, not this node's (a rollout must not stall).
      const ready = await get("/readyz");
      assert.equal(ready.status, 200, ready.text);
      assert.equal((await get("/metrics")).status, 200);
    });

    const status = await agent.stop();
    assert.ok(
      status.success || status.signal === "SIGTERM",
      `agent ended with ${JSON.stringify(status)}`,
    );
    assert.match(agent.output(), /serve: stopped/);
  } finally {
    for (const p of processes.reverse()) await p.stop().catch(() => {});
    await fabric?.teardown();
  }
});
