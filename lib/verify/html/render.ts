/**
 * `bagpipe-cni verify FILE --html OUT`: the report as one self-contained HTML page — summary,
 * fabric diagram, timeline and findings. Inline CSS, JS and SVG only; a Content-Security-Policy
 * forbids every fetch, and capture strings are escaped everywhere (see escape.ts).
 *
 * @example
 * ```ts
 * const page = renderHtmlReport(report, { source: "capture.pcap" });
 * ```
 */
import type { VerifyReport } from "../../../wasm/mod.ts";
import { html, type SafeHtml } from "./escape.ts";
import { renderPage } from "./page_shell.ts";
import { buildFabricModel } from "./fabric_model.ts";
import { renderFabricSvg } from "./fabric_svg.ts";
import { renderFindings } from "./findings_table.ts";
import { SCRIPT } from "./script.ts";
import { STYLE } from "./style.ts";
import { renderSummary } from "./summary.ts";
import { renderTimeline } from "./timeline.ts";
import { renderWithdrawals } from "./withdrawals_table.ts";

/** Page options. */
export interface HtmlReportOptions {
  /** The capture's name as the user gave it, shown in the title. */
  source?: string;
}

function legend(): SafeHtml {
  return html`
    <ul class="legend">
      <li><span class="sw sev-none"></span>VXLAN traffic, no finding</li>
      <li><span class="sw sev-info"></span>worst finding: info</li>
      <li><span class="sw sev-warning"></span>warning</li>
      <li><span class="sw sev-error"></span>error</li>
      <li><span class="dot active"></span>endpoint advertised at the end</li>
      <li><span class="dot withdrawn"></span>withdrawn by the end</li>
      <li><span class="dot sev-warning"></span>a finding names this MAC</li>
    </ul>
  `;
}

function filters(): SafeHtml {
  const box = (sev: string) =>
    html`<label><input type="checkbox" data-severity-filter value="${sev}" checked> ${sev}</label>`;
  return html`
    <div class="filters"
      role="search"><input type="search" id="filter" placeholder="filter findings and events: VTEP, MAC, IP, kind…" aria-label="filter">
    ${["error", "warning", "info"].map(box)}<span id="filter-count" class="note"></span></div>
  `;
}

/** Renders the whole page for a validated report. */
export function renderHtmlReport(report: VerifyReport, options: HtmlReportOptions = {}): string {
  const title = options.source ? `bagpipe-cni verify: ${options.source}` : "bagpipe-cni verify";
  const model = buildFabricModel(report);
  const body = html`
    <header><h1>bagpipe-cni verify${options.source
      ? html`
        <span class="source">${options.source}</span>
      `
      : null}</h1>
    ${renderSummary(report)}</header>
    <section id="fabric-section"><h2>Fabric as the control plane advertised it</h2>
    <p class="note">One box per VTEP with the VNIs and MAC/IP endpoints it announced over BGP EVPN
    (withdrawn by the end of the capture: grey, hollow dot); arrows are VXLAN traffic between VTEPs, coloured by the worst
    finding on that path. Click a VTEP to filter the tables below.</p>
    ${renderFabricSvg(model)}${legend()}</section>
    ${filters()}
    <section id="timeline-section"><h2>Timeline</h2>${renderTimeline(report)}</section>
    <section id="withdrawals-section"><h2>Withdrawals (${report.summary
      .withdrawals})</h2>${renderWithdrawals(report)}</section>
    <section id="findings-section"><h2>Findings (${report.findings.length})</h2>${renderFindings(
      report,
    )}</section>
    <footer>Report schema ${report.schema}. The JSON report (--json) holds every field.</footer>
  `;
  return renderPage({
    title,
    style: STYLE,
    script: SCRIPT,
    bodyAttributes: html`data-schema="${report.schema}"`,
    body,
  }).html;
}
