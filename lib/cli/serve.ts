/**
 * `bagpipe-cni serve`: the node agent, run by the DaemonSet next to bagpipe-bgp. Serves
 * Prometheus metrics (`/metrics`), health and readiness (`/healthz`, `/readyz`), and a live page of the node
 * (`/`). Read-only; listens on loopback unless told otherwise.
 */
import { parseCliArgs } from "./args.ts";
import { agentApp } from "../agent/app.ts";
import { NodeAgent } from "../agent/node_agent.ts";
import { DEFAULT_BAGPIPE_URL, DEFAULT_STATE_DIR } from "../node_check/check_node.ts";

/** The agent's default address: loopback only (the DaemonSet sets its own). */
export const DEFAULT_LISTEN = "127.0.0.1:9483";

const USAGE = `usage: bagpipe-cni serve [--listen ADDR:PORT] [--bagpipe-url URL] [--state-dir DIR]
                         [--log-file FILE] [--refresh-ms N] [--timeout-ms N]
  --listen ADDR:PORT  where to listen (default ${DEFAULT_LISTEN}; [::]:PORT or 0.0.0.0:PORT for all)
  --bagpipe-url URL   the node daemon's REST API (default ${DEFAULT_BAGPIPE_URL})
  --state-dir DIR     the plugin's attachment records (default ${DEFAULT_STATE_DIR})
  --log-file FILE     the plugin's JSON log (default /var/log/bagpipe-cni.log)
  --refresh-ms N      how often the daemon is pinged and the log read (default 2000)
  --timeout-ms N      time budget of each call to the daemon (default 3000)`;

/** Parses "host:port", "[v6]:port" or ":port". */
export function parseListen(text: string): { hostname: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\[\]]*)):(\d{1,5})$/.exec(text);
  const port = Number(m?.[3]);
  if (!m || port < 1 || port > 65535) {
    throw new Error(`--listen "${text}" is not ADDRESS:PORT (e.g. 127.0.0.1:9483)`);
  }
  return { hostname: m[1] ?? (m[2] || "0.0.0.0"), port };
}

/** Runs the agent until SIGTERM/SIGINT; returns the exit code. */
export async function serveCommand(argv: string[]): Promise<number> {
  let opts;
  try {
    const { values } = await parseCliArgs({
      args: argv,
      options: {
        listen: { type: "string", default: DEFAULT_LISTEN },
        "bagpipe-url": { type: "string", default: DEFAULT_BAGPIPE_URL },
        "state-dir": { type: "string", default: DEFAULT_STATE_DIR },
        "log-file": { type: "string", default: "/var/log/bagpipe-cni.log" },
        "refresh-ms": { type: "string", default: "2000" },
        "timeout-ms": { type: "string", default: "3000" },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
    });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    const number = (name: "refresh-ms" | "timeout-ms") => {
      const n = Number(values[name]);
      if (!/^\d+$/.test(values[name]!) || n < 100) {
        throw new Error(`--${name} "${values[name]}" is not a number of milliseconds ≥ 100`);
      }
      return n;
    };
    new URL(values["bagpipe-url"]!);
    opts = {
      listen: parseListen(values.listen!),
      bagpipeUrl: values["bagpipe-url"]!,
      stateDir: values["state-dir"]!,
      logFile: values["log-file"]!,
      refreshMs: number("refresh-ms"),
      timeoutMs: number("timeout-ms"),
    };
  } catch (e) {
    console.error(`serve: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const agent = new NodeAgent({
    bagpipeUrl: opts.bagpipeUrl,
    stateDir: opts.stateDir,
    logFile: opts.logFile,
    timeoutMs: opts.timeoutMs,
    minAgeMs: 1000,
  });
  const app = agentApp(agent, `bagpipe-cni node ${Deno.hostname()}`);
  const stopped = Promise.withResolvers<void>();
  let server: Deno.HttpServer;
  try {
    server = Deno.serve({
      hostname: opts.listen.hostname,
      port: opts.listen.port,
      onListen: ({ hostname, port }) =>
        console.error(
          `serve: listening on http://${
            hostname.includes(":") ? `[${hostname}]` : hostname
          }:${port}/ (daemon ${opts.bagpipeUrl}, records ${opts.stateDir}, log ${opts.logFile})`,
        ),
      onError: (e) =>
        new Response(`the agent failed to answer: ${(e as Error).message}\n`, { status: 500 }),
    }, app.fetch);
  } catch (e) {
    console.error(
      `serve: cannot listen on ${opts.listen.hostname}:${opts.listen.port}: ${
        (e as Error).message
      }`,
    );
    return 2;
  }
  agent.startBackground(opts.refreshMs);
  await agent.refresh();
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    Deno.addSignalListener(signal, () => stopped.resolve());
  }
  await stopped.promise;
  agent.stop();
  await server.shutdown();
  console.error("serve: stopped");
  return 0;
}
