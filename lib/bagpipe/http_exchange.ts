/**
 * One HTTP/1.1 request and its answer over a plain `Deno.connect` socket: what the plugin needs to
 * talk to its node's daemon, and nothing more. A fresh runtime's first `fetch` costs ~20 ms of
 * client set-up (measured: first fetch 19–26 ms, first exchange over Deno.connect 3–5 ms, against
 * the same wsgiref server); a plugin process makes one or two requests and exits, so it keeps
 * none of what fetch sets up.
 */

/** One request to send. */
export interface HttpRequest {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body?: string;
  /** Aborting it closes the connection; the exchange then rejects. */
  signal: AbortSignal;
}

/** The status line and the one header the client reads. */
export interface HttpHead {
  status: number;
  contentType: string | null;
}

/**
 * Sends a request and returns the answer's body as text. `onHead` is called once the status line
 * and headers are in, so a failure after it is known to be a failure while reading the body.
 */
export type Exchange = (
  request: HttpRequest,
  onHead: (head: HttpHead) => void,
  maxBodyBytes: number,
) => Promise<string>;

/** The answer's body was readable but larger than allowed. */
export class BodyTooLarge extends Error {}

const encoder = new TextEncoder();
const HEAD_END = [13, 10, 13, 10];
/** Largest status line plus headers accepted (the daemon sends ~150 bytes). */
const MAX_HEAD_BYTES = 64 * 1024;

/** {@link Exchange} over `Deno.connect` (`Deno.connectTls` for https), one connection per call. */
export const socketExchange: Exchange = async (request, onHead, maxBodyBytes) => {
  const { url, signal } = request;
  const tls = url.protocol === "https:";
  const options = {
    hostname: url.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: Number(url.port || (tls ? 443 : 80)),
  };
  const connecting: Promise<Deno.Conn> = tls ? Deno.connectTls(options) : Deno.connect(options);
  const conn = await _untilAborted(connecting, signal, (late) => late.close());
  const close = () => {
    try {
      conn.close();
    } catch {
      // already closed
    }
  };
  signal.addEventListener("abort", close, { once: true });
  try {
    await _writeAll(conn, encoder.encode(_requestText(request)));
    const reader = new _Reader(conn, maxBodyBytes + MAX_HEAD_BYTES);
    const headEnd = await reader.until((bytes) => _indexOf(bytes, HEAD_END), MAX_HEAD_BYTES);
    if (headEnd === undefined) {
      throw new Error(
        reader.length === 0
          ? "connection closed before any answer"
          : "connection closed in the middle of the answer's headers",
      );
    }
    const head = _parseHead(new TextDecoder().decode(reader.bytes.subarray(0, headEnd)));
    onHead({ status: head.status, contentType: head.headers.get("content-type") ?? null });
    // 204 and 304 have no body, whatever the headers say.
    const body = head.status === 204 || head.status === 304
      ? new Uint8Array()
      : await _readBody(reader, headEnd + 4, head.headers, maxBodyBytes);
    return new TextDecoder().decode(body);
  } finally {
    signal.removeEventListener("abort", close);
    close();
  }
};

function _requestText(request: HttpRequest): string {
  const { method, url, headers, body } = request;
  const lines = [`${method} ${url.pathname}${url.search} HTTP/1.1`, `Host: ${url.host}`];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  if (body !== undefined) lines.push(`Content-Length: ${encoder.encode(body).byteLength}`);
  lines.push("Connection: close", "", body ?? "");
  return lines.join("\r\n");
}

/** Resolves like `promise`, or rejects when the signal aborts first (a late result is disposed). */
function _untilAborted<T>(
  promise: Promise<T>,
  signal: AbortSignal,
  dispose: (late: T) => void,
): Promise<T> {
  if (signal.aborted) {
    promise.then(dispose, () => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      promise.then(dispose, () => {});
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

async function _writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let written = 0; written < bytes.byteLength;) {
    written += await conn.write(bytes.subarray(written));
  }
}

/** Accumulates what the connection sends, up to a limit. */
class _Reader {
  #conn: Deno.Conn;
  #limit: number;
  #buffer = new Uint8Array(4096);
  length = 0;
  eof = false;

  constructor(conn: Deno.Conn, limit: number) {
    this.#conn = conn;
    this.#limit = limit;
  }

  get bytes(): Uint8Array {
    return this.#buffer.subarray(0, this.length);
  }

  /** Reads once more; false at the end of the stream. */
  async more(): Promise<boolean> {
    if (this.eof) return false;
    if (this.length === this.#buffer.byteLength) {
      if (this.length >= this.#limit) throw new BodyTooLarge(`answer exceeds ${this.#limit} bytes`);
      const grown = new Uint8Array(Math.min(this.#buffer.byteLength * 2, this.#limit));
      grown.set(this.#buffer);
      this.#buffer = grown;
    }
    const count = await this.#conn.read(this.#buffer.subarray(this.length));
    if (count === null) {
      this.eof = true;
      return false;
    }
    this.length += count;
    return true;
  }

  /** Reads until `find` gives an index, or the stream ends (undefined) or `within` bytes pass. */
  async until(find: (bytes: Uint8Array) => number, within: number): Promise<number | undefined> {
    for (;;) {
      const found = find(this.bytes);
      if (found >= 0) return found;
      if (this.length > within) throw new BodyTooLarge(`answer headers exceed ${within} bytes`);
      if (!(await this.more())) return undefined;
    }
  }
}

function _indexOf(bytes: Uint8Array, needle: number[], from = 0): number {
  outer: for (let i = from; i <= bytes.byteLength - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) if (bytes[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

function _parseHead(text: string): { status: number; headers: Map<string, string> } {
  const [statusLine = "", ...lines] = text.split("\r\n");
  const match = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(statusLine);
  if (!match) throw new Error(`not an HTTP answer: ${JSON.stringify(statusLine.slice(0, 80))}`);
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon > 0) {
      headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
  }
  return { status: Number(match[1]), headers };
}

/** The body after the head: chunked, Content-Length, or up to the end of the stream. */
async function _readBody(
  reader: _Reader,
  start: number,
  headers: Map<string, string>,
  maxBytes: number,
): Promise<Uint8Array> {
  const lost = () => new Error("connection closed before the end of the answer's body");
  if (headers.get("transfer-encoding")?.toLowerCase().includes("chunked")) {
    return await _readChunked(reader, start, maxBytes, lost);
  }
  const declared = headers.get("content-length");
  if (declared !== undefined) {
    const length = Number(declared);
    if (!Number.isSafeInteger(length) || length < 0) {
      throw new Error(`invalid Content-Length ${JSON.stringify(declared)}`);
    }
    if (length > maxBytes) throw new BodyTooLarge(`body exceeds ${maxBytes} bytes`);
    while (reader.length - start < length) if (!(await reader.more())) throw lost();
    return reader.bytes.slice(start, start + length);
  }
  while (await reader.more()) {
    if (reader.length - start > maxBytes) throw new BodyTooLarge(`body exceeds ${maxBytes} bytes`);
  }
  return reader.bytes.slice(start);
}

async function _readChunked(
  reader: _Reader,
  start: number,
  maxBytes: number,
  lost: () => Error,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0, at = start;
  for (;;) {
    const lineEnd = await reader.until((bytes) => _indexOf(bytes, [13, 10], at), Infinity);
    if (lineEnd === undefined) throw lost();
    const sizeText = new TextDecoder().decode(reader.bytes.subarray(at, lineEnd)).split(";")[0]!;
    const size = parseInt(sizeText.trim(), 16);
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new Error(`invalid chunk size ${JSON.stringify(sizeText)}`);
    }
    at = lineEnd + 2;
    if (size === 0) break; // trailers, if any, are not read: the connection closes after
    total += size;
    if (total > maxBytes) throw new BodyTooLarge(`body exceeds ${maxBytes} bytes`);
    while (reader.length < at + size + 2) if (!(await reader.more())) throw lost();
    parts.push(reader.bytes.slice(at, at + size));
    at += size + 2;
  }
  const body = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    body.set(part, offset);
    offset += part.byteLength;
  }
  return body;
}
