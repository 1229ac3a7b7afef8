/**
 * The one HTML page shell of verify's report and the node agent's page: a fresh nonce, a strict
 * Content-Security-Policy that lets only the page's own nonce'd style and script run, and the
 * head both pages need.
 */
import { html, type SafeHtml, trusted } from "./escape.ts";

/** What goes into a page. */
export interface PageParts {
  title: string;
  style: string;
  script: string;
  /** Attributes of <body>, already escaped (e.g. html`data-schema="${n}"`). */
  bodyAttributes: SafeHtml;
  body: SafeHtml;
  /** CSP directives beyond the strict base (the agent's page adds `connect-src 'self'`). */
  extraPolicy?: string;
}

/** A rendered page and the policy to also send as a header where the page is served. */
export interface Page {
  html: string;
  csp: string;
}

/** A fresh nonce per page: only our own <style> and <script> carry it, so injected ones never run. */
function nonce(): string {
  return btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
}

/** Renders the page. */
export function renderPage(parts: PageParts): Page {
  const n = nonce();
  const csp = [
    "default-src 'none'",
    `style-src 'nonce-${n}'`,
    `script-src 'nonce-${n}'`,
    ...(parts.extraPolicy ? [parts.extraPolicy] : []),
    "img-src data:",
    "base-uri 'none'",
    "form-action 'none'",
  ].join("; ");
  const page = html`
    <!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8">
        <meta http-equiv="Content-Security-Policy" content="${csp}">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>${parts.title}</title>
        <style nonce="${n}">${trusted(parts.style)}</style>
      </head>
      <body ${parts.bodyAttributes}>
    ${parts.body}
    <script nonce="${n}">${trusted(parts.script)}</script>
      </body>
    </html>
  `;
  return { html: page.value.trimStart(), csp };
}
