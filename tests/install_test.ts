/**
 * `bagpipe-cni install`, run from the built bundle as the DaemonSet's init container runs it:
 * plugin, runtime and conflist written atomically; a conflist it did not write is refused
 * (exit 3) unless --force; bad flags exit 2 and bad conflists exit 1, both before any write.
 */
import assert from "node:assert/strict";
import {
  conflistOwner,
  DEFAULT_CONFLIST,
  INSTALLED_BY_KEY,
  launcherFor,
  launcherLine,
  prepareConflist,
  SHEBANG_MAX,
} from "../lib/cli/install.ts";
import { parseNetConf } from "../lib/cni/config.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const BUNDLE = `${ROOT}dist/bagpipe-cni.js`;
const EXAMPLE = `${ROOT}config/10-bagpipe.conflist`;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function install(...args: string[]): Promise<Run> {
  await Deno.stat(BUNDLE).catch(() => {
    throw new Error(`${BUNDLE} is missing: run deno task build first`);
  });
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", BUNDLE, "install", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

/** A temp dir with bin/, net.d/ and cache/ paths (not created) and the flags that name them. */
async function layout() {
  const dir = await Deno.makeTempDir({ prefix: "bcni-install-" });
  const bin = `${dir}/bin`, conf = `${dir}/net.d`;
  const flags = ["--cni-bin-dir", bin, "--cache-dir", `${dir}/cache`, "--cni-conf-dir", conf];
  return { dir, bin, conf, flags, conflist: `${conf}/10-bagpipe.conflist` };
}

function names(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  } catch {
    return [];
  }
}

Deno.test("install writes plugin, runtime and a marked conflist that runtimes and bagpipe accept", async () => {
  const l = await layout();
  try {
    const run = await install(...l.flags);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`installed ${l.bin}/bagpipe`));
    assert.match(run.stdout, new RegExp(`installed ${l.conflist} \\(network bagpipe-net\\)`));
    assert.deepEqual(names(l.bin), ["bagpipe", "bagpipe-cni-cli.js", "bagpipe-deno"]);
    assert.deepEqual(names(l.conf), ["10-bagpipe.conflist"]);
    assert.equal((await Deno.stat(`${l.bin}/bagpipe`)).mode! & 0o777, 0o755);
    assert.equal((await Deno.stat(l.conflist)).mode! & 0o777, 0o644);

    const written = JSON.parse(await Deno.readTextFile(l.conflist));
    assert.equal(written[INSTALLED_BY_KEY].tool, "bagpipe-cni 0.1.0");
    assert.match(written[INSTALLED_BY_KEY].sha256, /^[0-9a-f]{64}$/);
    const { [INSTALLED_BY_KEY]: _mark, ...rest } = written;
    assert.deepEqual(rest, DEFAULT_CONFLIST);
    assert.equal(await conflistOwner(await Deno.readTextFile(l.conflist)), "install");

    // The installed plugin runs (as the operator's CLI here).
    const version = await new Deno.Command(`${l.bin}/bagpipe`, { args: ["version"] }).output();
    assert.equal(version.code, 0);
    assert.match(new TextDecoder().decode(version.stdout), /^bagpipe-cni 0\.1\.0, CNI spec/);
  } finally {
    await Deno.remove(l.dir, { recursive: true });
  }
});

Deno.test("install replaces its own conflist by rename, leaves no temp file, skips identical content", async () => {
  const l = await layout();
  try {
    assert.equal((await install(...l.flags, "--pod-cidr", "10.27.3.0/24")).code, 0);
    const before = await Deno.stat(l.conflist);
    const again = await install(...l.flags, "--pod-cidr", "10.27.3.0/24");
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /unchanged .*10-bagpipe\.conflist/);
    assert.equal((await Deno.stat(l.conflist)).ino, before.ino, "identical content: not rewritten");

    // A reader holding the old file keeps reading the old, whole content: a rename, not a rewrite.
    using old = await Deno.open(l.conflist);
    const run = await install(...l.flags, "--pod-cidr", "10.27.4.0/24");
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /replaced .*10-bagpipe\.conflist/);
    const after = await Deno.stat(l.conflist);
    assert.notEqual(after.ino, before.ino, "a new inode was renamed over the old one");
    const oldText = new TextDecoder().decode(await new Response(old.readable).arrayBuffer());
    assert.match(oldText, /"rangeStart": "10\.27\.3\.2"/);
    assert.match(oldText, /"gateway": "10\.27\.3\.1"/);
    const now = JSON.parse(await Deno.readTextFile(l.conflist));
    assert.equal(now.plugins[0].ipam.rangeStart, "10.27.4.2");
    assert.equal(now.plugins[0].ipam.gateway, "10.27.4.1", "the node's own gateway");
    assert.equal(now.plugins[0].ipam.rangeEnd, "10.27.4.254");
    assert.deepEqual(names(l.conf), ["10-bagpipe.conflist"], "no temp file left");
    assert.deepEqual(
      names(l.bin),
      ["bagpipe", "bagpipe-cni-cli.js", "bagpipe-deno"],
      "no temp file left",
    );
  } finally {
    await Deno.remove(l.dir, { recursive: true });
  }
});

Deno.test("install refuses a conflist it did not write, or one edited since, and changes nothing", async (t) => {
  const l = await layout();
  try {
    await Deno.mkdir(l.conf, { recursive: true });
    const foreign = '{"cniVersion":"1.0.0","name":"other","plugins":[{"type":"bridge"}]}\n';
    await Deno.writeTextFile(l.conflist, foreign);

    await t.step("a file without our mark: exit 3, untouched, nothing installed", async () => {
      const run = await install(...l.flags);
      assert.equal(run.code, 3);
      assert.match(run.stderr, new RegExp(`refusing to replace ${l.conflist}`));
      assert.match(run.stderr, /was not written by bagpipe-cni install/);
      assert.match(run.stderr, /--force/);
      assert.equal(await Deno.readTextFile(l.conflist), foreign);
      assert.deepEqual(names(l.bin), [], "the refusal comes before the plugin is written");
    });

    await t.step("--force replaces it", async () => {
      const run = await install(...l.flags, "--force");
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /replaced \(--force\)/);
      assert.equal(await conflistOwner(await Deno.readTextFile(l.conflist)), "install");
    });

    await t.step("our file edited by someone: exit 3 without --force", async () => {
      const edited = (await Deno.readTextFile(l.conflist)).replace('"mtu": 1450', '"mtu": 1400');
      await Deno.writeTextFile(l.conflist, edited);
      assert.equal(await conflistOwner(edited), "edited");
      const run = await install(...l.flags);
      assert.equal(run.code, 3);
      assert.match(run.stderr, /edited since/);
      assert.equal(await Deno.readTextFile(l.conflist), edited);
      const forced = await install(...l.flags, "--force");
      assert.equal(forced.code, 0, forced.stderr);
      assert.doesNotMatch(await Deno.readTextFile(l.conflist), /"mtu": 1400/);
    });
  } finally {
    await Deno.remove(l.dir, { recursive: true });
  }
});

Deno.test("install rejects bad flags with exit 2 and bad conflists with exit 1, writing nothing", async (t) => {
  const l = await layout();
  try {
    await Deno.mkdir(`${l.dir}/src`);
    const write = async (name: string, text: string) => {
      await Deno.writeTextFile(`${l.dir}/src/${name}`, text);
      return `${l.dir}/src/${name}`;
    };
    const badRt = structuredClone(DEFAULT_CONFLIST) as unknown as {
      plugins: Record<string, unknown>[];
    };
    badRt.plugins[0]!.importrt = "90";
    const noBagpipe = { cniVersion: "1.0.0", name: "x", plugins: [{ type: "bridge" }] };
    const cases: { name: string; args: string[]; code: number; says: RegExp }[] = [
      {
        name: "unknown flag",
        args: [...l.flags, "--bogus"],
        code: 2,
        says: /Unknown option '--bogus'/,
      },
      {
        name: "stray argument",
        args: [...l.flags, "extra"],
        code: 2,
        says: /positional|Unexpected argument/i,
      },
      { name: "no --cni-bin-dir", args: [], code: 2, says: /--cni-bin-dir needs an absolute/ },
      { name: "relative --cni-bin-dir", args: ["--cni-bin-dir", "bin"], code: 2, says: /absolute/ },
      {
        name: "relative --cni-conf-dir",
        args: ["--cni-bin-dir", l.bin, "--cni-conf-dir", "net.d"],
        code: 2,
        says: /--cni-conf-dir needs an absolute/,
      },
      {
        name: "--conflist without --cni-conf-dir",
        args: ["--cni-bin-dir", l.bin, "--conflist", EXAMPLE],
        code: 2,
        says: /--conflist needs --cni-conf-dir/,
      },
      {
        name: "--force without --cni-conf-dir",
        args: ["--cni-bin-dir", l.bin, "--force"],
        code: 2,
        says: /--force needs --cni-conf-dir/,
      },
      {
        name: "conflist name a runtime ignores",
        args: [...l.flags, "--conflist", await write("net.txt", JSON.stringify(DEFAULT_CONFLIST))],
        code: 2,
        says: /only read \*\.conflist, \*\.conf and \*\.json/,
      },
      {
        name: "conflist file missing",
        args: [...l.flags, "--conflist", `${l.dir}/src/none.conflist`],
        code: 1,
        says: /cannot read conflist .*none\.conflist/,
      },
      {
        name: "conflist not JSON",
        args: [...l.flags, "--conflist", await write("a.conflist", "{ nope")],
        code: 1,
        says: /a\.conflist is not JSON/,
      },
      {
        name: "conflist without a bagpipe entry",
        args: [...l.flags, "--conflist", await write("b.conflist", JSON.stringify(noBagpipe))],
        code: 1,
        says: /has no plugin of type "bagpipe"/,
      },
      {
        name: "bagpipe entry fails config validation",
        args: [...l.flags, "--conflist", await write("c.conflist", JSON.stringify(badRt))],
        code: 1,
        says: /plugins\[0\] \(bagpipe\): invalid network configuration: importrt/,
      },
      {
        name: "--pod-cidr outside the subnet",
        args: [...l.flags, "--pod-cidr", "10.99.1.0/24"],
        code: 1,
        says: /does not lie inside ipam\.subnet 10\.27\.0\.0\/16/,
      },
      {
        name: "--pod-cidr with host bits",
        args: [...l.flags, "--pod-cidr", "10.27.1.7/24"],
        code: 1,
        says: /has host bits set/,
      },
    ];
    for (const c of cases) {
      await t.step(c.name, async () => {
        const run = await install(...c.args);
        assert.equal(run.code, c.code, `${run.stdout}${run.stderr}`);
        assert.match(run.stderr, c.says);
        assert.match(run.stderr, /^bagpipe-cni install: /);
        assert.deepEqual(names(l.bin), [], "nothing written");
        assert.deepEqual(names(l.conf), [], "nothing written");
      });
    }
  } finally {
    await Deno.remove(l.dir, { recursive: true });
  }
});

Deno.test("config/10-bagpipe.conflist is the built-in default, and its bagpipe entry is valid", async () => {
  const text = await Deno.readTextFile(EXAMPLE);
  const example = JSON.parse(text);
  assert.deepEqual(example, DEFAULT_CONFLIST);
  // portmap 1.1.1 speaks up to 1.0.0, and a chain shares one version.
  assert.equal(example.cniVersion, "1.0.0");
  assert.deepEqual(example.plugins.map((p: { type: string }) => p.type), ["bagpipe", "portmap"]);
  const prepared = prepareConflist(text, EXAMPLE, "10.27.9.0/24");
  const entry = prepared.plugins[0]!;
  const conf = parseNetConf(JSON.stringify({ ...entry, name: example.name, cniVersion: "1.0.0" }));
  assert.equal(conf.mtu, 1450);
  // The Kubernetes network model out of the box: the node's own gateway, masquerade, forced VNI.
  assert.equal(conf.isGateway, true);
  assert.equal(conf.ipMasq, true);
  assert.equal(conf.vni, 90);
  assert.deepEqual(conf.ipam, {
    type: "host-local",
    subnet: "10.27.0.0/16",
    gateway: "10.27.9.1",
    rangeStart: "10.27.9.2",
    rangeEnd: "10.27.9.254",
  });
});

Deno.test("prepareConflist() strips an earlier mark and narrows only host-local subnets", () => {
  const marked = { [INSTALLED_BY_KEY]: { sha256: "x" }, ...DEFAULT_CONFLIST };
  const prepared = prepareConflist(JSON.stringify(marked), "m");
  assert.equal(INSTALLED_BY_KEY in prepared, false);
  const ranges = structuredClone(DEFAULT_CONFLIST) as unknown as {
    plugins: Record<string, unknown>[];
  };
  ranges.plugins[0]!.ipam = { type: "host-local", ranges: [[{ subnet: "10.27.0.0/16" }]] };
  assert.throws(
    () => prepareConflist(JSON.stringify(ranges), "r", "10.27.1.0/24"),
    /--pod-cidr 10\.27\.1\.0\/24: needs ipam type "host-local" with a "subnet"/,
  );
  assert.throws(
    () => prepareConflist(JSON.stringify(DEFAULT_CONFLIST), "s", "10.27.1.0/31"),
    /too small/,
  );
  assert.throws(
    () => prepareConflist(JSON.stringify({ ...DEFAULT_CONFLIST, cniVersion: "2.0.0" }), "v"),
    /cniVersion "2\.0\.0"; bagpipe supports/,
  );
});

Deno.test("install into a long path gets a launcher the kernel does not cut, and the plugin runs", async () => {
  const l = await layout();
  // A shebang line longer than 255 bytes loses its tail in the kernel: the plugin would not start.
  const deep = `${l.dir}/${"d".repeat(100)}/${"e".repeat(100)}`;
  try {
    const run = await install("--cni-bin-dir", `${deep}/bin`, "--cache-dir", `${deep}/cache`);
    assert.equal(run.code, 0, run.stderr);
    const script = await Deno.readTextFile(`${deep}/bin/bagpipe`);
    assert.ok(launcherLine(`${deep}/bin/bagpipe-deno`, `${deep}/cache`).length > SHEBANG_MAX);
    assert.match(script, /^#!\/bin\/sh\n\/\/bin\/true; DENO_DIR='/);
    const cni = new Deno.Command(`${deep}/bin/bagpipe`, {
      env: { CNI_COMMAND: "VERSION" },
      clearEnv: true,
      stdout: "piped",
    });
    const out = await cni.output();
    assert.equal(out.code, 0);
    assert.deepEqual(JSON.parse(new TextDecoder().decode(out.stdout)).cniVersion, "1.1.0");
  } finally {
    await Deno.remove(l.dir, { recursive: true });
  }
});

Deno.test("launcherFor() keeps the one-line env -S launcher when it fits", () => {
  assert.equal(
    launcherFor("/opt/cni/bin/bagpipe-deno", "/var/cache/bagpipe-cni"),
    launcherLine("/opt/cni/bin/bagpipe-deno", "/var/cache/bagpipe-cni"),
  );
  // A space would split env -S's arguments: quoted in the sh form instead.
  assert.match(launcherFor("/opt/my cni/bagpipe-deno", "/c"), /exec '\/opt\/my cni\/bagpipe-deno'/);
  assert.throws(() => launcherFor("/opt/it's/bagpipe-deno", "/c"), /holds a quote or newline/);
});
