/**
 * The HTML verify report (lib/verify/html): rendered from the real decoder's report of the
 * shared fabric capture, then opened in headless Chromium over the DevTools protocol to check
 * that it shows the VTEPs and finding kinds, runs without console errors, that its filter
 * script works, and that hostile capture strings stay text. Also a PNG screenshot
 * (copied to $VERIFY_HTML_SCREENSHOTS when set, to look at).
 */
import assert from "node:assert/strict";
import { installPackages } from "../lib/demo/debian_packages.ts";
import { decodeCapture, validateReport, type VerifyReport } from "../wasm/mod.ts";
import { escapeHtml, html } from "../lib/verify/html/escape.ts";
import { buildFabricModel } from "../lib/verify/html/fabric_model.ts";
import { renderHtmlReport } from "../lib/verify/html/render.ts";

const CAPTURE = new URL("./fixtures/verify/bagpipe-evpn-fabric.pcap", import.meta.url);

async function decodeShared(): Promise<VerifyReport> {
  using file = await Deno.open(CAPTURE).catch((e) => {
    throw new Error(`failed to open the shared capture ${CAPTURE.pathname}: ${e.message}`);
  });
  const { report, readable } = await decodeCapture(file);
  assert.ok(readable, "the shared capture should be readable");
  return report;
}

/** A real report whose strings carry markup: a VTEP address, a route target, a finding detail. */
function hostileReport(real: VerifyReport): VerifyReport {
  const vtep = real.vteps[0].address;
  const evil = `<script>window.__pwned=1</script>${vtep}`;
  const json = JSON.stringify(real).replaceAll(
    JSON.stringify(vtep).slice(1, -1),
    JSON.stringify(evil).slice(1, -1),
  );
  const r = JSON.parse(json) as VerifyReport;
  r.routes[0].route_targets = [`"><img src=x onerror="window.__pwned=2">`];
  r.findings[0] = {
    ...r.findings[0],
    kind: "unverifiable",
    detail: { reason: `</td></tr></table><script>window.__pwned=3</script>` },
  };
  // Still a report the schema accepts: this is what a hostile capture could make the decoder say.
  return validateReport(r);
}

Deno.test("html: interpolations are escaped, nested markup and null are not", () => {
  assert.equal(
    escapeHtml(`<a href="x" title='y'>&</a>`),
    "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;",
  );
  const inner = html`<b>${"<i>"}</b>`;
  assert.equal(
    html`<p>${[inner, null, undefined, false, 3, "x&y"]}</p>`.value,
    "<p><b>&lt;i&gt;</b>3x&amp;y</p>",
  );
});

Deno.test("fabric model: VTEPs, VNIs and endpoints from the routes, links from the flows", async () => {
  const report = await decodeShared();
  const model = buildFabricModel(report);
  assert.deepEqual(
    model.vteps.map((v) => v.address).sort(),
    report.vteps.map((v) => v.address).sort(),
  );
  for (const v of model.vteps) {
    const advertised = new Set(
      report.routes.filter((r) => r.vtep === v.address).map((r) => r.vni),
    );
    assert.deepEqual(v.vnis.map((s) => s.vni), [...advertised].sort((a, b) => a - b));
    for (const seg of v.vnis) {
      const macs = report.routes.filter((r) =>
        r.vtep === v.address && r.vni === seg.vni && r.type_name === "mac_ip"
      ).map((r) => r.mac);
      assert.deepEqual(seg.endpoints.map((e) => e.mac).sort(), [...new Set(macs)].sort());
    }
  }
  // Every flow is in exactly one link, and a link's totals are its flows' totals.
  assert.equal(model.links.reduce((n, l) => n + l.flows, 0), report.flows.length);
  for (const l of model.links) {
    const flows = report.flows.filter((f) => f.src_vtep === l.src && f.dst_vtep === l.dst);
    assert.equal(l.packets, flows.reduce((n, f) => n + f.packets, 0));
  }
  // The capture's error findings (withdrawn source MAC, BUM without IMET) go 22 -> 21.
  const bad = model.links.find((l) => l.src === "192.168.33.22" && l.dst === "192.168.33.21");
  assert.equal(bad?.severity, "error");
  const withdrawn = report.findings.find((f) => f.kind === "src_mac_withdrawn");
  assert.ok(withdrawn, "the capture should hold a src_mac_withdrawn finding");
  const marked = model.vteps.flatMap((v) =>
    v.vnis.flatMap((s) => s.endpoints.filter((e) => e.severity).map((e) => [v.address, e.mac]))
  );
  assert.deepEqual(marked, [[withdrawn.src_vtep, withdrawn.src_mac]]);
});

Deno.test("fabric model: a MAC's finding marks only the copy at the VTEP it names", async () => {
  const report = await decodeShared();
  const withdrawn = report.findings.find((f) => f.kind === "src_mac_withdrawn")!;
  const route = report.routes.find((r) => r.mac === withdrawn.src_mac && r.vni === withdrawn.vni)!;
  const elsewhere = { ...route, id: 9999, vtep: "192.0.2.99", next_hop: "192.0.2.99" };
  const model = buildFabricModel({ ...report, routes: [...report.routes, elsewhere] });
  const copy = model.vteps.find((v) => v.address === "192.0.2.99")!.vnis[0].endpoints[0];
  assert.equal(copy.mac, withdrawn.src_mac);
  assert.equal(copy.severity, null);
});

Deno.test("html report: hostile strings from the capture are escaped", async () => {
  const page = renderHtmlReport(hostileReport(await decodeShared()), {
    source: "<script>window.__pwned=4</script>.pcap",
  });
  assert.equal(page.match(/<script/g)?.length, 1, "only the page's own script element");
  assert.ok(!page.includes("<img"), "no injected element");
  assert.ok(page.includes("&lt;script&gt;window.__pwned=1&lt;/script&gt;"));
  assert.ok(page.includes("&lt;/td&gt;&lt;/tr&gt;&lt;/table&gt;&lt;script&gt;"));
});

Deno.test("html report: an unreadable capture still renders a page", async () => {
  const empty = { read: () => Promise.resolve(null) };
  const { report, readable } = await decodeCapture(empty);
  assert.equal(readable, false);
  const page = renderHtmlReport(report);
  assert.ok(page.startsWith("<!doctype html>"));
  assert.match(page, /No VTEPs/);
  assert.match(page, /No findings/);
});

// ---- Headless Chromium over the DevTools protocol ----

const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--remote-debugging-port=0",
];

async function which(name: string): Promise<string | null> {
  for (const dir of (Deno.env.get("PATH") ?? "/usr/bin:/bin").split(":")) {
    const path = `${dir}/${name}`;
    try {
      if ((await Deno.stat(path)).isFile) return path;
    } catch {
      // not in this directory
    }
  }
  return null;
}

/** Chromium's path, installing Debian's package first when it is missing (root on Debian). */
async function findChromium(): Promise<string | null> {
  const found = await which("chromium");
  if (found) return found;
  console.error("verify_html_test: chromium is missing, installing Debian's package");
  try {
    await installPackages(["chromium"]);
  } catch (e) {
    console.error(`verify_html_test: ${(e as Error).message}`);
    return null;
  }
  return await which("chromium");
}

const CHROMIUM = await findChromium();
if (!CHROMIUM) {
  console.error(
    "verify_html_test: SKIPPING the browser checks: chromium is not installed and " +
      "`apt-get install chromium` failed",
  );
}

// deno-lint-ignore no-explicit-any
type Json = any;
type CdpEvent = { method: string; params: Json; sessionId?: string };

/** A DevTools protocol connection: numbered commands, and every event kept in order. */
class Cdp {
  readonly events: CdpEvent[] = [];
  #next = 1;
  #pending = new Map<number, { resolve: (v: Json) => void; reject: (e: Error) => void }>();
  #waiters: { method: string; resolve: (e: CdpEvent) => void }[] = [];
  #closed: Promise<void>;

  private constructor(readonly ws: WebSocket) {
    this.#closed = new Promise((resolve) => ws.addEventListener("close", () => resolve()));
    ws.addEventListener("message", (m) => {
      const msg = JSON.parse(String(m.data));
      if (msg.id !== undefined) {
        const p = this.#pending.get(msg.id);
        this.#pending.delete(msg.id);
        if (msg.error) p?.reject(new Error(`CDP error: ${JSON.stringify(msg.error)}`));
        else p?.resolve(msg.result);
        return;
      }
      const event = msg as CdpEvent;
      this.events.push(event);
      this.#waiters = this.#waiters.filter((w) => {
        if (w.method !== event.method) return true;
        w.resolve(event);
        return false;
      });
    });
    ws.addEventListener("close", () => {
      for (const p of this.#pending.values()) p.reject(new Error("DevTools connection closed"));
      this.#pending.clear();
    });
  }

  static async connect(url: string): Promise<Cdp> {
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener("open", () => resolve(), { once: true });
      ws.addEventListener("error", () => reject(new Error(`cannot connect to ${url}`)), {
        once: true,
      });
    });
    return new Cdp(ws);
  }

  send(method: string, params: Json = {}, sessionId?: string, timeoutMs = 30_000): Promise<Json> {
    const id = this.#next++;
    this.ws.send(JSON.stringify({ id, method, params, sessionId }));
    return this.#timed(
      new Promise((resolve, reject) => this.#pending.set(id, { resolve, reject })),
      timeoutMs,
      method,
    );
  }

  /** The next event `method` (registered before the command that causes it is sent). */
  next(method: string, timeoutMs = 30_000): Promise<CdpEvent> {
    return this.#timed(
      new Promise((resolve) => this.#waiters.push({ method, resolve })),
      timeoutMs,
      method,
    );
  }

  async #timed<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      return await Promise.race([
        p,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    if (this.ws.readyState !== WebSocket.CLOSED) this.ws.close();
    await this.#closed;
  }
}

/** A headless Chromium of our own: its process group and profile are removed by `close`. */
class Browser {
  private constructor(
    readonly child: Deno.ChildProcess,
    readonly profile: string,
    readonly cdp: Cdp,
    readonly stderr: Promise<string>,
  ) {}

  static async launch(chromium: string, profile: string): Promise<Browser> {
    // setsid execs Chromium in a new process group whose id is the child's pid, so every
    // helper process it forks can be killed through that one id.
    const child = new Deno.Command("setsid", {
      args: [chromium, ...CHROMIUM_FLAGS, `--user-data-dir=${profile}`, "about:blank"],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(child.stderr).text();
    const exited = child.status.then((s) => s);
    try {
      const portFile = `${profile}/DevToolsActivePort`;
      const deadline = Date.now() + 30_000;
      let text = "";
      while (Date.now() < deadline) {
        text = await Deno.readTextFile(portFile).catch(() => "");
        if (text.includes("\n")) break;
        const done = await Promise.race([exited, delay(100).then(() => null)]);
        if (done) throw new Error(`chromium exited (${done.code}) before DevTools was up`);
      }
      const [port, path] = text.trim().split("\n");
      if (!port || !path) throw new Error("chromium did not write DevToolsActivePort in 30 s");
      const cdp = await Cdp.connect(`ws://127.0.0.1:${port}${path}`);
      return new Browser(child, profile, cdp, stderr);
    } catch (e) {
      await killGroup(child);
      const log = await stderr;
      await Deno.remove(profile, { recursive: true }).catch(() => {});
      throw new Error(`${(e as Error).message}\nchromium stderr:\n${log.slice(-2000)}`);
    }
  }

  /** Closes the browser, kills whatever is left of its process group, removes the profile. */
  async close(): Promise<void> {
    await this.cdp.send("Browser.close", {}, undefined, 5_000).catch(() => {});
    await this.cdp.close().catch(() => {});
    const gone = await Promise.race([this.child.status.then(() => true), delay(5_000)]);
    if (!gone) await killGroup(this.child);
    else await killGroup(this.child, false);
    await this.stderr.catch(() => "");
    await Deno.remove(this.profile, { recursive: true }).catch(() => {});
  }
}

function delay(ms: number): Promise<false> {
  return new Promise((resolve) => setTimeout(() => resolve(false), ms));
}

/** Process ids still in process group `pgid` (Linux /proc). */
async function groupMembers(pgid: number): Promise<number[]> {
  const pids: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const stat = await Deno.readTextFile(`/proc/${entry.name}/stat`).catch(() => "");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // After the name: state, ppid, pgrp. Zombies are already dead, only not yet reaped.
    if (fields[0] !== "Z" && Number(fields[2]) === pgid) pids.push(Number(entry.name));
  }
  return pids;
}

/** SIGKILLs Chromium's process group (by its id) and waits until no member is left. */
async function killGroup(child: Deno.ChildProcess, signal = true): Promise<void> {
  if (signal) {
    try {
      Deno.kill(-child.pid, "SIGKILL");
    } catch {
      // the group is already gone
    }
  }
  await child.status;
  for (let i = 0; i < 50; i++) {
    const left = await groupMembers(child.pid);
    if (left.length === 0) return;
    for (const pid of left) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // exited meanwhile
      }
    }
    await delay(100);
  }
  throw new Error(`chromium processes of group ${child.pid} survived SIGKILL`);
}

/** What one page load showed: console errors/exceptions/log errors, and a way to evaluate. */
interface Page {
  errors: string[];
  evaluate(expression: string): Promise<Json>;
  screenshot(): Promise<Uint8Array>;
}

/** Opens `file` in a new tab, waits for load, and collects every error the page produced. */
async function openPage(browser: Browser, file: string): Promise<Page> {
  const { cdp } = browser;
  const { targetId } = await cdp.send("Target.createTarget", { url: "about:blank" });
  const { sessionId } = await cdp.send("Target.attachToTarget", { targetId, flatten: true });
  const s = (method: string, params: Json = {}) => cdp.send(method, params, sessionId);
  await s("Runtime.enable");
  await s("Log.enable");
  await s("Page.enable");
  await s("Emulation.setDeviceMetricsOverride", {
    width: 1400,
    height: 900,
    deviceScaleFactor: 1,
    mobile: false,
  });
  const loaded = cdp.next("Page.loadEventFired");
  const nav = await s("Page.navigate", { url: new URL(`file://${file}`).href });
  if (nav.errorText) throw new Error(`navigation failed: ${nav.errorText}`);
  await loaded;
  const errors = () =>
    cdp.events.filter((e) => e.sessionId === sessionId).flatMap((e): string[] => {
      const p = e.params;
      if (e.method === "Runtime.exceptionThrown") {
        const d = p.exceptionDetails;
        return [`exception: ${d.exception?.description ?? d.text}`];
      }
      if (e.method === "Runtime.consoleAPICalled" && ["error", "assert"].includes(p.type)) {
        return [
          `console.${p.type}: ${p.args.map((a: Json) => a.value ?? a.description).join(" ")}`,
        ];
      }
      if (e.method === "Log.entryAdded" && p.entry.level === "error") {
        return [`log (${p.entry.source}): ${p.entry.text} ${p.entry.url ?? ""}`];
      }
      return [];
    });
  return {
    get errors() {
      return errors();
    },
    async evaluate(expression: string) {
      const r = await s("Runtime.evaluate", { expression, returnByValue: true });
      if (r.exceptionDetails) {
        throw new Error(`evaluate failed: ${JSON.stringify(r.exceptionDetails).slice(0, 500)}`);
      }
      return r.result.value;
    },
    async screenshot() {
      const { cssContentSize } = await s("Page.getLayoutMetrics");
      const { data } = await s("Page.captureScreenshot", {
        format: "png",
        captureBeyondViewport: true,
        clip: {
          x: 0,
          y: 0,
          width: Math.ceil(cssContentSize.width),
          height: Math.min(Math.ceil(cssContentSize.height), 6000),
          scale: 1,
        },
      });
      return Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
    },
  };
}

/** Renders `report` to a temp file, opens it in a fresh Chromium, runs `check`, cleans up. */
async function inChromium(
  report: VerifyReport,
  source: string,
  check: (page: Page, dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "verify_html_" });
  let browser: Browser | undefined;
  try {
    const file = `${dir}/report.html`;
    await Deno.writeTextFile(file, renderHtmlReport(report, { source }));
    browser = await Browser.launch(CHROMIUM!, `${dir}/profile`);
    await check(await openPage(browser, file), dir);
  } finally {
    await browser?.close();
    await Deno.remove(dir, { recursive: true });
  }
}

function assertPng(bytes: Uint8Array): { width: number; height: number } {
  assert.deepEqual([...bytes.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10], "PNG signature");
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

Deno.test({
  name: "chromium: the real capture's page shows its VTEPs and findings, without errors",
  ignore: !CHROMIUM,
  fn: async () => {
    const report = await decodeShared();
    assert.ok(report.vteps.length > 0 && report.findings.length > 0, "capture has both");
    await inChromium(report, "bagpipe-evpn-fabric.pcap", async (page, dir) => {
      assert.deepEqual(page.errors, []);
      const dom = await page.evaluate(`({
        text: document.body.innerText,
        vteps: [...document.querySelectorAll("#fabric .vtep")].map((g) => g.dataset.vtep),
        links: document.querySelectorAll("#fabric .link").length,
        kinds: [...document.querySelectorAll("#findings tbody tr")].map((r) => r.dataset.kind),
        events: document.querySelectorAll("#events tbody tr").length,
        marks: document.querySelectorAll("#timeline-lanes line.mark").length,
        verdict: document.getElementById("verdict").innerText,
        warningEvents: document.querySelectorAll("#events tbody tr[data-severity=warning]").length,
      })`);
      for (const v of report.vteps) assert.ok(dom.text.includes(v.address), v.address);
      assert.deepEqual(dom.vteps.sort(), report.vteps.map((v) => v.address).sort());
      const pairs = new Set(report.flows.map((f) => `${f.src_vtep}>${f.dst_vtep}`));
      assert.equal(dom.links, pairs.size);
      assert.deepEqual(
        [...new Set<string>(dom.kinds)].sort(),
        [...new Set(report.findings.map((f) => f.kind))].sort(),
      );
      for (const kind of new Set(report.findings.map((f) => f.kind))) {
        assert.ok(dom.text.includes(kind), kind);
      }
      assert.equal(dom.kinds.length, report.findings.length);
      assert.equal(dom.events, report.timeline.length);
      assert.equal(dom.marks, report.timeline.length);
      const severity = new Map(report.findings.map((f) => [f.id, f.severity]));
      assert.equal(
        dom.warningEvents,
        report.timeline.filter((e) => severity.get(e.finding ?? -1) === "warning").length,
      );
      assert.ok(dom.warningEvents > 0, "the capture has warning findings on the timeline");
      assert.match(dom.verdict, report.summary.errors > 0 ? /Inconsistent/ : /Consistent/);

      // The page as first shown, before the filters below change it.
      const png = await page.screenshot();
      const size = assertPng(png);
      assert.ok(
        size.width >= 1000 && size.height >= 900,
        `screenshot ${size.width}x${size.height}`,
      );
      await Deno.writeFile(`${dir}/report.png`, png);
      const keep = Deno.env.get("VERIFY_HTML_SCREENSHOTS");
      if (keep) await Deno.copyFile(`${dir}/report.png`, `${keep}/verify_report.png`);

      // The filter script: a MAC narrows the findings to those naming it, unticking a
      // severity hides its rows, clicking a VTEP selects it and filters by its address.
      const mac = report.findings.find((f) => f.severity === "error")!.src_mac!;
      const visible = `[...document.querySelectorAll("#findings tbody tr:not(.hidden)")]`;
      const byMac = await page.evaluate(`(() => {
        const f = document.getElementById("filter");
        f.value = ${JSON.stringify(mac)};
        f.dispatchEvent(new Event("input"));
        return ${visible}.map((r) => Number(r.dataset.finding)).sort((a, b) => a - b);
      })()`);
      const naming = report.findings.filter((f) => f.src_mac === mac || f.dst_mac === mac);
      assert.deepEqual(byMac, naming.map((f) => f.id).sort((a, b) => a - b));
      const noWarnings = await page.evaluate(`(() => {
        const f = document.getElementById("filter");
        f.value = "";
        f.dispatchEvent(new Event("input"));
        const w = document.querySelector("input[data-severity-filter][value=warning]");
        w.checked = false;
        w.dispatchEvent(new Event("change"));
        return ${visible}.map((r) => r.dataset.severity);
      })()`);
      assert.equal(
        noWarnings.length,
        report.findings.filter((f) => f.severity !== "warning").length,
      );
      assert.ok(!noWarnings.includes("warning"));
      const warningEvents = await page.evaluate(
        `document.querySelectorAll("#events tbody tr[data-severity=warning]:not(.hidden)").length`,
      );
      assert.equal(warningEvents, 0, "warning findings hidden from the timeline table too");
      const vtep = report.vteps[0].address;
      const clicked = await page.evaluate(`(() => {
        const g = [...document.querySelectorAll("#fabric .vtep")]
          .find((g) => g.dataset.vtep === ${JSON.stringify(vtep)});
        g.dispatchEvent(new MouseEvent("click", { bubbles: true }));
        return { filter: document.getElementById("filter").value,
          selected: g.classList.contains("selected") };
      })()`);
      assert.deepEqual(clicked, { filter: vtep, selected: true });
      assert.deepEqual(page.errors, [], "no errors while filtering");
    });
  },
});

Deno.test({
  name: "chromium: hostile strings stay text, no injected script runs",
  ignore: !CHROMIUM,
  fn: async () => {
    const report = hostileReport(await decodeShared());
    await inChromium(report, "<script>window.__pwned=4</script>.pcap", async (page) => {
      const dom = await page.evaluate(`({
        pwned: window.__pwned ?? null,
        scripts: document.scripts.length,
        images: document.images.length,
        text: document.body.innerText,
        vteps: [...document.querySelectorAll("#fabric .vtep")].map((g) => g.dataset.vtep),
      })`);
      assert.equal(dom.pwned, null);
      assert.equal(dom.scripts, 1);
      assert.equal(dom.images, 0);
      assert.ok(dom.text.includes(`<script>window.__pwned=1</script>`), "shown as text");
      assert.ok(dom.text.includes(`<script>window.__pwned=3</script>`), "detail shown as text");
      assert.ok(dom.vteps.includes(report.vteps[0].address));
      // An injected element would have tripped the Content-Security-Policy: that is an error too.
      assert.deepEqual(page.errors, []);
    });
  },
});

Deno.test({
  name: "chromium: an unreadable capture's page (no fabric, no tables) loads without errors",
  ignore: !CHROMIUM,
  fn: async () => {
    const { report } = await decodeCapture({ read: () => Promise.resolve(null) });
    await inChromium(report, "empty.pcap", async (page) => {
      const dom = await page.evaluate(`({
        text: document.body.innerText,
        vteps: document.querySelectorAll("#fabric .vtep").length,
      })`);
      assert.equal(dom.vteps, 0);
      assert.match(dom.text, /No VTEPs/);
      assert.deepEqual(page.errors, []);
    });
  },
});
