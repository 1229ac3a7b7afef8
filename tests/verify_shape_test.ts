/** wasm/shape.ts: the report validator accepts the decoder's output and names the first problem. */
import { deepStrictEqual as assertEquals, throws } from "node:assert/strict";
import { checkShape, s } from "../wasm/shape.ts";
import { compileShape } from "../wasm/shape_compiled.ts";
import { decodeCapture, validateReport } from "../wasm/mod.ts";

const CAPTURE = new URL("./fixtures/verify/bagpipe-evpn-fabric.pcap", import.meta.url).pathname;

Deno.test("checkShape() names the path and the rule of the first problem", () => {
  const shape = s.object({
    a: s.uint,
    b: s.nullable(s.str),
    c: s.array(s.object({ m: s.match(/^x+$/), o: s.optional(s.bool) })),
    e: s.enum(["p", "q"]),
  });
  const good = { a: 1, b: null, c: [{ m: "xx" }, { m: "x", o: true }], e: "q" };
  assertEquals(checkShape(good, shape), null);
  const cases: [unknown, string][] = [
    [{ ...good, a: -1 }, "$.a: not an unsigned integer"],
    [{ ...good, a: 1.5 }, "$.a: not an unsigned integer"],
    [{ ...good, b: 3 }, "$.b: not a string"],
    [{ ...good, c: [{ m: "xx" }, { m: "y" }] }, '$.c[1].m: "y" does not match /^x+$/'],
    [{ ...good, c: [{ m: "x", o: 1 }] }, "$.c[0].o: not a boolean"],
    [{ ...good, e: "r" }, '$.e: "r" is not one of p, q'],
    [{ ...good, z: 1 }, "$.z: not in the schema"],
    [{ a: 1, b: null, e: "p" }, "$.c: not an array"],
    [[], "$: not an object"],
  ];
  for (const [value, problem] of cases) assertEquals(checkShape(value, shape), problem);
  // The compiled predicate (validateReport's fast path) agrees with checkShape.
  const matches = compileShape(shape);
  assertEquals(matches(good), true);
  for (const [value] of cases) assertEquals(matches(value), false);
});

Deno.test("validateReport() accepts a decoded report and rejects a tampered one", async () => {
  using file = await Deno.open(CAPTURE);
  const { report } = await decodeCapture(file);
  const copy = JSON.parse(JSON.stringify(report));
  assertEquals(validateReport(copy).summary.errors, 2);
  copy.routes[3].vni = "16";
  throws(() => validateReport(copy), /\$\.routes\[3\]\.vni: not an unsigned integer/);
});
