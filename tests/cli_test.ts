/** The executable without CNI_COMMAND is the operator's command line. */
import assert from "node:assert/strict";
import { run } from "../lib/net/run.ts";

const BUNDLE = new URL("../dist/bagpipe-cni.js", import.meta.url).pathname;

async function cli(...args: string[]) {
  return await run(Deno.execPath(), ["run", "-A", "--no-config", BUNDLE, ...args]);
}

Deno.test("the CLI answers help, version and unknown commands", async (t) => {
  await t.step("--help prints the commands and exits 0", async () => {
    const out = await cli("--help");
    assert.equal(out.code, 0, out.stderr + out.stdout);
    for (const word of ["install", "resync", "verify", "ADD, DEL, CHECK, STATUS, GC, VERSION"]) {
      assert.match(out.stdout, new RegExp(word));
    }
  });
  await t.step("version names the CNI versions", async () => {
    const out = await cli("version");
    assert.equal(out.code, 0);
    assert.match(
      out.stdout,
      /^bagpipe-cni \d+\.\d+\.\d+, CNI spec 0\.3\.0, 0\.3\.1, 0\.4\.0, 1\.0\.0, 1\.1\.0/,
    );
  });
  await t.step("an unknown command exits 2 and says so on stderr", async () => {
    const out = await cli("frobnicate");
    assert.equal(out.code, 2);
    assert.match(out.stderr, /unknown command "frobnicate"/);
    assert.equal(out.stdout, "");
  });
  await t.step("verify --html writes the page atomically beside the text report", async () => {
    const dir = await Deno.makeTempDir();
    try {
      const capture =
        new URL("./fixtures/verify/bagpipe-evpn-fabric.pcap", import.meta.url).pathname;
      const out = await cli("verify", capture, "--html", `${dir}/report.html`);
      assert.ok(out.code === 0 || out.code === 1, out.stderr);
      assert.match(out.stdout, /EVPN routes per VTEP and VNI/);
      const page = await Deno.readTextFile(`${dir}/report.html`);
      assert.match(page, /^<!doctype html>/i);
      assert.match(page, /192\.168\.33\.21/);
      assert.deepEqual(
        [...Deno.readDirSync(dir)].map((e) => e.name),
        ["report.html"],
        "no temporary file left",
      );
      const bad = await cli("verify", capture, "--html", `${dir}/no/such/dir/r.html`);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /failed to write/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
  await t.step(
    "serve and verify --node refuse bad arguments with exit 2 and their usage",
    async () => {
      const serve = await cli("serve", "--listen", "nowhere");
      assert.equal(serve.code, 2);
      assert.match(serve.stderr, /--listen "nowhere" is not ADDRESS:PORT/);
      assert.match(serve.stderr, /usage: bagpipe-cni serve/);
      const node = await cli("verify", "--node", "--no-such-flag");
      assert.equal(node.code, 2);
      assert.match(node.stderr, /usage: bagpipe-cni verify --node/);
    },
  );
  await t.step("resync with no records says so", async () => {
    const dir = await Deno.makeTempDir();
    try {
      const out = await cli("resync", "--state-dir", dir, "--log-file", `${dir}/log`);
      assert.equal(out.code, 0, out.stderr + out.stdout);
      assert.match(out.stdout, /no attachments recorded/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});

Deno.test("the plugin's bundle leaves the command line and the decoder to the CLI bundle", async () => {
  // What the plugin loads it pays for on every ADD: this keeps the verify decoder and the rest of
  // the CLI out of it (they live in bagpipe-cni-cli.js, loaded only without CNI_COMMAND).
  const plugin = await Deno.readTextFile(BUNDLE);
  const cli = await Deno.readTextFile(BUNDLE.replace(/bagpipe-cni\.js$/, "bagpipe-cni-cli.js"));
  for (
    const marker of [
      "AGFzbQ", // "\0asm" in base64: the start of the embedded WebAssembly decoder
      "EVPN routes per VTEP and VNI",
      "usage: bagpipe-cni install",
      "usage: bagpipe-cni serve", // the node agent (Hono and all)
      "bagpipe_cni_request_duration_seconds",
      "usage: bagpipe-cni verify --node", // the node check
    ]
  ) {
    assert.ok(!plugin.includes(marker), `plugin bundle holds ${marker}`);
  }
  assert.ok(cli.includes("usage: bagpipe-cni install"), "the CLI bundle holds the CLI");
  assert.ok(cli.includes("usage: bagpipe-cni serve"), "the CLI bundle holds the node agent");
  assert.ok(plugin.length < cli.length / 3, `plugin bundle is ${plugin.length} bytes`);
});
