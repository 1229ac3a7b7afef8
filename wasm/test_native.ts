/**
 * Runs the decoder's Rust unit tests natively: `/usr/bin/rustc --test wasm/src/lib.rs`.
 *
 * @example
 * ```sh
 * deno task test:wasm-native
 * ```
 */
import { RUSTC, WASM_DIR } from "./build.ts";

/** Compiles and runs the Rust unit tests; resolves to the test binary's exit code. */
export async function runNativeTests(): Promise<number> {
  const dir = await Deno.makeTempDir({ prefix: "bcni-rstest-" });
  try {
    const bin = `${dir}/decoder_tests`;
    const build = await new Deno.Command(RUSTC, {
      args: ["--edition=2021", "--test", "-Copt-level=1", `${WASM_DIR}/src/lib.rs`, "-o", bin],
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    if (!build.success) return build.code || 1;
    const run = await new Deno.Command(bin, { stdout: "inherit", stderr: "inherit" }).output();
    return run.code;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) Deno.exit(await runNativeTests());
