/**
 * A pull reader of JSON bytes: walks a document without building it, so a caller keeps only
 * the few values it needs (gobgp_scan.ts reads a 70 MB GoBGP table this way; `JSON.parse`
 * would first build every one of its millions of values). Strict: anything that is not JSON
 * is a `JsonSyntaxError`.
 */

/** The bytes are not JSON; the message says what was expected and at which byte. */
export class JsonSyntaxError extends Error {}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const MINUS = 0x2d;

const utf8 = new TextDecoder();

/** Strings up to this long are looked up in `#recent` (longer ones are sliced from the text
 * without a copy, or are rarely repeated). */
const SHORT = 16;
const RECENT = 256;

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** Cursor over one JSON document. */
export class JsonReader {
  pos = 0;

  /** While true, byte offsets are also `text`'s character offsets (no byte ≥ 0x80 yet). */
  #aligned = true;

  /**
   * @param bytes the document
   * @param text the same document decoded, when the caller has it: strings are then cut
   * out of it (a slice costs far less than building a string a character at a time).
   */
  constructor(readonly bytes: Uint8Array, readonly text?: string) {}

  fail(expected: string): never {
    const at = this.bytes[this.pos];
    const found = at === undefined ? "the end" : `'${String.fromCharCode(at)}'`;
    throw new JsonSyntaxError(`expected ${expected} at byte ${this.pos}, found ${found}`);
  }

  /** Skips white space; returns the next byte (-1 at the end). */
  peek(): number {
    const b = this.bytes;
    let p = this.pos;
    let c = b[p];
    while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = b[++p];
    this.pos = p;
    return c ?? -1;
  }

  expect(c: number, what: string): void {
    if (this.peek() !== c) this.fail(what);
    this.pos++;
  }

  /** Consumes `{` or `[`; true when the container is empty (its close consumed too). */
  open(open: number, close: number): boolean {
    this.expect(open, open === OPEN_OBJECT ? "'{'" : "'['");
    if (this.peek() !== close) return false;
    this.pos++;
    return true;
  }

  /** After a member: true at `,` (another follows), false at the container's close. */
  more(close: number): boolean {
    const c = this.peek();
    this.pos++;
    if (c === COMMA) return true;
    if (c === close) return false;
    this.pos--;
    return this.fail(`',' or '${String.fromCharCode(close)}'`);
  }

  /** True when the next value is a string whose bytes start with `prefix` (ASCII). */
  stringStartsWith(prefix: string): boolean {
    if (this.peek() !== QUOTE) return false;
    const b = this.bytes;
    for (let i = 0; i < prefix.length; i++) {
      if (b[this.pos + 1 + i] !== prefix.charCodeAt(i)) return false;
    }
    return true;
  }

  /**
   * Reads an object's key and returns its index in `names` (-1 when it is none of them),
   * comparing bytes: a table's millions of keys are never made into strings.
   */
  keyIndex(names: readonly Uint8Array[]): number {
    if (this.peek() !== QUOTE) this.fail("a string");
    const b = this.bytes;
    const start = this.pos + 1;
    let p = start;
    let c = b[p]!;
    while (c !== QUOTE && c !== BACKSLASH && c >= 0x20 && c < 0x80) c = b[++p]!;
    if (c !== QUOTE) {
      const k = this.string();
      return names.findIndex((n) => utf8.decode(n) === k);
    }
    this.pos = p + 1;
    const len = p - start;
    for (let i = 0; i < names.length; i++) {
      const n = names[i]!;
      if (n.length !== len) continue;
      let j = 0;
      while (j < len && n[j] === b[start + j]) j++;
      if (j === len) return i;
    }
    return -1;
  }

  /** Reads a string. */
  string(): string {
    if (this.peek() !== QUOTE) this.fail("a string");
    const b = this.bytes;
    const start = ++this.pos;
    let p = start;
    let c = b[p]!;
    while (c !== QUOTE && c !== BACKSLASH && c >= 0x20 && c < 0x80) c = b[++p]!;
    if (c === QUOTE) {
      this.pos = p + 1;
      if (p - start <= SHORT) return this.#short(start, p);
      if (this.text !== undefined && this.#aligned) return this.text.slice(start, p);
      let s = "";
      for (let i = start; i < p; i++) s += String.fromCharCode(b[i]!);
      return s;
    }
    // Escapes or UTF-8: found by the skip, decoded by the platform.
    this.pos = start - 1;
    this.skipString();
    try {
      return JSON.parse(utf8.decode(b.subarray(start - 1, this.pos)));
    } catch (e) {
      throw new JsonSyntaxError(`bad string at byte ${start - 1}: ${(e as Error).message}`);
    }
  }

  /** Recent short strings by a hash of their bytes: a table repeats its next hops, RDs'
   * admins and route targets in every route, and a hit makes no new string. */
  #recent: (string | undefined)[] = new Array(RECENT).fill(undefined);

  /** The ASCII string of `bytes[start, end)`, at most `SHORT` long. */
  #short(start: number, end: number): string {
    const b = this.bytes;
    let h = end - start;
    for (let i = start; i < end; i++) h = (h * 31 + b[i]!) | 0;
    const slot = h & (RECENT - 1);
    const hit = this.#recent[slot];
    if (hit !== undefined && hit.length === end - start) {
      let i = 0;
      while (i < hit.length && hit.charCodeAt(i) === b[start + i]) i++;
      if (i === hit.length) return hit;
    }
    const s = this.text !== undefined && this.#aligned
      ? this.text.slice(start, end)
      : String.fromCharCode.apply(null, b.subarray(start, end) as unknown as number[]);
    this.#recent[slot] = s;
    return s;
  }

  skipString(): void {
    if (this.peek() !== QUOTE) this.fail("a string");
    const b = this.bytes;
    let p = this.pos + 1;
    for (;;) {
      const c = b[p];
      if (c === QUOTE) break;
      if (c === undefined || c < 0x20) {
        this.pos = p;
        this.fail("the end of a string");
      }
      if (c >= 0x80) this.#aligned = false;
      if (c === BACKSLASH) {
        const e = b[p + 1];
        if (e === 0x75) {
          for (let i = 2; i < 6; i++) {
            const h = b[p + i] ?? 0;
            if (!(isDigit(h) || (h | 0x20) >= 0x61 && (h | 0x20) <= 0x66)) {
              this.pos = p + i;
              this.fail("a hex digit");
            }
          }
          p += 6;
          continue;
        }
        // " \ / b f n r t
        if (
          e !== QUOTE && e !== BACKSLASH && e !== 0x2f && e !== 0x62 && e !== 0x66 &&
          e !== 0x6e && e !== 0x72 && e !== 0x74
        ) {
          this.pos = p + 1;
          this.fail("an escape");
        }
        p += 2;
        continue;
      }
      p++;
    }
    this.pos = p + 1;
  }

  /** Reads a number as JSON writes them. */
  number(): number {
    const b = this.bytes;
    const start = this.pos;
    let p = start;
    if (b[p] === MINUS) p++;
    if (b[p] === 0x30) p++;
    else if (isDigit(b[p] ?? 0) && b[p] !== 0x30) { while (isDigit(b[p] ?? 0)) p++; }
    else {
      this.pos = p;
      this.fail("a number");
    }
    let integer = true;
    if (b[p] === 0x2e) {
      integer = false;
      if (!isDigit(b[++p] ?? 0)) {
        this.pos = p;
        this.fail("a digit");
      }
      while (isDigit(b[p] ?? 0)) p++;
    }
    if (b[p] === 0x65 || b[p] === 0x45) {
      integer = false;
      p++;
      if (b[p] === 0x2b || b[p] === MINUS) p++;
      if (!isDigit(b[p] ?? 0)) {
        this.pos = p;
        this.fail("a digit");
      }
      while (isDigit(b[p] ?? 0)) p++;
    }
    this.pos = p;
    if (integer && p - start <= 15) {
      let n = 0;
      for (let i = b[start] === MINUS ? start + 1 : start; i < p; i++) n = n * 10 + b[i]! - 0x30;
      return b[start] === MINUS ? -n : n;
    }
    return Number(String.fromCharCode.apply(null, b.subarray(start, p) as unknown as number[]));
  }

  #literal(text: string): void {
    for (let i = 0; i < text.length; i++) {
      if (this.bytes[this.pos + i] !== text.charCodeAt(i)) this.fail(`'${text}'`);
    }
    this.pos += text.length;
  }

  /** Reads `true` or `false`. */
  boolean(): boolean {
    const c = this.peek();
    if (c === 0x74) return this.#literal("true"), true;
    if (c !== 0x66) this.fail("true or false");
    this.#literal("false");
    return false;
  }

  /** Steps over the next value, checking it is JSON. */
  skip(): void {
    const c = this.peek();
    if (c === QUOTE) return this.skipString();
    if (c === OPEN_OBJECT) {
      if (this.open(OPEN_OBJECT, CLOSE_OBJECT)) return;
      do {
        this.skipString();
        this.expect(COLON, "':'");
        this.skip();
      } while (this.more(CLOSE_OBJECT));
      return;
    }
    if (c === OPEN_ARRAY) {
      if (this.open(OPEN_ARRAY, CLOSE_ARRAY)) return;
      do this.skip(); while (this.more(CLOSE_ARRAY));
      return;
    }
    if (c === 0x74) return this.#literal("true");
    if (c === 0x66) return this.#literal("false");
    if (c === 0x6e) return this.#literal("null");
    this.number();
  }

  /** Checks that nothing but white space follows the document. */
  end(): void {
    if (this.peek() !== -1) this.fail("the end of the document");
  }
}

/** Object keys as `keyIndex` compares them. */
export function keyNames(...names: string[]): Uint8Array[] {
  return names.map((n) => new TextEncoder().encode(n));
}

export const JSON_BYTES = {
  QUOTE,
  OPEN_OBJECT,
  CLOSE_OBJECT,
  OPEN_ARRAY,
  CLOSE_ARRAY,
  COLON,
} as const;
