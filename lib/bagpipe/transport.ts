import { BagpipeError, type BagpipeErrorContext } from "./errors.ts";
import { daemonMessage, excerpt } from "./daemon_message.ts";
import { BodyTooLarge, type Exchange } from "./http_exchange.ts";

/** Largest answer body read from the daemon; more is treated as a bad response. */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;

/** One HTTP exchange with the daemon. */
export interface DaemonCall {
  method: "GET" | "POST";
  /** Path below the base URL, without a leading slash, e.g. "attach_localport". */
  path: string;
  /** JSON-serialisable request body (POST only). */
  body?: unknown;
  /** Operation verb and object, for error messages. */
  operation: string;
  subject: string;
  /** Time budget for the whole exchange, body included. */
  timeoutMs: number;
}

/** A 2xx JSON answer: the body as text (for integers beyond 2^53) and decoded. */
export interface DaemonAnswer {
  status: number;
  text: string;
  json: unknown;
}

/** What failed errors say about a call: operation, object, and "METHOD URL". */
export function callContext(baseUrl: URL, call: DaemonCall): BagpipeErrorContext {
  return {
    operation: call.operation,
    subject: call.subject,
    request: `${call.method} ${new URL(call.path, baseUrl).href}`,
  };
}

/**
 * {@link Exchange} through a `fetch` function: for tests that serve a fake daemon in-process.
 * The plugin itself uses {@link socketExchange}.
 */
export function fetchExchange(fetchFn: typeof fetch): Exchange {
  return async (request, onHead, maxBodyBytes) => {
    const response = await fetchFn(request.url, {
      method: request.method,
      headers: request.headers,
      body: request.body,
      redirect: "manual",
      signal: request.signal,
    });
    onHead({ status: response.status, contentType: response.headers.get("content-type") });
    return await _readLimited(response, maxBodyBytes);
  };
}

/**
 * Sends one request to the daemon and returns its 2xx JSON answer.
 *
 * The timeout covers connecting, the headers and the body. Every failure is turned into a
 * {@link BagpipeError}: no socket, fetch or JSON exception escapes.
 *
 * @throws {BagpipeError} unreachable, timeout, rejected (4xx), server (5xx), bad-response.
 */
export async function callDaemon(
  exchange: Exchange,
  baseUrl: URL,
  call: DaemonCall,
): Promise<DaemonAnswer> {
  const url = new URL(call.path, baseUrl);
  const context = callContext(baseUrl, call);
  const signal = AbortSignal.timeout(call.timeoutMs);

  let status: number | undefined;
  let contentType: string | null = null;
  let body: string;
  try {
    body = await exchange(
      {
        method: call.method,
        url,
        headers: { "Accept": "application/json", "Content-Type": "application/json" },
        body: call.body === undefined ? undefined : JSON.stringify(call.body),
        signal,
      },
      (head) => {
        status = head.status;
        contentType = head.contentType;
      },
      MAX_BODY_BYTES,
    );
  } catch (error) {
    throw _transportError(error, signal, context, call.timeoutMs, status);
  }
  // Assigned by onHead before the exchange resolved.
  status = status!;

  if (status >= 400 && status < 500) {
    throw new BagpipeError("rejected", context, daemonMessage(body, contentType), { status });
  }
  if (status >= 500 && status < 600) {
    throw new BagpipeError("server", context, daemonMessage(body, contentType), { status });
  }
  if (status < 200 || status >= 300) {
    throw new BagpipeError(
      "bad-response",
      context,
      `status ${status} is not an answer the daemon gives: ${daemonMessage(body, contentType)}`,
      { status },
    );
  }
  if (_mediaType(contentType) !== "application/json") {
    throw new BagpipeError(
      "bad-response",
      context,
      `expected application/json, got ${JSON.stringify(contentType ?? "no content type")}: ` +
        excerpt(body),
      { status },
    );
  }
  try {
    return { status, text: body, json: JSON.parse(body) };
  } catch (error) {
    throw new BagpipeError("bad-response", context, `body is not JSON: ${excerpt(body)}`, {
      status,
      cause: error,
    });
  }
}

async function _readLimited(response: Response, maxBytes: number): Promise<string> {
  if (response.body === null) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) throw new BodyTooLarge(`body exceeds ${maxBytes} bytes`);
      chunks.push(value);
    }
  } finally {
    // Release the connection even when we stop reading early.
    await reader.cancel().catch(() => {});
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes);
}

function _transportError(
  error: unknown,
  signal: AbortSignal,
  context: BagpipeErrorContext,
  timeoutMs: number,
  status: number | undefined,
): BagpipeError {
  if (error instanceof BodyTooLarge) {
    return new BagpipeError("bad-response", context, error.message, { status, cause: error });
  }
  // Only our own timeout signal is passed to the exchange, so an aborted signal means a timeout.
  if (signal.aborted) {
    const phase = status === undefined ? "no answer" : "answer body incomplete";
    return new BagpipeError("timeout", context, `${phase} after ${timeoutMs} ms`, {
      status,
      cause: error,
    });
  }
  const phase = status === undefined ? "" : "connection lost while reading the answer: ";
  return new BagpipeError("unreachable", context, `${phase}${_errorChain(error)}`, {
    status,
    cause: error,
  });
}

/** "fetch failed: tcp connect error: Connection refused" from Deno's nested error causes. */
function _errorChain(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 4; depth++) {
    parts.push(current instanceof Error ? current.message : String(current));
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(": ");
}

function _mediaType(contentType: string | null): string | undefined {
  return contentType?.split(";")[0].trim().toLowerCase();
}
