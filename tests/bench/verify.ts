/**
 * Benchmark of `bagpipe-cni verify` (issue 4): generates a 1,000,000-packet fabric capture
 * (90% VXLAN, 10% BGP) in a temporary directory and times verify, `tcpdump -nr FILE` and
 * `tshark -r FILE -T fields -e vxlan.vni` on it (stdout to /dev/null), then measures verify's
 * peak RSS on that file and on one four times larger.
 *
 * Prints `BENCH name value unit` lines. Runs standalone (`deno run -A tests/bench/verify.ts`)
 * or through `deno task bench verify`. VERIFY_BENCH_PACKETS changes the size,
 * VERIFY_BENCH_TSHARK=0 skips tshark (about 45 s per million packets here). Then
 * `verify_rib_load_ms` for a 100,000-route `--rib` snapshot (verify_rib.ts).
 */
import { ROGUE_FRAMES, ROGUE_MAC, writeBenchCapture } from "./verify_capture.ts";
import { benchRibLoad } from "./verify_rib.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const BUNDLE = `${ROOT}dist/bagpipe-cni.js`;
const COMMAND = `${ROOT}lib/verify/command.ts`;

/** How verify is started: the bundled CLI when built, else the module. */
function verifyArgs(file: string, extra: string[] = []): string[] {
  try {
    if (Deno.statSync(BUNDLE).isFile) return ["run", "-A", BUNDLE, "verify", file, ...extra];
  } catch {
    // not built: fall through
  }
  return ["run", "-A", COMMAND, file, ...extra];
}

interface Run {
  seconds: number;
  code: number;
  peakKiB: number;
}

/** Runs `cmd args` with stdout to /dev/null under /usr/bin/time; wall time and peak RSS. */
async function timed(cmd: string, args: string[]): Promise<Run> {
  const rss = await Deno.makeTempFile({ prefix: "bcni-bench-rss-" });
  try {
    const start = performance.now();
    const out = await new Deno.Command("/usr/bin/time", {
      args: ["-f", "%M", "-o", rss, cmd, ...args],
      stdout: "null",
      stderr: "null",
    }).output();
    const seconds = (performance.now() - start) / 1000;
    const peakKiB = Number((await Deno.readTextFile(rss)).trim().split("\n").pop());
    return { seconds, code: out.code, peakKiB };
  } finally {
    await Deno.remove(rss);
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function bench(name: string, value: number, unit: string, digits = 0): void {
  console.log(`BENCH ${name} ${value.toFixed(digits)} ${unit}`);
}

/** Checks the report of the benchmark file: consistent except the injected rogue MAC. */
async function checkResult(file: string, packets: number): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: verifyArgs(file, ["--json"]),
    stdout: "piped",
    stderr: "null",
  })
    .output();
  const report = JSON.parse(new TextDecoder().decode(out.stdout));
  const errors = report.findings.filter((f: { severity: string }) => f.severity === "error");
  const ok = out.code === 1 && report.capture.packets === packets + ROGUE_FRAMES &&
    errors.length === 1 &&
    errors[0].src_mac === ROGUE_MAC && errors[0].count === ROGUE_FRAMES;
  if (!ok) {
    throw new Error(
      `verify bench: unexpected result on ${file}: exit ${out.code}, ${report.capture.packets} packets, ` +
        `errors ${JSON.stringify(errors.map((e: { kind: string }) => e.kind))}`,
    );
  }
  console.error(
    `verify bench: report checked: ${report.summary.routes} routes, ${report.summary.flows} flows, ` +
      `${report.timeline.length} timeline events, 1 injected error found`,
  );
}

/** Runs the benchmark and prints its BENCH lines. */
export async function benchVerify(): Promise<void> {
  const packets = Number(Deno.env.get("VERIFY_BENCH_PACKETS") ?? 1_000_000);
  const withTshark = Deno.env.get("VERIFY_BENCH_TSHARK") !== "0";
  const dir = await Deno.makeTempDir({ prefix: "bcni-bench-verify-" });
  try {
    const file1 = `${dir}/fabric-1x.pcap`;
    const file4 = `${dir}/fabric-4x.pcap`;
    let t = performance.now();
    const size1 = await writeBenchCapture(file1, packets);
    console.error(
      `verify bench: wrote ${packets} packets (${(size1 / 1e6).toFixed(0)} MB) in ${
        ((performance.now() - t) / 1000).toFixed(1)
      } s`,
    );
    const total = packets + ROGUE_FRAMES;
    await checkResult(file1, packets);

    // Warm the page cache and Deno's module cache once, then time five runs (median).
    await timed(Deno.execPath(), verifyArgs(file1));
    const runs: Run[] = [];
    for (let i = 0; i < 5; i++) runs.push(await timed(Deno.execPath(), verifyArgs(file1)));
    const verifyS = median(runs.map((r) => r.seconds));
    console.error(
      `verify bench: verify runs ${runs.map((r) => r.seconds.toFixed(3)).join(" ")} s (exit ${
        runs[0].code
      })`,
    );

    const tcpdump = await timed("tcpdump", ["-nr", file1]);
    console.error(`verify bench: tcpdump ${tcpdump.seconds.toFixed(2)} s`);
    const verifyPps = total / verifyS;
    bench("verify_pkts_per_s", verifyPps, "pkt/s");
    bench("tcpdump_pkts_per_s", total / tcpdump.seconds, "pkt/s");
    bench("verify_vs_tcpdump_ratio", tcpdump.seconds / verifyS, "x", 1);
    if (withTshark) {
      const tshark = await timed("tshark", ["-r", file1, "-T", "fields", "-e", "vxlan.vni"]);
      console.error(
        `verify bench: tshark ${tshark.seconds.toFixed(1)} s, peak ${
          (tshark.peakKiB / 1024).toFixed(0)
        } MiB`,
      );
      bench("tshark_pkts_per_s", total / tshark.seconds, "pkt/s");
      bench("verify_vs_tshark_ratio", tshark.seconds / verifyS, "x", 1);
    }

    t = performance.now();
    const size4 = await writeBenchCapture(file4, packets * 4);
    console.error(
      `verify bench: wrote ${packets * 4} packets (${(size4 / 1e6).toFixed(0)} MB) in ${
        ((performance.now() - t) / 1000).toFixed(1)
      } s`,
    );
    const run4 = await timed(Deno.execPath(), verifyArgs(file4));
    const peak1 = median(runs.map((r) => r.peakKiB)) / 1024;
    const peak4 = run4.peakKiB / 1024;
    console.error(
      `verify bench: 4x file verified in ${run4.seconds.toFixed(3)} s (exit ${run4.code})`,
    );
    bench("verify_peak_mib_1x", peak1, "MiB");
    bench("verify_peak_mib_4x", peak4, "MiB");
    const pps4 = (packets * 4 + ROGUE_FRAMES) / run4.seconds;
    bench("verify_4x_pkts_per_s", pps4, "pkt/s");
    // tcpdump's rate is linear in packets; verify's fixed start-up matters less on the 4x file.
    bench("verify_4x_vs_tcpdump_rate_ratio", pps4 / (total / tcpdump.seconds), "x", 1);
    await benchRibLoad(verifyArgs);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await benchVerify();
