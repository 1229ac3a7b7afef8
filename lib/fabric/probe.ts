/**
 * Test servers and their client for pods, nodes and outside hosts, each inside its own network
 * namespace. Both are a few lines of Python run by `/usr/bin/python3 -c`: python3 is on every
 * node already (bagpipe-bgp is written in it), one program serves TCP (HTTP/1.0, so curl works
 * against it too) and UDP (a DNS-like request/answer) on several ports with a thread per port,
 * and the client reports a timeout, a refusal and an unreachable route apart, which busybox nc
 * does not. Every answer says who answered and which source address the server saw, so a check
 * can tell a masqueraded request from one that kept the pod's address.
 *
 * ```ts
 * const server = await startProbeServer({ netns: "n1-pod0", name: "web", tcp: [8080], udp: [5353], logFile });
 * const answer = await probe("n2-pod1", "tcp", "10.27.1.5", 8080);
 * await server.stop();
 * ```
 * @module
 */
import { DaemonProcess } from "./daemon_process.ts";
import { execInNetns } from "./netns.ts";
import { pollUntil } from "./poll.ts";

/** The Python that runs the programs (Debian's; bagpipe-bgp depends on it). */
export const PYTHON = "/usr/bin/python3";

// argv: name, tcp ports (comma list), udp ports, request log file. Prints "ready" when bound.
const SERVER = `
import socket, sys, threading
name, log_file = sys.argv[1], sys.argv[4]
ports = lambda s: [int(p) for p in s.split(",") if p]
lock = threading.Lock()
def log(line):
    with lock, open(log_file, "a") as f:
        f.write(line + "\\n")
def answer(proto, port, peer, token):
    log("%s %d %s %s" % (proto, port, peer[0], token))
    return ("%s %s %s\\n" % (name, peer[0], token)).encode()
def handle(conn, peer, port):
    try:
        conn.settimeout(5)
        data = b""
        while b"\\n" not in data and len(data) < 4096:
            chunk = conn.recv(1024)
            if not chunk:
                break
            data += chunk
        line = data.split(b"\\n")[0].decode("utf-8", "replace").strip()
        token = line.split(" ")[1].lstrip("/") if line.startswith("GET ") and " " in line else line
        body = answer("tcp", port, peer, token)
        conn.sendall(b"HTTP/1.0 200 OK\\r\\nContent-Type: text/plain\\r\\nContent-Length: %d\\r\\n\\r\\n" % len(body) + body)
    except OSError:
        pass
    finally:
        conn.close()
def serve_tcp(sock, port):
    while True:
        conn, peer = sock.accept()
        threading.Thread(target=handle, args=(conn, peer, port), daemon=True).start()
def serve_udp(sock, port):
    while True:
        data, peer = sock.recvfrom(2048)
        sock.sendto(answer("udp", port, peer, data.decode("utf-8", "replace").strip()), peer)
threads = []
for port in ports(sys.argv[2]):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(64)
    threads.append(threading.Thread(target=serve_tcp, args=(s, port), daemon=True))
for port in ports(sys.argv[3]):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))
    threads.append(threading.Thread(target=serve_udp, args=(s, port), daemon=True))
for t in threads:
    t.start()
print("ready", flush=True)
threading.Event().wait()
`;

// argv: timeout seconds, then per request: tcp|udp, host, port, token. Requests run at once, a
// thread each; one line per request, in order: "answer <server> <seen source> <token> <local
// address>", or "timeout", or "error <errno name>".
const CLIENT = `
import errno, socket, sys, threading
timeout = float(sys.argv[1])
args = sys.argv[2:]
requests = [args[i:i + 4] for i in range(0, len(args), 4)]
results = [""] * len(requests)
def ask(i, proto, host, port, token):
    try:
        if proto == "tcp":
            s = socket.create_connection((host, int(port)), timeout=timeout)
            s.sendall(("GET /%s HTTP/1.0\\r\\n\\r\\n" % token).encode())
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            body = data.split(b"\\r\\n\\r\\n", 1)[-1]
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(timeout)
            s.connect((host, int(port)))
            s.send(token.encode())
            body = s.recv(2048)
        results[i] = "answer %s %s" % (body.decode("utf-8", "replace").strip(), s.getsockname()[0])
    except socket.timeout:
        results[i] = "timeout"
    except OSError as e:
        results[i] = "error %s" % errno.errorcode.get(e.errno, str(e.errno))
threads = [threading.Thread(target=ask, args=(i, *r)) for i, r in enumerate(requests)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("\\n".join(results))
`;

/** What a probe got: an answer, or why not. */
export type ProbeResult =
  | {
    ok: true;
    /** The name of the server that answered. */
    server: string;
    /** The source address the server saw. */
    seenSource: string;
    /** The client's own address for the connection. */
    localAddress: string;
    token: string;
  }
  | {
    ok: false;
    /** "timeout", or an errno name: ECONNREFUSED, ENETUNREACH, EHOSTUNREACH, ... */
    failure: string;
    token: string;
  };

/** Transport protocol of a probe. */
export type Protocol = "tcp" | "udp";

/** One request of a batch. */
export interface ProbeRequest {
  protocol: Protocol;
  host: string;
  port: number;
  /** Unique per request by default; the server's log tells whether this request reached it. */
  token?: string;
}

/**
 * One request from inside netns to host:port, answered or failed within timeoutMs. The token
 * (unique by default) lets the server's log tell whether this very request reached it.
 */
export async function probe(
  netns: string,
  protocol: Protocol,
  host: string,
  port: number,
  opts: { timeoutMs?: number; token?: string } = {},
): Promise<ProbeResult> {
  const [result] = await probeMany(netns, [{ protocol, host, port, token: opts.token }], opts);
  return result!;
}

/**
 * Several requests from one netns at once, by one client process (on a loaded machine starting
 * Python costs more than the requests), each answered or failed within timeoutMs.
 */
export async function probeMany(
  netns: string,
  requests: ProbeRequest[],
  opts: { timeoutMs?: number } = {},
): Promise<ProbeResult[]> {
  const tokens = requests.map((r) => r.token ?? crypto.randomUUID().slice(0, 8));
  const seconds = String((opts.timeoutMs ?? 2000) / 1000);
  const out = await execInNetns(netns, [
    PYTHON,
    "-c",
    CLIENT,
    seconds,
    ...requests.flatMap((r, i) => [r.protocol, r.host, String(r.port), tokens[i]!]),
  ]);
  const lines = out.stdout.split("\n");
  return requests.map((_, i) => _result(lines[i]?.trim() ?? "", tokens[i]!, out));
}

function _result(
  line: string,
  token: string,
  out: { code: number; stderr: string },
): ProbeResult {
  const answer = /^answer (\S+) (\S+) (\S+) (\S+)$/.exec(line);
  if (answer) {
    return {
      ok: true,
      server: answer[1]!,
      seenSource: answer[2]!,
      token: answer[3]!,
      localAddress: answer[4]!,
    };
  }
  const failure = line === "timeout"
    ? "timeout"
    : line.startsWith("error ")
    ? line.slice(6)
    : `exit ${out.code}: ${(out.stderr.trim() || line || "no output").slice(-300)}`;
  return { ok: false, failure, token };
}

/** A running probe server. */
export interface ProbeServer {
  readonly name: string;
  readonly netns: string;
  readonly pid: number;
  /** The requests it logged ("tcp 8080 10.27.1.5 <token>"), those with token if given. */
  requests(token?: string): Promise<string[]>;
  stop(): Promise<void>;
}

/** Where and what a probe server serves. */
export interface ProbeServerSpec {
  netns: string;
  /** What it answers as (no spaces). */
  name: string;
  tcp?: number[];
  udp?: number[];
  /** Its request log; the path also marks its command line (sweeps find it by its directory). */
  logFile: string;
  readyTimeoutMs?: number;
}

/**
 * Starts a probe server in a netns and waits until all its ports are bound.
 * @throws naming the server and netns, with its output, when it does not get ready.
 */
export async function startProbeServer(spec: ProbeServerSpec): Promise<ProbeServer> {
  if (!/^[\w.:-]+$/.test(spec.name)) throw new Error(`probe server name "${spec.name}" has spaces`);
  const outputFile = `${spec.logFile}.out`;
  await Deno.writeTextFile(spec.logFile, "");
  const daemon = new DaemonProcess({
    label: `probe server ${spec.name} in ${spec.netns}`,
    netns: spec.netns,
    argv: [
      PYTHON,
      "-c",
      SERVER,
      spec.name,
      (spec.tcp ?? []).join(","),
      (spec.udp ?? []).join(","),
      spec.logFile,
    ],
    outputFile,
  });
  const output = () => Deno.readTextFile(outputFile).catch(() => "");
  try {
    await pollUntil({
      what: `probe server ${spec.name} in ${spec.netns} to bind tcp ${spec.tcp ?? []} udp ${
        spec.udp ?? []
      }`,
      timeoutMs: spec.readyTimeoutMs ?? 15_000,
      explain: async () => `its output: ${(await output()).trim().slice(-1000)}`,
    }, async () => {
      if (daemon.exit) throw new Error(`it exited with ${daemon.exit.code}`);
      return (await output()).includes("ready") ? true : undefined;
    });
  } catch (error) {
    await daemon.stop(1000);
    throw error;
  }
  return {
    name: spec.name,
    netns: spec.netns,
    pid: daemon.pid,
    async requests(token) {
      const text = await Deno.readTextFile(spec.logFile).catch(() => "");
      return text.split("\n").filter((l) => l && (token === undefined || l.endsWith(` ${token}`)));
    },
    async stop() {
      await daemon.stop(2000);
    },
  };
}
