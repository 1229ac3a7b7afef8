/**
 * `deno task bench [add|verify|all|scale]`: the benchmarks, each printing `BENCH <name> <value>
 * <unit>`. `scale` (4 nodes × 60 pods, minutes of full load) runs only when asked for by name.
 */
const which = Deno.args[0] ?? "all";
if (which === "add" || which === "all") {
  const { benchAdd } = await import("./add.ts");
  await benchAdd();
  const { benchAttach } = await import("./attach.ts");
  await benchAttach();
}
if (which === "verify" || which === "all") {
  const { benchVerify } = await import("./verify.ts");
  await benchVerify();
}
if (which === "scale") {
  const { benchScale } = await import("./scale.ts");
  await benchScale();
}
if (!["add", "verify", "all", "scale"].includes(which)) {
  console.error(`unknown benchmark ${JSON.stringify(which)}: use add, verify, all or scale`);
  Deno.exit(2);
}
