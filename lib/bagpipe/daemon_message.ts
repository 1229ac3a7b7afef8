/** Longest excerpt of a daemon body quoted in an error message. */
export const EXCERPT_MAX_CHARS = 240;

/**
 * Extracts the daemon's own message from an error answer.
 *
 * bagpipe-bgp (pecan/webob) answers `{"code","title","description"}` when asked for JSON,
 * an HTML page when the request accepts anything, and plain text when it sends no Accept
 * header; anything else (a proxy, another server) is quoted as a short cleaned excerpt.
 *
 * @example
 * ```ts
 * daemonMessage('{"code": 400, "title": "Bad Request", "description": "API error: x"}');
 * // => "API error: x"
 * ```
 */
export function daemonMessage(body: string, contentType: string | null): string {
  const fromJson = _messageFromJson(body);
  if (fromJson !== undefined) return fromJson;
  const looksHtml = /html/i.test(contentType ?? "") || /^\s*</.test(body);
  return excerpt(looksHtml ? htmlToText(body) : body);
}

/** Collapses whitespace and shortens text to {@link EXCERPT_MAX_CHARS}; marks empty text. */
export function excerpt(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  if (flat === "") return "(empty body)";
  if (flat.length <= EXCERPT_MAX_CHARS) return flat;
  return `${flat.slice(0, EXCERPT_MAX_CHARS - 1)}…`;
}

/** Visible text of an HTML page: head, scripts and tags removed, common entities decoded. */
export function htmlToText(html: string): string {
  return html
    .replace(/<(head|script|style)\b[\s\S]*?<\/\1\s*>/gi, " ")
    .replace(/<[^>]*>/g, " ")
    .replace(
      /&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi,
      (entity, name: string) => _decodeEntity(entity, name),
    );
}

function _messageFromJson(body: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return undefined;
  const { description, title } = parsed as Record<string, unknown>;
  // The daemon sends description null for routes it does not know; the title still helps.
  for (const candidate of [description, title]) {
    if (typeof candidate === "string" && candidate.trim() !== "") return excerpt(candidate);
  }
  return undefined;
}

const _NAMED_ENTITIES: Record<string, string> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
  nbsp: " ",
};

function _decodeEntity(entity: string, name: string): string {
  const lower = name.toLowerCase();
  if (lower.startsWith("#")) {
    const code = lower.startsWith("#x")
      ? Number.parseInt(lower.slice(2), 16)
      : Number.parseInt(lower.slice(1), 10);
    return Number.isInteger(code) && code > 0 && code <= 0x10ffff
      ? String.fromCodePoint(code)
      : entity;
  }
  return _NAMED_ENTITIES[lower] ?? entity;
}
