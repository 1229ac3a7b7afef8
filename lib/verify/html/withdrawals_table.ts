/**
 * The withdrawals: one row per withdrawn EVPN NLRI and session (its first and last withdrawal
 * and how many) with what it named (type, RD, Ethernet tag, MAC/IP or originator) and, when the
 * route it withdrew was known (advertised earlier in the capture or in a `--rib` snapshot), that
 * route's VTEP and VNI.
 */
import type { VerifyReport } from "../../../wasm/mod.ts";
import { withdrawalName, withdrawalPackets } from "../report_text.ts";
import { html, type SafeHtml } from "./escape.ts";
import { count, isoTime, offset } from "./format.ts";

/** Rows rendered; the page says how many more the JSON report holds. */
export const WITHDRAWALS_LIMIT = 2000;

/** The withdrawals section's body: the table, or a sentence when there are none. */
export function renderWithdrawals(report: VerifyReport): SafeHtml {
  const list = report.withdrawals;
  if (list.length === 0) return html`<p class="empty">No route was withdrawn in the capture.</p>`;
  const rows = list.slice(0, WITHDRAWALS_LIMIT).map((w) => {
    const vteps = w.vtep === null ? "" : w.vtep;
    return html`
      <tr data-vteps="${vteps}" data-kind="withdrawal">
        <td class="num" title="${isoTime(w.time)} (${offset(report, w.time)})${w.count > 1
          ? ` .. ${isoTime(w.last_time)} (${offset(report, w.last_time)})`
          : ""}">${withdrawalPackets(w)}</td>
        <td class="num">#${w.session}</td>
        <td class="mono">${withdrawalName(w)}</td>
        <td class="mono">${w.vtep ?? "unknown"}</td>
        <td class="num">${w.vni ?? "unknown"}</td>
        <td>${w.matched
          ? "withdrawn by the session that held it"
          : w.route === null
          ? "announced before the capture (and in no snapshot)"
          : "not advertised by this session in the capture"}</td>
      </tr>
    `;
  });
  // Withdrawals, not rows: each row stands for `count` of them.
  const more = report.summary.withdrawals -
    list.slice(0, WITHDRAWALS_LIMIT).reduce((n, w) => n + w.count, 0);
  return html`
    <div class="table-wrap">
      <table id="withdrawals">
        <thead>
          <tr>
            <th>pkts</th>
            <th>session</th>
            <th>route (type, what, RD, tag)</th>
            <th>VTEP</th>
            <th>VNI</th>
            <th>note</th>
          </tr>
        </thead>
        <tbody>${rows}</tbody>
      </table>
    </div>${more > 0 ? html`<p class="note">${count(more)} more in the JSON report.</p>` : null}
  `;
}
