/**
 * `bagpipe-cni verify --node [--bagpipe-url URL] [--state-dir DIR] [--json]`: on a node, holds
 * the kernel's fdb and neighbour entries and the plugin's attachment records against what the
 * node's bagpipe-bgp received and attached (lib/node_check).
 *
 * Exit codes: 0 consistent, 1 findings, 2 the check could not run (bad arguments, daemon
 * unreachable, `ip`/`bridge` failing).
 */
import { parseCliArgs } from "./args.ts";
import { checkNode, renderNodeReport } from "../node_check/mod.ts";

const USAGE = `usage: bagpipe-cni verify --node [--bagpipe-url URL] [--state-dir DIR] [--json]
  --bagpipe-url URL   the node daemon's REST API (default http://127.0.0.1:8082)
  --state-dir DIR     the plugin's attachment records (default /var/lib/cni/bagpipe)
  --timeout-ms N      time budget of each call to the daemon (default 5000)
  --json              print the report as JSON
exit: 0 consistent, 1 findings, 2 the check could not run`;

/** Runs the node check; returns the exit code. */
export async function verifyNodeCommand(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = await parseCliArgs({
      args: argv,
      options: {
        node: { type: "boolean", default: false },
        "bagpipe-url": { type: "string", default: "http://127.0.0.1:8082" },
        "state-dir": { type: "string", default: "/var/lib/cni/bagpipe" },
        "timeout-ms": { type: "string", default: "5000" },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
    }));
  } catch (e) {
    console.error(`verify --node: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const timeoutMs = Number(values["timeout-ms"]);
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
    console.error(
      `verify --node: --timeout-ms "${values["timeout-ms"]}" is not a positive integer`,
    );
    return 2;
  }
  try {
    const report = await checkNode({
      bagpipeUrl: values["bagpipe-url"],
      stateDir: values["state-dir"],
      timeoutMs,
    });
    console.log(values.json ? JSON.stringify(report, null, 1) : renderNodeReport(report));
    return report.findings.length === 0 ? 0 : 1;
  } catch (e) {
    console.error(`verify --node: the node check could not run: ${(e as Error).message}`);
    return 2;
  }
}
