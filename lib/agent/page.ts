/**
 * The node page (`GET /`): a self-contained HTML shell whose inline script fills and refreshes
 * it from `/api/node`. The verify report's page shell and strict policy
 * (lib/verify/html/page_shell.ts) plus `connect-src 'self'` for the refresh.
 */
import { html } from "../verify/html/escape.ts";
import { renderPage } from "../verify/html/page_shell.ts";
import { PAGE_SCRIPT } from "./page_script.ts";
import { PAGE_STYLE } from "./page_style.ts";

/** The page and the Content-Security-Policy to send with it. */
export interface NodePage {
  body: string;
  csp: string;
}

/** Renders the page shell (a fresh nonce each time). */
export function renderNodePage(title: string): NodePage {
  const section = (id: string, heading: string) =>
    html`
      <section>
        <h2>${heading}</h2>
        <div id="${id}">
          <p class="empty">loading…</p>
        </div>
      </section>
    `;
  const body = html`
    <header>
      <h1>${title}</h1>
      <p id="health" class="note">loading…</p>
      <p id="daemon" class="note"></p>
      <p class="note"><span id="updated"></span> <span id="status" class="error"></span></p>
    </header>
    ${section("attachments", "Pods attached on this node")}
    ${section("drift", "Drift: kernel and records against the daemon")}
    ${section("instances", "VPN instances")}
    ${section("peers", "BGP peers")}
    ${section("routes", "EVPN routes")}
    <section>
      <h2>CNI requests</h2>
      <p id="log" class="note"></p>
      <div id="requests"></div>
    </section>
    <footer
      class="note">Read-only. Metrics: <a href="metrics">/metrics</a>, health: <a href="healthz">/healthz</a>, <a href="readyz">/readyz</a>, data: <a href="api/node">/api/node</a>.</footer>
  `;
  const page = renderPage({
    title,
    style: PAGE_STYLE,
    script: PAGE_SCRIPT,
    bodyAttributes: html`data-refreshes="0"`,
    body,
    extraPolicy: "connect-src 'self'",
  });
  return { body: page.html, csp: page.csp };
}
