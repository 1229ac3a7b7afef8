/**
 * The node page (`GET /`): a self-contained HTML shell whose inline script fills and refreshes
 * it from `/api/node`. The verify report's strict policy (lib/verify/html/render.ts: nothing
 * but the page's own nonce'd style and script) plus `connect-src 'self'` for the refresh.
 */
import { html, trusted } from "../verify/html/escape.ts";
import { PAGE_SCRIPT } from "./page_script.ts";
import { PAGE_STYLE } from "./page_style.ts";

/** The page and the Content-Security-Policy to send with it. */
export interface NodePage {
  body: string;
  csp: string;
}

/** Renders the page shell with a fresh nonce. */
export function renderNodePage(title: string): NodePage {
  const nonce = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
  const csp = `default-src 'none'; style-src 'nonce-${nonce}'; script-src 'nonce-${nonce}'; ` +
    `connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'`;
  const section = (id: string, heading: string) =>
    html`
      <section>
        <h2>${heading}</h2>
        <div id="${id}">
          <p class="empty">loading…</p>
        </div>
      </section>
    `;
  const page = html`
    <!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8">
        <meta http-equiv="Content-Security-Policy" content="${csp}">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>${title}</title>
        <style nonce="${nonce}">${trusted(PAGE_STYLE)}</style>
      </head>
      <body data-refreshes="0">
    <header><h1>${title}</h1>
    <p id="health" class="note">loading…</p>
    <p id="daemon" class="note"></p>
    <p class="note"><span id="updated"></span> <span id="status" class="error"></span></p></header>
    ${section("attachments", "Pods attached on this node")}
    ${section("drift", "Drift: kernel and records against the daemon")}
    ${section("instances", "VPN instances")}
    ${section("peers", "BGP peers")}
    ${section("routes", "EVPN routes")}
    <section><h2>CNI requests</h2><p id="log" class="note"></p><div id="requests"></div></section>
    <footer class="note">Read-only. Metrics: <a href="metrics">/metrics</a>, health: <a href="healthz">/healthz</a>, data: <a href="api/node">/api/node</a>.</footer>
    <script nonce="${nonce}">${trusted(PAGE_SCRIPT)}</script>
      </body>
    </html>
  `;
  return { body: page.value, csp };
}
