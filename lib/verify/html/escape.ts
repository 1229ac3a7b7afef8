/**
 * HTML building with escaping by default: every value interpolated into `html` is escaped unless
 * it is already `SafeHtml`, so capture strings (untrusted) cannot add markup to the page.
 */

/** Markup that is already safe: built by `html` or wrapped by `trusted` from our own constants. */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

/** What `html` accepts in a `${}`: nested markup, lists of it, or plain values to escape. */
export type HtmlValue = SafeHtml | string | number | boolean | null | undefined | HtmlValue[];

const ENTITIES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Escapes text for element content and quoted attribute values alike. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c]);
}

function render(value: HtmlValue): string {
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return value.map(render).join("");
  if (value === null || value === undefined || value === false) return "";
  return escapeHtml(String(value));
}

/** Tagged template: literal parts are markup, interpolations are escaped (null/false vanish). */
export function html(parts: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = parts[0];
  for (let i = 0; i < values.length; i++) out += render(values[i]) + parts[i + 1];
  return new SafeHtml(out);
}

/** Marks one of our own constant strings (CSS, script) as markup; never pass capture data. */
export function trusted(markup: string): SafeHtml {
  return new SafeHtml(markup);
}
