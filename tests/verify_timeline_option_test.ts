/** decodeCapture's `timeline: false` (used by the text report) leaves only the timeline out. */
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { decodeCapture } from "../wasm/mod.ts";

const CAPTURE = new URL("./fixtures/verify/bagpipe-evpn-fabric.pcap", import.meta.url).pathname;

Deno.test("timeline: false empties the timeline and changes nothing else", async () => {
  using full = await Deno.open(CAPTURE);
  const withTimeline = (await decodeCapture(full)).report;
  using again = await Deno.open(CAPTURE);
  const without = (await decodeCapture(again, { timeline: false })).report;
  ok(withTimeline.timeline.length > 0);
  assertEquals(without.timeline, []);
  assertEquals({ ...without, timeline: withTimeline.timeline }, withTimeline);
});
