/** `deno task bench [add|verify|all]`: the benchmarks, each printing `BENCH <name> <value> <unit>`. */
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
if (!["add", "verify", "all"].includes(which)) {
  console.error(`unknown benchmark ${JSON.stringify(which)}: use add, verify or all`);
  Deno.exit(2);
}
