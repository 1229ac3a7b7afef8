import { execInNetns } from "./netns.ts";

/** Which program makes HTTP requests inside a netns. */
export type HttpTool = "curl" | "python3";

/** An HTTP answer: body is the parsed JSON, or the text when it is not JSON. */
export interface HttpAnswer {
  status: number;
  body: unknown;
  /** The raw body; /ping's integer exceeds 2^53, so compare it as text. */
  text: string;
}

/** curl when it is installed (`dpkg -l curl`), else python3's urllib. */
export async function pickHttpTool(): Promise<HttpTool> {
  const query = new Deno.Command("dpkg-query", {
    args: ["-W", "-f=${Status}", "curl"],
    stdout: "piped",
    stderr: "null",
  });
  try {
    const { code, stdout } = await query.output();
    if (code === 0 && new TextDecoder().decode(stdout).endsWith("installed")) return "curl";
  } catch {
    // No dpkg: fall back to python3, which bagpipe-bgp needs anyway.
  }
  return "python3";
}

// Prints the body, then the status on a last line of its own; HTTP errors are answers too.
const PYTHON_CLIENT = `
import sys, urllib.request, urllib.error
method, url, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
data = sys.stdin.buffer.read() if sys.argv[4] == "body" else None
req = urllib.request.Request(url, data=data, method=method, headers={
    "Accept": "application/json", "Content-Type": "application/json"})
try:
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        status, body = resp.status, resp.read()
except urllib.error.HTTPError as err:
    status, body = err.code, err.read()
sys.stdout.buffer.write(body + b"\\n" + str(status).encode())
`;

/**
 * Makes an HTTP request from inside a netns (the daemons' APIs listen on its loopback).
 * @throws when no HTTP answer came (connection refused, timeout): says which netns and URL.
 */
export async function httpInNetns(
  tool: HttpTool,
  netns: string,
  method: string,
  url: string,
  body?: unknown,
  timeoutMs = 10_000,
): Promise<HttpAnswer> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const seconds = String(timeoutMs / 1000);
  const argv = tool === "curl"
    ? [
      "curl",
      "--silent",
      "--show-error",
      "--max-time",
      seconds,
      "--request",
      method,
      "--header",
      "Accept: application/json",
      "--header",
      "Content-Type: application/json",
      ...(payload === undefined ? [] : ["--data-binary", "@-"]),
      "--write-out",
      "\\n%{http_code}",
      url,
    ]
    : ["python3", "-c", PYTHON_CLIENT, method, url, seconds, payload === undefined ? "" : "body"];
  const result = await execInNetns(netns, argv, { stdin: payload });
  const cut = result.stdout.lastIndexOf("\n");
  const status = Number(result.stdout.slice(cut + 1));
  if (result.code !== 0 || cut < 0 || !Number.isInteger(status) || status === 0) {
    const why = (result.stderr.trim().split("\n").pop() ?? "") || `exit ${result.code}`;
    throw new Error(`${method} ${url} in netns "${netns}" got no HTTP answer: ${why}`);
  }
  const text = result.stdout.slice(0, cut);
  return { status, body: _parseJson(text), text };
}

function _parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
