/**
 * The report's withdrawals: one entry per withdrawn route, session direction and match, with
 * how many times and the first and last; `summary.withdrawals` still counts each one. On the
 * benchmark's generated fabric capture, whose churning pods are withdrawn again and again.
 */
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { decodeCapture } from "../wasm/mod.ts";
import { renderReport } from "../lib/verify/report_text.ts";
import { writeBenchCapture } from "./bench/verify_capture.ts";

Deno.test("verify: a route withdrawn again and again is one withdrawal entry", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bcni-withdrawals-" });
  try {
    const path = `${dir}/churn.pcap`;
    await writeBenchCapture(path, 60_000);
    const decode = async (brief: boolean) => {
      using file = await Deno.open(path);
      return (await decodeCapture(file, { brief, timeline: !brief })).report;
    };
    const full = await decode(false);
    const list = full.withdrawals;
    const events = list.reduce((n, w) => n + w.count, 0);
    assertEquals(full.limits.withdrawals_dropped, 0);
    assertEquals(events, full.summary.withdrawals);
    ok(list.some((w) => w.count > 1), "a route withdrawn more than once");
    ok(list.length < events / 2, `${list.length} entries for ${events} withdrawals`);
    const identity = (w: (typeof list)[number]) =>
      JSON.stringify([w.session, w.direction, w.type, w.rd, w.mac, w.ip, w.originator, w.matched]);
    assertEquals(new Set(list.map(identity)).size, list.length);
    for (const w of list) {
      ok(w.count >= 1 && w.last_packet >= w.packet && w.last_time >= w.time, identity(w));
      if (w.count === 1) assertEquals([w.last_packet, w.last_time], [w.packet, w.time]);
    }
    // In order of the first withdrawal.
    ok(list.every((w, i) => i === 0 || list[i - 1]!.packet <= w.packet));

    // A text run's brief report: the first entries, the same counts, the rest counted.
    const brief = await decode(true);
    ok(list.length > brief.withdrawals.length);
    assertEquals(brief.withdrawals, list.slice(0, brief.withdrawals.length));
    assertEquals(brief.summary.withdrawals, full.summary.withdrawals);
    assertEquals(brief.limits, full.limits);
    const text = renderReport(brief, path);
    const shown = list.slice(0, 200);
    const first = shown[0]!;
    ok(
      text.includes(
        `  pkts ${first.packet}-${first.last_packet} (${first.count} times) session #${first.session}`,
      ),
      text,
    );
    const rest = full.summary.withdrawals - shown.reduce((n, w) => n + w.count, 0);
    ok(text.includes(`  … ${rest} more (see --json)`), text);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
