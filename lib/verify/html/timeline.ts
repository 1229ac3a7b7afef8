/**
 * The timeline: route announcements, withdrawals, findings and BGP session events as marks on
 * lanes over capture time (packet numbers when the capture has no times), then the same events
 * as a table with packet number and time.
 */
import type { VerifyReport } from "../../../wasm/mod.ts";
import { describeFinding } from "../describe.ts";
import { html, type SafeHtml } from "./escape.ts";
import { routeLabel } from "./fabric_model.ts";
import { clip, count, isoTime, offset } from "./format.ts";

/** Rendering limits: marks drawn and table rows; the page says how many were left out. */
export const TIMELINE_LIMITS = { marks: 5000, rows: 1000 };

type TimelineEvent = VerifyReport["timeline"][number];
type Lane = "announce" | "withdraw" | "finding" | "session";

const LANES: { lane: Lane; name: string }[] = [
  { lane: "announce", name: "announced" },
  { lane: "withdraw", name: "withdrawn" },
  { lane: "finding", name: "findings" },
  { lane: "session", name: "BGP sessions" },
];

function laneOf(e: TimelineEvent): Lane {
  switch (e.event) {
    case "advertise":
    case "update":
    case "mac_move":
      return "announce";
    case "withdraw":
    case "implicit_withdraw":
      return "withdraw";
    case "finding":
      return "finding";
    default:
      return "session";
  }
}

/** One event resolved against the report: what the row and the mark say about it. */
interface EventView {
  e: TimelineEvent;
  lane: Lane;
  vteps: string[];
  vni: number | null;
  subject: string;
  detail: string;
  severity: string | null;
}

function resolve(report: VerifyReport): (e: TimelineEvent) => EventView {
  const routes = new Map(report.routes.map((r) => [r.id, r]));
  const findings = new Map(report.findings.map((f) => [f.id, f]));
  const sessions = new Map(report.sessions.map((s) => [s.id, s]));
  return (e) => {
    const view: EventView = {
      e,
      lane: laneOf(e),
      vteps: [],
      vni: null,
      subject: e.event,
      detail: "",
      severity: null,
    };
    const f = e.finding === undefined ? undefined : findings.get(e.finding);
    const r = e.route === undefined ? undefined : routes.get(e.route);
    const s = e.session === undefined ? undefined : sessions.get(e.session);
    if (f) {
      view.vteps = [f.src_vtep, f.dst_vtep, f.other_vtep].filter((v) => v !== null);
      view.vni = f.vni;
      view.subject = f.kind;
      view.detail = describeFinding(f);
      view.severity = f.severity;
    } else if (r) {
      view.vteps = [r.vtep];
      view.vni = r.vni;
      view.subject = `${r.type_name} ${routeLabel(r)}`;
      const prev = e.previous_route === undefined ? "" : `, replaces route ${e.previous_route}`;
      view.detail = `route ${r.id}${prev}${e.reason ? `: ${e.reason}` : ""}`;
    } else if (s) {
      view.vteps = [s.client.address, s.server.address];
      view.subject = `${e.event} #${s.id}`;
      const code = e.code === undefined ? "" : ` code ${e.code}/${e.subcode ?? 0}`;
      view.detail = `${s.client.address}:${s.client.port} → ${s.server.address}:${s.server.port}` +
        (e.reason ? ` (${e.reason})` : "") + code;
    } else {
      view.detail = e.reason ?? "";
    }
    return view;
  };
}

function axis(report: VerifyReport): { by: "time" | "packet"; from: number; to: number } {
  const c = report.capture;
  if (c.first_time !== null && c.last_time !== null && c.last_time > c.first_time) {
    return { by: "time", from: c.first_time, to: c.last_time };
  }
  const last = report.timeline.reduce((m, e) => Math.max(m, e.packet), c.packets);
  return { by: "packet", from: 0, to: Math.max(last, 1) };
}

const W = 1000;
const LEFT = 110;
const RIGHT = 20;
const LANE_H = 26;
const TOP = 10;

function lanesSvg(report: VerifyReport, events: EventView[]): SafeHtml {
  const ax = axis(report);
  const x = (e: TimelineEvent) => {
    const v = ax.by === "time" ? e.time : e.packet;
    const f = Math.min(1, Math.max(0, (v - ax.from) / (ax.to - ax.from)));
    return LEFT + f * (W - LEFT - RIGHT);
  };
  const laneY = (lane: Lane) => TOP + LANES.findIndex((l) => l.lane === lane) * LANE_H;
  const height = TOP + LANES.length * LANE_H + 28;
  const bands = LANES.map(({ lane, name }) =>
    html`
      <g class="lane lane-${lane}">
        <rect x="${LEFT}" y="${laneY(lane)}" width="${W - LEFT - RIGHT}" height="${LANE_H - 4}" />
        <text x="${LEFT - 8}" y="${laneY(lane) + 15}" text-anchor="end">${name}</text>
      </g>
    `
  );
  const marks = events.slice(0, TIMELINE_LIMITS.marks).map((v) => {
    const y = laneY(v.lane);
    const cls = `mark ev-${v.e.event}${v.severity ? ` sev-${v.severity}` : ""}`;
    const when = `packet ${v.e.packet}, ${offset(report, v.e.time)}`;
    return html`
      <line class="${cls}" x1="${x(v.e).toFixed(1)}" x2="${x(v.e).toFixed(1)}" y1="${y +
        3}" y2="${y + LANE_H - 7}">
        <title>${when}: ${v.subject} ${v.detail}</title>
      </line>
    `;
  });
  const ticks = [0, 0.2, 0.4, 0.6, 0.8, 1].map((f) => {
    const tx = LEFT + f * (W - LEFT - RIGHT);
    const v = ax.from + f * (ax.to - ax.from);
    const text = ax.by === "time" ? `+${(v - ax.from).toFixed(1)} s` : `pkt ${Math.round(v)}`;
    const ty = TOP + LANES.length * LANE_H;
    return html`
      <line class="tick" x1="${tx}" x2="${tx}" y1="${TOP}" y2="${ty + 2}" />
      <text class="tick-label" x="${tx}" y="${ty + 16}"
        text-anchor="${f === 0 ? "start" : f === 1 ? "end" : "middle"}">${text}</text>
    `;
  });
  return html`
    <svg id="timeline-lanes" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${height}"
      role="img" aria-label="timeline of routes, findings and sessions">
    ${bands}${ticks}<g class="marks">${marks}</g></svg>
  `;
}

function row(report: VerifyReport, v: EventView): SafeHtml {
  return html`
    <tr class="lane-${v.lane}${v.severity ? ` sev-${v.severity}` : ""}" data-event="${v.e
      .event}" data-vteps="${v.vteps.join(" ")}"
      ${v.e.finding === undefined ? null : html`
        data-finding="${v.e.finding}" data-severity="${v.severity}"
      `}>
      <td class="num">${v.e.packet}</td>
      <td class="num" title="${isoTime(v.e.time)}">${offset(report, v.e.time)}</td>
      <td><span class="ev ev-${v.e.event}">${v.e.event.replaceAll("_", " ")}</span></td>
      <td class="mono">${v.vteps.join(" → ")}</td>
      <td class="num">${v.vni}</td>
      <td class="mono">${clip(v.subject, 80)}</td>
      <td>${v.detail}</td>
    </tr>
  `;
}

/** The timeline section: lanes SVG plus the event table. */
export function renderTimeline(report: VerifyReport): SafeHtml {
  if (report.timeline.length === 0) {
    return html`<p class="empty">No events: no BGP sessions, routes or findings in the capture.</p>`;
  }
  const events = report.timeline.map(resolve(report));
  const shown = events.slice(0, TIMELINE_LIMITS.rows);
  const notes: string[] = [];
  if (events.length > shown.length) {
    notes.push(`${count(events.length - shown.length)} more events in the JSON report.`);
  }
  if (report.limits.timeline_dropped > 0) {
    notes.push(`The decoder dropped ${count(report.limits.timeline_dropped)} events (limit).`);
  }
  const tally = LANES.map(({ lane, name }) =>
    `${count(events.filter((v) => v.lane === lane).length)} ${name}`
  ).join(" · ");
  return html`
    <p class="note">${tally}</p>${lanesSvg(report, events)}
    <div class="table-wrap tall">
      <table id="events">
        <thead>
          <tr>
            <th>packet</th>
            <th>time</th>
            <th>event</th>
            <th>VTEPs</th>
            <th>VNI</th>
            <th>what</th>
            <th>detail</th>
          </tr>
        </thead>
        <tbody>${shown.map((v) => row(report, v))}</tbody>
      </table>
    </div>${notes.map((n) => html`<p class="note">${n}</p>`)}
  `;
}
