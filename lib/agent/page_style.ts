/** The node page's stylesheet (inline, under the page's nonce). */
export const PAGE_STYLE = `
:root { --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; --line: #d0d7de; --muted: #57606a; }
* { box-sizing: border-box; }
body { font: 14px/1.4 system-ui, sans-serif; margin: 0 auto; max-width: 1200px; padding: 1rem; color: #1f2328; }
h1 { font-size: 1.3rem; margin: 0 0 .3rem; }
h2 { font-size: 1.05rem; margin: 1.4rem 0 .4rem; }
.note { color: var(--muted); }
.badge { display: inline-block; padding: 0 .5rem; border-radius: 1rem; color: #fff; font-weight: 600; }
.badge.ok { background: var(--ok); } .badge.bad { background: var(--bad); }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .2rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #f6f8fa; }
td.mono, span.mono { font-family: ui-monospace, monospace; font-size: 13px; }
tr.finding td:first-child { color: var(--bad); font-weight: 600; }
.empty { color: var(--muted); font-style: italic; }
.error { color: var(--bad); }
`;
