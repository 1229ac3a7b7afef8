/**
 * The node agent's reading of the plugin's log: incremental, a whole line at a time, across
 * rotation (rename + new file) and truncation (copytruncate), and a file that is missing, then
 * appears. Real files in a temporary directory, written as the plugin's Logger writes them.
 */
import assert from "node:assert/strict";
import { CniLogStats } from "../lib/agent/cni_log_stats.ts";
import { LogFollower } from "../lib/agent/log_follower.ts";
import { renderPrometheusText } from "../lib/agent/prometheus_text.ts";
import { Logger } from "../lib/log.ts";

function done(log: Logger, ms: number) {
  log.info("done", { ms, startupMs: 30, stdinMs: 1 });
}

Deno.test("LogFollower: partial lines wait, rotation and truncation lose no complete line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/plugin.log`;
    const follower = new LogFollower(file);
    assert.deepEqual(await follower.poll(), []);
    assert.equal(follower.status.present, false);
    assert.match(follower.status.error ?? "", /does not exist/);

    const log = new Logger({ command: "ADD", containerId: "c1", ifname: "eth0" }, file);
    done(log, 100);
    await Deno.writeTextFile(file, '{"half": ', { append: true });
    assert.equal((await follower.poll()).length, 1);
    assert.equal(follower.status.present, true);
    await Deno.writeTextFile(file, "1}\n", { append: true });
    assert.deepEqual(await follower.poll(), ['{"half": 1}']);

    // Rotation: a line lands in the old file after the rename, then the new file starts.
    await Deno.rename(file, `${file}.1`);
    await Deno.writeTextFile(`${file}.1`, '{"late": 1}\n', { append: true });
    done(log, 200);
    assert.deepEqual((await follower.poll()).map((l) => JSON.parse(l).ms ?? "late"), ["late", 200]);
    assert.equal(follower.status.rotations, 1);

    // Truncation in place (copytruncate), then a shorter write.
    await Deno.truncate(file, 0);
    done(log, 3);
    assert.deepEqual((await follower.poll()).map((l) => JSON.parse(l).ms), [3]);
    assert.equal(follower.status.truncations, 1);

    // Rotated away, and the new file appears only after a poll saw none: still a rotation.
    await Deno.rename(file, `${file}.2`);
    assert.deepEqual(await follower.poll(), []);
    assert.equal(follower.status.present, false);
    done(log, 4);
    assert.deepEqual((await follower.poll()).map((l) => JSON.parse(l).ms), [4]);
    assert.equal(follower.status.rotations, 2);
    follower.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CniLogStats: durations by command and result, errors by code, resyncs once each", () => {
  const stats = new CniLogStats();
  const line = (o: Record<string, unknown>) => stats.consume(JSON.stringify(o));
  line({ level: "info", command: "ADD", msg: "added", steps: { ipam: 40 } });
  line({ level: "info", command: "ADD", msg: "done", ms: 358 });
  line({ level: "info", command: "DEL", msg: "done", ms: 120 });
  line({ level: "error", command: "ADD", msg: "failed to exec IPAM", code: 103, ms: 40 });
  // An undo failure is logged at error level without a code: not a command result.
  line({ level: "error", command: "ADD", msg: "undo failed" });
  line({
    level: "info",
    command: "resync",
    msg: "re-attached pods after a daemon restart",
    count: 3,
  });
  // STATUS's own summary of the same resync carries no count: not counted twice.
  line({
    level: "info",
    command: "STATUS",
    msg: "re-attached pods after a daemon restart",
    reattached: 3,
  });
  stats.consume("not json at all");
  const text = renderPrometheusText([{
    name: "d",
    help: "h",
    type: "histogram",
    samples: stats.durations.samples(),
  }]);
  assert.match(text, /^d_count\{command="ADD",result="success"\} 1$/m);
  assert.match(text, /^d_count\{command="ADD",result="error"\} 1$/m);
  assert.match(text, /^d_bucket\{command="ADD",result="success",le="0\.25"\} 0$/m);
  assert.match(text, /^d_bucket\{command="ADD",result="success",le="0\.5"\} 1$/m);
  assert.match(text, /^d_sum\{command="DEL",result="success"\} 0\.12$/m);
  assert.deepEqual([...stats.errors], [["ADD|103", 1]]);
  assert.deepEqual([stats.resyncs, stats.reattachedPods], [1, 3]);
  assert.deepEqual([stats.lines, stats.unreadableLines], [8, 1]);
});

Deno.test("renderPrometheusText escapes label values and help", () => {
  const text = renderPrometheusText([{
    name: "m",
    help: "a\\b\nc",
    type: "gauge",
    samples: [{ labels: { network: 'we"ird\\net\nx' }, value: 1 }, { value: Infinity }],
  }]);
  assert.equal(
    text,
    '# HELP m a\\\\b\\nc\n# TYPE m gauge\nm{network="we\\"ird\\\\net\\nx"} 1\nm +Inf\n',
  );
});
