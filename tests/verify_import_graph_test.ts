/**
 * verify stays out of everyone else's import graph: from main.ts, lib/verify and wasm/ are
 * reachable only through dynamic imports, so the CNI plugin path never loads the decoder.
 */
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";

interface Dep {
  specifier: string;
  code?: { specifier: string };
  type?: { specifier: string };
  isDynamic?: boolean;
}
interface Info {
  roots: string[];
  modules: { specifier: string; dependencies?: Dep[] }[];
}

const ROOT = new URL("../", import.meta.url);

Deno.test("verify import graph: main.ts reaches lib/verify and wasm/ only dynamically", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", new URL("main.ts", ROOT).pathname],
    stdout: "piped",
    stderr: "null",
  }).output();
  ok(out.success, "deno info main.ts failed");
  const info: Info = JSON.parse(new TextDecoder().decode(out.stdout));
  const deps = new Map(info.modules.map((m) => [m.specifier, m.dependencies ?? []]));
  const verify = [new URL("lib/verify/", ROOT).href, new URL("wasm/", ROOT).href];
  const isVerify = (s: string) => verify.some((v) => s.startsWith(v));
  // Everything main.ts loads at start-up: static edges only.
  const seen = new Set<string>(info.roots);
  const todo = [...info.roots];
  while (todo.length) {
    for (const d of deps.get(todo.pop()!) ?? []) {
      const target = d.code?.specifier;
      if (!target || d.isDynamic || seen.has(target)) continue;
      seen.add(target);
      todo.push(target);
    }
  }
  assertEquals([...seen].filter(isVerify), []);
  // ...and verify is still reachable (the dynamic import exists), so the check can fail.
  ok(
    info.modules.some((m) => isVerify(m.specifier)),
    "lib/verify is not reachable from main.ts at all",
  );
});
