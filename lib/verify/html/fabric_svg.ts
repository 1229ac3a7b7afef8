/**
 * The fabric diagram as inline SVG: one box per VTEP (its VNIs and the endpoints advertised in
 * them) side by side, and VXLAN traffic between VTEPs as arrows arching over the boxes, so any
 * pair can be joined without crossing a box.
 */
import { html, type SafeHtml } from "./escape.ts";
import type { EndpointView, FabricModel, LinkView, VniView, VtepView } from "./fabric_model.ts";
import { clip, count } from "./format.ts";

/** Drawing limits: past them the page says how many were left out (the JSON has all). */
export const DIAGRAM_LIMITS = { vteps: 64, vnisPerVtep: 32, endpointsPerVni: 12, labels: 60 };

const COL_W = 320;
const GAP = 70;
const MARGIN = 16;
const HEAD_H = 48;
const VNI_HEAD_H = 24;
const LINE_H = 17;
const VNI_PAD = 8;
const LABEL_CHARS = 40;
const REVERSE_EXTRA = 28;

/** Hue per VNI (golden angle), so one VNI has one colour on every VTEP. */
function vniHue(vni: number): number {
  return Math.round((vni * 137.508) % 360);
}

function shownEndpoints(seg: VniView): number {
  const n = Math.min(seg.endpoints.length, DIAGRAM_LIMITS.endpointsPerVni);
  const more = seg.endpoints.length > n ? 1 : 0;
  return Math.max(n + more, 1);
}

function vniHeight(seg: VniView): number {
  return VNI_HEAD_H + shownEndpoints(seg) * LINE_H + VNI_PAD;
}

function boxHeight(v: VtepView): number {
  const vnis = v.vnis.slice(0, DIAGRAM_LIMITS.vnisPerVtep);
  const more = v.vnis.length > vnis.length ? LINE_H : 0;
  const body = vnis.reduce((h, s) => h + vniHeight(s) + VNI_PAD, 0);
  return HEAD_H + Math.max(body, LINE_H + VNI_PAD) + more + VNI_PAD;
}

function endpointLine(e: EndpointView, x: number, y: number): SafeHtml {
  const state = e.active ? "active" : "withdrawn";
  const title =
    `${e.label}: ${e.active ? "advertised" : "withdrawn"} (route ${
      e.routes.join(", ")
    }, last change at packet ${e.lastChangePacket})` +
    (e.severity ? `; ${e.severity} finding names this MAC` : "");
  const mark = e.severity
    ? html`
      <circle class="mark sev-${e.severity}" cx="${x + COL_W - 40}" cy="${y - 4}" r="4" />
    `
    : null;
  return html`
    <g class="endpoint ${state}" data-mac="${e.mac}"
      data-ip="${e.ip}"><title>${title}</title>
    <circle class="dot" cx="${x + 6}" cy="${y - 4}" r="3.5"/><text x="${x + 16}" y="${y}">${clip(
      e.label,
      LABEL_CHARS,
    )}</text>${mark}</g>
  `;
}

function vniBlock(seg: VniView, x: number, y: number): SafeHtml {
  const hue = vniHue(seg.vni);
  const w = COL_W - 24;
  const imet = seg.imet === "active"
    ? "IMET"
    : seg.imet === "withdrawn"
    ? "IMET withdrawn"
    : "no IMET";
  const rts = seg.routeTargets.length ? `RT ${seg.routeTargets.join(" ")}` : "";
  const shown = seg.endpoints.slice(0, DIAGRAM_LIMITS.endpointsPerVni);
  const lines = shown.map((e, i) => endpointLine(e, x + 8, y + VNI_HEAD_H + (i + 1) * LINE_H - 4));
  const rest = seg.endpoints.length - shown.length;
  const after = y + VNI_HEAD_H + (shown.length + 1) * LINE_H - 4;
  const extra = rest > 0
    ? html`<text class="more" x="${x + 24}" y="${after}">+${rest} more</text>`
    : shown.length === 0
    ? html`<text class="more" x="${x + 24}" y="${after}">no MAC/IP routes</text>`
    : null;
  return html`<g class="vni" data-vni="${seg.vni}">
<rect x="${x}" y="${y}" width="${w}" height="${
    vniHeight(seg)
  }" rx="5" fill="hsl(${hue} 70% 96%)" stroke="hsl(${hue} 45% 45%)"/>
<text class="vni-name" x="${x + 8}" y="${y + 16}" fill="hsl(${hue} 45% 30%)">VNI ${seg.vni}</text>
<text class="imet imet-${seg.imet}" x="${x + 70}" y="${y + 16}">${imet}</text>
<text class="rt" x="${x + w - 8}" y="${y + 16}" text-anchor="end">${
    clip(rts, 22)
  }<title>${rts}</title></text>
${lines}${extra}</g>`;
}

function vtepBox(v: VtepView, x: number, y: number): SafeHtml {
  const h = boxHeight(v);
  const vnis = v.vnis.slice(0, DIAGRAM_LIMITS.vnisPerVtep);
  let cy = y + HEAD_H;
  const blocks = vnis.map((s) => {
    const b = vniBlock(s, x + 12, cy);
    cy += vniHeight(s) + VNI_PAD;
    return b;
  });
  const rest = v.vnis.length - vnis.length;
  const extra = rest > 0
    ? html`<text class="more" x="${x + 16}" y="${cy + 12}">+${rest} more VNIs</text>`
    : vnis.length === 0
    ? html`<text class="more" x="${x + 16}" y="${cy + 12}">no EVPN routes</text>`
    : null;
  const stats = `${count(v.routes)} routes (${count(v.routesActive)} active) · flows out ${
    count(v.flowsSent)
  } in ${count(v.flowsReceived)}`;
  return html`
    <g class="vtep${v.severity ? ` sev-${v.severity}` : ""}" data-vtep="${v.address}" tabindex="0"
      role="button"><title>VTEP ${v.address}: ${stats}</title>
    <rect class="vtep-box" x="${x}" y="${y}" width="${COL_W}" height="${h}" rx="8"/>
    <text class="vtep-name" x="${x + 12}" y="${y + 20}">${clip(v.address, 34)}</text>
    <text class="vtep-stats" x="${x + 12}" y="${y + 38}">${stats}</text>
    ${blocks}${extra}</g>
  `;
}

/** How high the arc from column `from` to column `to` rises above the boxes. */
function riseOf(from: number, to: number): number {
  const d = Math.abs(to - from);
  if (d === 0) return 30;
  return 34 + 30 * (d - 1) + (to > from ? 0 : REVERSE_EXTRA);
}

function strokeWidth(packets: number): number {
  return Math.min(8, 1.5 + Math.log10(1 + packets) * 1.5);
}

function linkPath(
  l: LinkView,
  from: number,
  to: number,
  top: number,
  label: boolean,
): SafeHtml {
  const cx = (i: number) => MARGIN + i * (COL_W + GAP) + COL_W / 2;
  // Opposite directions of one pair get different heights and anchors so both stay visible.
  const forward = to > from;
  const rise = riseOf(from, to);
  // Leave 20 px right of the source centre, arrive 20 px left of the destination centre:
  // the taller reverse arc then spans the forward one and the two never cross.
  const x1 = cx(from) + 20;
  const x2 = cx(to) - 20;
  const sev = l.severity ?? "none";
  const title =
    `${l.src} → ${l.dst}: ${count(l.packets)} packets (${count(l.bumPackets)} BUM), ${
      count(l.bytes)
    } bytes, ${l.flows} flows, VNI ${l.vnis.join(", ")}` +
    (l.severity ? `; worst finding: ${l.severity}` : "");
  if (from === to) {
    // Traffic a VTEP sent to itself: a small loop above its box.
    const x = cx(from);
    return html`
      <g class="link sev-${sev}" data-src="${l.src}" data-dst="${l.dst}">
        <title>${title}</title>
        <path
          d="M ${x - 12} ${top} C ${x - 30} ${top - 40}, ${x + 30} ${top - 40}, ${x + 12} ${top}"
          stroke-width="${strokeWidth(l.packets)}" marker-end="url(#arrow-${sev})" />
      </g>
    `;
  }
  const mid = (x1 + x2) / 2;
  const apex = top - rise;
  const text = label
    ? html`
      <text class="link-label" x="${mid}" y="${forward ? apex + 14 : apex - 6}"
        text-anchor="middle">${count(l.packets)} pkts · VNI ${clip(l.vnis.join(" "), 24)}</text>
    `
    : null;
  return html`
    <g class="link sev-${sev}" data-src="${l.src}"
      data-dst="${l.dst}"><title>${title}</title>
    <path d="M ${x1} ${top} Q ${mid} ${top - 2 * rise} ${x2} ${top}" stroke-width="${strokeWidth(
      l.packets,
    )}" marker-end="url(#arrow-${sev})"/>${text}</g>
  `;
}

const MARKERS = ["error", "warning", "info", "none"].map((sev) =>
  html`
    <marker id="arrow-${sev}" class="sev-${sev}" viewBox="0 0 10 10" refX="8" refY="5"
      markerWidth="4" markerHeight="4" orient="auto-start-reverse">
      <path d="M 0 0 L 10 5 L 0 10 z" />
    </marker>
  `
);

/** The diagram section's SVG, or a sentence when the report has no VTEP at all. */
export function renderFabricSvg(model: FabricModel): SafeHtml {
  if (model.vteps.length === 0) {
    return html`<p class="empty">No VTEPs: the capture holds no EVPN routes and no VXLAN traffic.</p>`;
  }
  const vteps = model.vteps.slice(0, DIAGRAM_LIMITS.vteps);
  const index = new Map(vteps.map((v, i) => [v.address, i]));
  const links = model.links.filter((l) => index.has(l.src) && index.has(l.dst));
  const maxRise = Math.max(0, ...links.map((l) => riseOf(index.get(l.src)!, index.get(l.dst)!)));
  const top = MARGIN + (links.length ? maxRise + 22 : 0);
  const width = 2 * MARGIN + vteps.length * COL_W + (vteps.length - 1) * GAP;
  const height = top + Math.max(...vteps.map(boxHeight)) + MARGIN;
  const boxes = vteps.map((v, i) => vtepBox(v, MARGIN + i * (COL_W + GAP), top));
  const label = links.length <= DIAGRAM_LIMITS.labels;
  // Heavier links first, so thin ones are drawn on top and stay visible.
  const ordered = [...links].sort((a, b) => b.packets - a.packets);
  const arcs = ordered.map((l) => linkPath(l, index.get(l.src)!, index.get(l.dst)!, top, label));
  const note = model.vteps.length > vteps.length
    ? html`<p class="note">${
      model.vteps.length - vteps.length
    } more VTEPs not drawn (see the JSON report).</p>`
    : null;
  return html`
    <div class="scroll">
      <svg id="fabric" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"
        viewBox="0 0 ${width} ${height}" role="img"
        aria-label="VTEPs, VNIs, endpoints and VXLAN traffic">
        <defs>${MARKERS}</defs>
        <g class="links">${arcs}</g>
        <g class="vteps">${boxes}</g>
      </svg>
    </div>${note}
  `;
}
