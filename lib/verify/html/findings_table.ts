/**
 * The findings: a count per kind, then one table row per finding with kind, severity, VNI,
 * MACs, the inner IPs of the flow it was seen in, VTEPs, first/last packet, count and the
 * sentence that explains it.
 */
import type { VerifyFinding, VerifyReport } from "../../../wasm/mod.ts";
import { describeFinding, findingReceivers } from "../describe.ts";
import { html, type SafeHtml } from "./escape.ts";
import { count, isoTime, offset, SEVERITY_RANK } from "./format.ts";

/** Rows rendered; the page says how many more the JSON report holds. */
export const FINDINGS_LIMIT = 2000;

function pair(a: string | null, b: string | null): string {
  if (a === null && b === null) return "";
  return `${a ?? "?"} → ${b ?? "?"}`;
}

function kindCounts(findings: VerifyFinding[]): SafeHtml {
  const byKind = new Map<string, { severity: VerifyFinding["severity"]; n: number }>();
  for (const f of findings) {
    const k = byKind.get(f.kind) ?? { severity: f.severity, n: 0 };
    k.n += f.count;
    if (SEVERITY_RANK[f.severity] < SEVERITY_RANK[k.severity]) k.severity = f.severity;
    byKind.set(f.kind, k);
  }
  const chips = [...byKind].sort((a, b) =>
    SEVERITY_RANK[a[1].severity] - SEVERITY_RANK[b[1].severity] || b[1].n - a[1].n
  ).map(([kind, k]) =>
    html`<li class="chip sev-${k.severity}" data-kind="${kind}">${kind} <b>×${count(k.n)}</b></li>`
  );
  return html`<ul class="chips">${chips}</ul>`;
}

/** The findings section: per-kind counts and the table, or a sentence when there are none. */
export function renderFindings(report: VerifyReport): SafeHtml {
  const findings = report.findings;
  if (findings.length === 0) {
    return html`<p class="empty">No findings: the data plane matched the control plane.</p>`;
  }
  const flows = new Map(report.flows.map((f) => [f.id, f]));
  const sorted = [...findings].sort((a, b) =>
    SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] || a.first_packet - b.first_packet ||
    a.id - b.id
  );
  const rows = sorted.slice(0, FINDINGS_LIMIT).map((f) => {
    const flow = f.flow === null ? undefined : flows.get(f.flow);
    const ips = flow ? pair(flow.inner.src_ip, flow.inner.dst_ip) : "";
    const vteps = [f.src_vtep, f.dst_vtep, f.other_vtep].filter((v) => v !== null);
    const other = f.other_vtep === null
      ? null
      : html`<br><span class="other">other ${f.other_vtep}</span>`;
    return html`
      <tr class="sev-${f.severity}" data-finding="${f.id}" data-kind="${f.kind}"
        data-severity="${f.severity}" data-vteps="${vteps.join(" ")}">
        <td><span class="sev sev-${f.severity}">${f.severity}</span></td>
        <td class="mono kind">${f.kind}</td>
        <td class="num">${f.vni}</td>
        <td class="mono">${pair(f.src_mac, f.dst_mac)}</td>
        <td class="mono">${ips}</td>
        <td class="mono">${pair(f.src_vtep, findingReceivers(f))}${other}</td>
        <td class="num" title="${isoTime(f.first_time)} (${offset(report, f.first_time)})">${f
          .first_packet}</td>
        <td class="num" title="${isoTime(f.last_time)} (${offset(report, f.last_time)})">${f
          .last_packet}</td>
        <td class="num">${count(f.count)}</td>
        <td>${describeFinding(f)}</td>
      </tr>
    `;
  });
  const notes: string[] = [];
  if (sorted.length > FINDINGS_LIMIT) {
    notes.push(`${count(sorted.length - FINDINGS_LIMIT)} more findings in the JSON report.`);
  }
  if (report.limits.findings_dropped > 0) {
    notes.push(`The decoder dropped ${count(report.limits.findings_dropped)} findings (limit).`);
  }
  return html`
    ${kindCounts(findings)}
    <div class="table-wrap">
      <table id="findings">
        <thead>
          <tr>
            <th>severity</th>
            <th>kind</th>
            <th>VNI</th>
            <th>MACs (src → dst)</th>
            <th>IPs (inner)</th>
            <th>VTEPs (src → dst)</th>
            <th>first pkt</th>
            <th>last pkt</th>
            <th>count</th>
            <th>what it means</th>
          </tr>
        </thead>
        <tbody>${rows}</tbody>
      </table>
    </div>${notes.map((n) => html`<p class="note">${n}</p>`)}
  `;
}
