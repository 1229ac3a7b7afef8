/**
 * The node check that `verify --live` runs once its capture ended (lib/node_check): the kernel's
 * fdb and neighbour entries and the plugin's records against the daemon's view.
 */
import { checkNode, type NodeCheckReport, type NodeFinding } from "../node_check/mod.ts";
import type { NodeCheck } from "./live.ts";

/**
 * True for an endpoint the daemon kept after a DEL while no longer advertising it: the stock
 * bagpipe-bgp 17 does that after every detach (bug B1). It forwards nothing, so live prints it
 * and does not count it as an error; `verify --node` and the agent still report it.
 */
export function isWithdrawnLeftover(finding: NodeFinding, report: NodeCheckReport): boolean {
  if (finding.kind !== "port_without_record") return false;
  const instance = report.daemon.instances.find((i) => i.id === finding.instance);
  return !instance?.advertised.some((r) => r.type === "mac_ip" && r.mac === finding.mac);
}

/** The node check for `--live`, reading the plugin's records from stateDir. */
export function liveNodeCheck(stateDir: string): NodeCheck {
  return async (bagpipeUrl) => {
    const report = await checkNode({ bagpipeUrl, stateDir });
    const lines: string[] = [];
    let errors = 0;
    for (const f of report.findings) {
      const leftover = isWithdrawnLeftover(f, report);
      if (!leftover) errors++;
      lines.push(`verify --live: node ${leftover ? "WARNING" : "ERROR"} ${f.kind}: ${f.message}`);
    }
    lines.push(
      `verify --live: node check: ${report.findings.length} finding(s) on ${report.instances.length} instance(s), ${report.records} record(s)`,
    );
    return { errors, lines };
  };
}
