/** The page's CSS, inlined: system fonts only, so the file needs nothing from the network. */
export const STYLE = `
:root {
  --error: #c62828; --error-bg: #fdecea;
  --warning: #b26a00; --warning-bg: #fff3dc;
  --info: #1f5fa8; --info-bg: #e8f0fb;
  --none: #7a8599; --ink: #1d2330; --muted: #5d6678; --line: #d9dee7;
  --mono: ui-monospace, "DejaVu Sans Mono", "Liberation Mono", monospace;
}
* { box-sizing: border-box; }
body { margin: 0; padding: 20px 28px 40px; font: 14px/1.45 system-ui, "DejaVu Sans", sans-serif;
  color: var(--ink); background: #f7f8fb; }
h1 { font-size: 22px; margin: 0 0 6px; }
h1 .source { font-family: var(--mono); font-weight: 400; font-size: 16px; color: var(--muted); }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 4px 16px 14px;
  margin-top: 16px; }
.mono, .kind { font-family: var(--mono); font-size: 12.5px; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.verdict { font-size: 17px; font-weight: 600; padding: 8px 12px; border-radius: 6px; margin: 10px 0; }
.verdict.good { background: #e7f5e9; color: #1b5e20; }
.verdict.bad { background: var(--error-bg); color: var(--error); }
.verdict.warn { background: var(--warning-bg); color: var(--warning); }
.capture, .note, .empty { color: var(--muted); margin: 6px 0; }
.fatal { color: var(--error); font-weight: 600; }
.stats { display: flex; flex-wrap: wrap; gap: 8px; margin: 10px 0; }
.stat { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 6px 12px;
  min-width: 92px; }
.stat .value { display: block; font-size: 18px; font-weight: 600; }
.stat .label { color: var(--muted); font-size: 12px; }
.stat.sev-error .value { color: var(--error); }
.stat.sev-warning .value { color: var(--warning); }
.stat.sev-info .value { color: var(--info); }
.scroll { overflow-x: auto; }
.legend { display: flex; flex-wrap: wrap; gap: 16px; color: var(--muted); font-size: 12.5px;
  padding: 0; list-style: none; }
.legend .sw { display: inline-block; width: 22px; height: 4px; vertical-align: middle;
  margin-right: 5px; border-radius: 2px; }
.legend .dot { display: inline-block; width: 9px; height: 9px; border-radius: 50%;
  vertical-align: middle; margin-right: 5px; }
.sw.sev-error, .dot.sev-error { background: var(--error); }
.sw.sev-warning, .dot.sev-warning { background: var(--warning); }
.sw.sev-info, .dot.sev-info { background: var(--info); }
.sw.sev-none { background: var(--none); }
.dot.active { background: #2e7d32; }
.dot.withdrawn { border: 1.5px solid #8a93a3; }
/* Diagram */
#fabric { display: block; font-family: system-ui, "DejaVu Sans", sans-serif; }
.vtep { cursor: pointer; }
.vtep-box { fill: #fff; stroke: #39465a; stroke-width: 1.5; }
.vtep.sev-error .vtep-box { stroke: var(--error); stroke-width: 2.5; }
.vtep.sev-warning .vtep-box { stroke: var(--warning); stroke-width: 2; }
.vtep.selected .vtep-box { stroke-width: 4; fill: #f3f7ff; }
.vtep-name { font: 600 15px var(--mono); fill: var(--ink); }
.vtep-stats { font-size: 11px; fill: var(--muted); }
.vni-name { font-weight: 600; font-size: 12.5px; }
.imet { font-size: 11px; }
.imet-active { fill: #2e7d32; }
.imet-withdrawn { fill: #8a93a3; }
.imet-none { fill: var(--warning); }
.rt { font: 10px var(--mono); fill: var(--muted); }
.endpoint text { font: 11.5px var(--mono); fill: var(--ink); }
.endpoint.withdrawn text { fill: #6b7383; }
.endpoint .dot { fill: #2e7d32; }
.endpoint.withdrawn .dot { fill: #fff; stroke: #8a93a3; stroke-width: 1.2; }
.more { font-size: 11px; font-style: italic; fill: var(--muted); }
circle.mark.sev-error, marker.sev-error path { fill: var(--error); }
circle.mark.sev-warning, marker.sev-warning path { fill: var(--warning); }
circle.mark.sev-info, marker.sev-info path { fill: var(--info); }
marker.sev-none path { fill: var(--none); }
.link path { fill: none; opacity: 0.8; }
.link.sev-error path { stroke: var(--error); }
.link.sev-warning path { stroke: var(--warning); }
.link.sev-info path { stroke: var(--info); }
.link.sev-none path { stroke: var(--none); }
.link-label { font-size: 11px; fill: var(--ink); paint-order: stroke; stroke: #fff; stroke-width: 4px; }
#fabric.filtered .link.dim { opacity: 0.12; }
/* Timeline */
#timeline-lanes { display: block; width: 100%; max-width: 1400px; font-family: system-ui, sans-serif; }
.lane rect { fill: #f2f4f8; }
.lane text { font-size: 12px; fill: var(--muted); }
.tick { stroke: #dde2ea; }
.tick-label { font-size: 11px; fill: var(--muted); }
line.mark { stroke-width: 2; }
.lane-announce line.mark, line.ev-advertise, line.ev-update { stroke: #2e7d32; }
line.ev-mac_move { stroke: #8e24aa; }
line.ev-withdraw, line.ev-implicit_withdraw { stroke: #5d4037; }
line.mark.sev-error { stroke: var(--error); }
line.mark.sev-warning { stroke: var(--warning); }
line.mark.sev-info { stroke: var(--info); }
line.ev-session_open, line.ev-session_established, line.ev-session_closed,
line.ev-notification, line.ev-route_refresh { stroke: #5e4db2; }
.ev { font-size: 12px; padding: 1px 6px; border-radius: 10px; background: #eef1f6; white-space: nowrap; }
.ev-advertise, .ev-update { background: #e7f5e9; }
.ev-withdraw, .ev-implicit_withdraw { background: #efe7e4; }
.ev-finding { background: var(--warning-bg); }
/* Tables and filters */
.filters { display: flex; flex-wrap: wrap; gap: 14px; align-items: center; margin: 8px 0; }
.filters input[type=search] { font: inherit; padding: 4px 8px; min-width: 380px; }
.table-wrap { max-height: 560px; overflow: auto; border: 1px solid var(--line); border-radius: 6px; }
.table-wrap.tall { max-height: 420px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th { position: sticky; top: 0; background: #eef1f6; text-align: left; padding: 6px 8px;
  font-weight: 600; white-space: nowrap; }
td { padding: 4px 8px; border-top: 1px solid #edf0f4; vertical-align: top; }
tbody tr:nth-child(even) { background: #fafbfd; }
tr.hidden { display: none; }
.sev { font-size: 12px; font-weight: 600; padding: 1px 7px; border-radius: 10px; }
.sev.sev-error { background: var(--error-bg); color: var(--error); }
.sev.sev-warning { background: var(--warning-bg); color: var(--warning); }
.sev.sev-info { background: var(--info-bg); color: var(--info); }
.other { color: var(--muted); }
.chips { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 6px; margin: 8px 0; }
.chip { font: 12.5px var(--mono); padding: 2px 9px; border-radius: 12px; border: 1px solid var(--line); }
.chip.sev-error { background: var(--error-bg); color: var(--error); }
.chip.sev-warning { background: var(--warning-bg); color: var(--warning); }
.chip.sev-info { background: var(--info-bg); color: var(--info); }
footer { margin-top: 24px; color: var(--muted); font-size: 12px; }
`;
