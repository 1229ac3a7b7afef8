/**
 * `deno task bench [add|verify|all|scale]`: the benchmarks, each printing `BENCH <name> <value>
 * <unit>`. `scale` (4 nodes × 60 pods, minutes of full load) runs only when asked for by name, so
 * does `rtc [--with-rtc]` (RT membership traffic between two datacenters, rtc_inter_dc.ts).
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
if (which === "rtc") {
  const { benchRtcInterDc } = await import("./rtc_inter_dc.ts");
  await benchRtcInterDc(Deno.args.includes("--with-rtc"));
}
if (!["add", "verify", "all", "scale", "rtc"].includes(which)) {
  console.error(`unknown benchmark ${JSON.stringify(which)}: use add, verify, all, scale or rtc`);
  Deno.exit(2);
}
