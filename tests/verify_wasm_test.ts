/**
 * The committed decoder module: rebuilt byte-identical by Debian's rustc, embedded copy
 * equal to decoder.wasm, no panic machinery linked in (so no input can reach a panic), no
 * imports, and the Rust unit tests pass natively.
 */
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { buildWasm, RUSTC, WASM_DIR } from "../wasm/build.ts";
import { compareFile } from "../wasm/check_build.ts";
import { decodeBase64 } from "../wasm/base64.ts";
import { DECODER_WASM_BASE64 } from "../wasm/decoder_wasm.ts";
import { runNativeTests } from "../wasm/test_native.ts";

const WASM = `${WASM_DIR}/decoder.wasm`;

/** Function names from the module's "name" custom section (subsection 1). */
function functionNames(bytes: Uint8Array): string[] {
  let off = 8;
  const leb = (): number => {
    let result = 0, shift = 0, b = 0;
    do {
      b = bytes[off++];
      result += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b & 0x80);
    return result;
  };
  const text = (len: number) => new TextDecoder().decode(bytes.subarray(off, off += len));
  while (off < bytes.length) {
    const id = bytes[off++];
    const size = leb();
    const end = off + size;
    if (id === 0 && text(leb()) === "name") {
      while (off < end) {
        const sub = bytes[off++];
        const subEnd = leb() + off;
        if (sub === 1) {
          const names: string[] = [];
          for (let n = leb(); n > 0; n--) {
            leb();
            names.push(text(leb()));
          }
          return names;
        }
        off = subEnd;
      }
    }
    off = end;
  }
  return [];
}

const hasRustc = (() => {
  try {
    return Deno.statSync(RUSTC).isFile;
  } catch {
    return false;
  }
})();

Deno.test("verify wasm: no panic, unwrap or allocation-failure path is linked", async () => {
  const names = functionNames(await Deno.readFile(WASM));
  ok(
    names.some((n) => n.includes("bagpipe_verify")),
    "the name section lists the decoder's functions",
  );
  const forbidden =
    /panic|unwrap_failed|expect_failed|capacity_overflow|handle_alloc_error|slice_(start|end)_index|index_order_fail|len_mismatch|assert_failed|rust_begin_unwind|abort/;
  assertEquals(names.filter((n) => forbidden.test(n)), []);
});

Deno.test("verify wasm: the embedded base64 is decoder.wasm, with no imports", async () => {
  const bytes = await Deno.readFile(WASM);
  // Compared by hand: a failing deep-equal on 200 kB would make the assertion library diff it.
  const embedded = decodeBase64(DECODER_WASM_BASE64);
  const firstDiff = embedded.findIndex((b, i) => b !== bytes[i]);
  assertEquals([embedded.length, firstDiff], [bytes.length, -1], "run `deno task build:wasm`");
  const module = new WebAssembly.Module(bytes);
  assertEquals(WebAssembly.Module.imports(module), []);
  const exports = WebAssembly.Module.exports(module).map((e) => e.name);
  for (
    const name of [
      "memory",
      "vd_alloc",
      "vd_free",
      "vd_new",
      "vd_feed",
      "vd_packets",
      "vd_status",
      "vd_report",
      "vd_free_report",
    ]
  ) {
    ok(exports.includes(name), `export ${name}`);
  }
});

Deno.test({
  name: "verify wasm: a fresh build is byte-identical to the committed module",
  ignore: !hasRustc,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "bcni-wasm-" });
    try {
      const { wasmPath, tsPath } = await buildWasm(dir);
      assertEquals(await compareFile(WASM, wasmPath), null);
      assertEquals(await compareFile(`${WASM_DIR}/decoder_wasm.ts`, tsPath), null);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "verify wasm: Rust unit tests pass natively (/usr/bin/rustc --test)",
  ignore: !hasRustc,
  fn: async () => {
    assertEquals(await runNativeTests(), 0);
  },
});
