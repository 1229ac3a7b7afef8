/** The page head: verdict, what the capture held, and the counts behind the verdict. */
import type { VerifyReport } from "../../../wasm/mod.ts";
import { html, type SafeHtml } from "./escape.ts";
import { count, isoTime } from "./format.ts";

/** The verdict in words and the class that colours it (same rule as the text report). */
export function verdict(report: VerifyReport): { text: string; cls: string } {
  const s = report.summary;
  if (s.errors > 0) {
    return { text: `Inconsistent: ${count(s.errors)} error finding(s)`, cls: "bad" };
  }
  if (!s.control_plane_seen) {
    return { text: "No BGP control plane in the capture: data plane unverifiable", cls: "warn" };
  }
  return { text: "Consistent", cls: "good" };
}

function stat(label: string, value: number | string, cls = ""): SafeHtml {
  return html`
    <div
      class="stat ${cls}"><span class="value">${typeof value === "number"
        ? count(value)
        : value}</span><span class="label">${label}</span></div>
  `;
}

/** The summary block under the title. */
export function renderSummary(report: VerifyReport): SafeHtml {
  const c = report.capture;
  const s = report.summary;
  const v = verdict(report);
  const span = c.first_time !== null && c.last_time !== null
    ? `${isoTime(c.first_time)} – ${isoTime(c.last_time)} (${
      (c.last_time - c.first_time).toFixed(3)
    } s)`
    : "no timestamps";
  const fatal = c.fatal_error
    ? html`<p class="fatal">Decoding stopped: ${c.fatal_error.what}: ${c.fatal_error.why} (${c.fatal_error.value})</p>`
    : null;
  const dropped = Object.entries(report.limits).filter(([, n]) => n > 0)
    .map(([k, n]) => `${k.replaceAll("_", " ")} ${count(n)}`);
  const limits = dropped.length
    ? html`<p class="note">Decoder limits reached: ${dropped.join(", ")}.</p>`
    : null;
  const notes = [...inferredNotes(report)];
  if (s.snapshot_routes > 0) {
    notes.unshift(
      `${
        count(s.snapshot_routes)
      } routes came from --rib snapshots: the control plane at the capture's start.`,
    );
  }
  return html`
    <p class="verdict ${v.cls}" id="verdict">${v.text}</p>
    <p
      class="capture">${c.format} capture · ${count(c.packets)} packets · ${count(
        c.captured_bytes,
      )} bytes · ${span}</p>${fatal}
    <div class="stats">${[
      stat("BGP packets", c.counters.bgp_packets),
      stat("VXLAN packets", c.counters.vxlan_packets),
      stat("BGP sessions", s.sessions),
      stat("EVPN routes", `${count(s.routes)} (${count(s.routes_active)} active)`),
      stat("VTEPs", report.vteps.length),
      stat("flows", s.flows),
      stat("errors", s.errors, s.errors ? "sev-error" : ""),
      stat("warnings", s.warnings, s.warnings ? "sev-warning" : ""),
      stat("infos", s.infos, s.infos ? "sev-info" : ""),
    ]}</div>${limits}${notes.map((n) => html`<p class="note inferred">${n}</p>`)}
  `;
}

/** One sentence per session direction whose OPEN was not captured: what was inferred instead. */
function* inferredNotes(report: VerifyReport): Generator<string> {
  const say = (v: boolean | null) => (v === null ? "unknown" : v ? "yes" : "no");
  for (const s of report.sessions) {
    for (const d of s.directions) {
      if (!d.inferred) continue;
      const who = d.direction === "client_to_server" ? s.client.address : s.server.address;
      yield `Session #${s.id}, ${who}: no OPEN captured; inferred from its UPDATEs: 4-octet AS ${
        say(d.inferred.four_octet_as)
      }, ADD-PATH ${say(d.inferred.add_path)}.`;
    }
  }
}
