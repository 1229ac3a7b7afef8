/**
 * `bagpipe-cni verify` as a process: exit codes (0 consistent, 1 error findings, 2 unreadable
 * or bad arguments), readable text on stdout, JSON that validates against the schema.
 */
import { deepStrictEqual as assertEquals, match, ok } from "node:assert/strict";
import { validateReport } from "../wasm/mod.ts";
import { FabricCapture, routes } from "./fixtures/verify/fabric.ts";

const COMMAND = new URL("../lib/verify/command.ts", import.meta.url).pathname;
const BUNDLE = new URL("../dist/bagpipe-cni.js", import.meta.url).pathname;
const CAPTURE = new URL("./fixtures/verify/bagpipe-evpn-fabric.pcap", import.meta.url).pathname;

async function run(
  args: string[],
  script = COMMAND,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, ...args],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

async function tempFile(bytes: Uint8Array): Promise<string> {
  const path = await Deno.makeTempFile({ prefix: "bcni-verify-", suffix: ".pcap" });
  await Deno.writeFile(path, bytes);
  return path;
}

Deno.test("verify command: real capture prints a readable report and exits 1", async () => {
  const { code, stdout } = await run([CAPTURE]);
  assertEquals(code, 1);
  for (
    const part of [
      "BGP sessions (10)",
      "EVPN routes per VTEP and VNI (16 routes, 0 active)",
      "VXLAN between VTEPs (1 pairs; packets each way, first VTEP -> second)",
      "192.168.33.21 <-> 192.168.33.22  VNI 16,18  unicast 958/958  BUM 21/106",
      "VXLAN flows (48)",
      "Findings: 2 errors",
      "Verdict: INCONSISTENT: 2 error finding(s)",
    ]
  ) {
    ok(stdout.includes(part), `missing "${part}"`);
  }
  match(stdout, /ERROR\s+src_mac_withdrawn\s+VNI 16/);
});

Deno.test("verify command: --json output validates against the schema", async () => {
  const { code, stdout } = await run([
    CAPTURE,
    "--json",
    "--vxlan-port",
    "8472",
    "--underlay-mtu",
    "9000",
  ]);
  assertEquals(code, 1);
  const report = validateReport(JSON.parse(stdout));
  assertEquals(report.schema, "bagpipe-cni.verify/2");
  assertEquals(report.options, { vxlan_ports: [4789, 8472], underlay_mtu: 9000 });
  assertEquals(report.summary.errors, 2);
});

Deno.test("verify command: a consistent capture exits 0", async () => {
  const cap = new FabricCapture();
  const s = cap.session("10.0.0.1", "10.0.0.9").establish();
  s.send("client", [
    routes.imet("10.0.0.1", 16),
    routes.macIp("10.0.0.1", "02:00:00:00:00:01", null, 16),
  ]);
  s.send("server", [
    routes.imet("10.0.0.2", 16),
    routes.macIp("10.0.0.2", "02:00:00:00:00:02", null, 16),
  ]);
  cap.ping("10.0.0.1", "10.0.0.2", 16, "02:00:00:00:00:01", "02:00:00:00:00:02");
  const path = await tempFile(cap.pcap());
  try {
    const { code, stdout } = await run([path]);
    assertEquals(code, 0);
    ok(stdout.includes("Verdict: consistent"));
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("verify command: unreadable input and bad arguments exit 2", async (t) => {
  const junk = await tempFile(new TextEncoder().encode("this is not a capture file at all"));
  try {
    await t.step("not a capture", async () => {
      const { code, stderr, stdout } = await run([junk]);
      assertEquals([code, stdout], [2, ""]);
      match(stderr, /failed to read ".*": capture: unknown magic number/);
    });
    await t.step("missing file", async () => {
      const { code, stderr } = await run(["/nonexistent/bcni.pcap"]);
      assertEquals(code, 2);
      match(stderr, /failed to open "\/nonexistent\/bcni.pcap"/);
    });
    await t.step("bad port", async () => {
      const { code, stderr } = await run([junk, "--vxlan-port", "70000"]);
      assertEquals(code, 2);
      match(stderr, /--vxlan-port "70000" is not a port number/);
    });
    await t.step("no file", async () => {
      const { code } = await run([]);
      assertEquals(code, 2);
    });
  } finally {
    await Deno.remove(junk);
  }
});

Deno.test({
  name: "verify command: the bundled CLI runs verify",
  ignore: !(() => {
    try {
      return Deno.statSync(BUNDLE).isFile;
    } catch {
      return false;
    }
  })(),
  fn: async () => {
    const { code, stdout } = await run(["verify", CAPTURE, "--json"], BUNDLE);
    assertEquals(code, 1);
    assertEquals(validateReport(JSON.parse(stdout)).capture.packets, 2565);
  },
});
