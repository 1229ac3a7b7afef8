/**
 * Reproducibility check for CI: rebuilds the decoder into a temporary directory and fails
 * unless `decoder.wasm` and `decoder_wasm.ts` are byte-identical to the committed files.
 *
 * @example
 * ```sh
 * deno task check:wasm
 * ```
 */
import { buildWasm, WASM_DIR } from "./build.ts";

/** Compares a rebuilt artifact with the committed one; returns a problem or null. */
export async function compareFile(committed: string, rebuilt: string): Promise<string | null> {
  const [a, b] = await Promise.all([Deno.readFile(committed), Deno.readFile(rebuilt)]);
  if (a.length !== b.length) {
    return `"${committed}" differs from a fresh build: ${a.length} vs ${b.length} bytes`;
  }
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) return `"${committed}" differs from a fresh build at byte ${i}`;
  }
  return null;
}

if (import.meta.main) {
  const dir = await Deno.makeTempDir({ prefix: "bcni-wasm-" });
  try {
    const { wasmPath, tsPath } = await buildWasm(dir);
    const problems = (await Promise.all([
      compareFile(`${WASM_DIR}/decoder.wasm`, wasmPath),
      compareFile(`${WASM_DIR}/decoder_wasm.ts`, tsPath),
    ])).filter((p): p is string => p !== null);
    if (problems.length > 0) {
      for (const p of problems) console.error(p);
      console.error("run `deno task build:wasm` and commit the result");
      Deno.exit(1);
    }
    console.error("wasm/decoder.wasm and wasm/decoder_wasm.ts match a fresh build");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
