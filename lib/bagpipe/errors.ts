/**
 * Why a call to the BaGPipe daemon failed:
 * - `unreachable`: no HTTP answer (connection refused, reset, closed before or while answering);
 * - `timeout`: no complete answer within the call's time budget;
 * - `rejected`: the daemon answered 4xx, or the client refused to send an invalid request
 *   (then `status` is undefined);
 * - `server`: the daemon answered 5xx;
 * - `bad-response`: an answer that is not what the daemon sends (unparsable or wrongly typed
 *   JSON, wrong content type, unexpected status).
 */
export type BagpipeFailure = "unreachable" | "timeout" | "rejected" | "server" | "bad-response";

/** What a failed call was doing, used to build the error message. */
export interface BagpipeErrorContext {
  /** Verb of the operation, e.g. "attach", "list ports". */
  operation: string;
  /** The object acted on, e.g. `MAC 52:54:00:aa:00:01 on port veth1 in VPN instance "net1"`. */
  subject: string;
  /** HTTP method and URL, e.g. "POST http://127.0.0.1:8082/attach_localport". */
  request: string;
}

/** A failed call to the BaGPipe daemon: what failed, on which object, and why. */
export class BagpipeError extends Error {
  override readonly name = "BagpipeError";
  /** Failure class, for callers that decide on retries or cleanup. */
  readonly failure: BagpipeFailure;
  /** Operation verb, e.g. "attach". */
  readonly operation: string;
  /** HTTP status of the daemon's answer, when there was one. */
  readonly status?: number;
  /** The daemon's own message, or a description of the transport problem. */
  readonly detail: string;

  constructor(
    failure: BagpipeFailure,
    context: BagpipeErrorContext,
    detail: string,
    options?: { status?: number; cause?: unknown },
  ) {
    super(
      `failed to ${context.operation} ${context.subject} (${context.request}): ` +
        `${_describeFailure(failure, options?.status)}: ${detail}`,
      { cause: options?.cause },
    );
    this.failure = failure;
    this.operation = context.operation;
    this.status = options?.status;
    this.detail = detail;
  }
}

function _describeFailure(failure: BagpipeFailure, status: number | undefined): string {
  const http = status === undefined ? "" : ` (HTTP ${status})`;
  switch (failure) {
    case "unreachable":
      return "daemon unreachable";
    case "timeout":
      return "daemon did not answer in time";
    case "rejected":
      return status === undefined ? "request not sent" : `daemon rejected the request${http}`;
    case "server":
      return `daemon failed${http}`;
    case "bad-response":
      return `unexpected answer${http}`;
  }
}
