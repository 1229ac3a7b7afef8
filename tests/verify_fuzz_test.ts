/**
 * Bounded mutation fuzzing of the verify decoder, seeded with the real capture and synthetic
 * ones: no trap, no hang (watchdog), bounded memory, every report valid. Runs for
 * VERIFY_FUZZ_SECONDS (default 60) in a worker so a hang can be detected and reported.
 */
import { fail, ok } from "node:assert/strict";

const BUDGET_S = Number(Deno.env.get("VERIFY_FUZZ_SECONDS") ?? "60");
const WATCHDOG_MS = 20_000;
const CAPTURE = new URL("./fixtures/verify/bagpipe-evpn-fabric.pcap", import.meta.url).pathname;

interface InputMsg {
  type: "input";
  i: number;
  seedIndex: number;
  ops: [number, number, number][];
  step: number;
  chunkSize: number;
}
type Msg = InputMsg | { type: "error"; i: number; message: string } | {
  type: "finished";
  iterations: number;
};

Deno.test("verify fuzz: mutated captures never trap, hang or grow memory unbounded", async () => {
  const worker = new Worker(new URL("./fixtures/verify/fuzz_worker.ts", import.meta.url), {
    type: "module",
  });
  const seed = Number(Deno.env.get("VERIFY_FUZZ_SEED") ?? Date.now() % 1_000_000);
  let last: InputMsg | undefined;
  const result = await new Promise<Msg>((resolve) => {
    let timer = setTimeout(
      () => resolve({ type: "error", i: -1, message: "no progress" }),
      WATCHDOG_MS,
    );
    worker.onmessage = (e: MessageEvent<Msg>) => {
      clearTimeout(timer);
      if (e.data.type === "input") {
        last = e.data;
        timer = setTimeout(
          () =>
            resolve({
              type: "error",
              i: last?.i ?? -1,
              message: `decode did not finish in ${WATCHDOG_MS} ms`,
            }),
          WATCHDOG_MS,
        );
        return;
      }
      resolve(e.data);
    };
    worker.onerror = (e) => {
      clearTimeout(timer);
      e.preventDefault();
      resolve({ type: "error", i: last?.i ?? -1, message: e.message });
    };
    worker.postMessage({ budgetMs: BUDGET_S * 1000, seed, realCapture: CAPTURE });
  });
  worker.terminate();
  if (result.type !== "finished") {
    const msg = result.type === "error" ? result.message : "unexpected message";
    fail(
      `fuzz seed ${seed}, iteration ${last?.i}: ${msg}; reproduce with mutate(seeds[${last?.seedIndex}], ${
        JSON.stringify(last?.ops)
      }) step ${last?.step} chunk ${last?.chunkSize}`,
    );
  }
  console.log(`verify fuzz: ${result.iterations} inputs in ${BUDGET_S} s (seed ${seed})`);
  ok(result.iterations > 100, "the fuzz loop made progress");
});
