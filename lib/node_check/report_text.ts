/** The node check as text: one line per instance, then one per finding, then the verdict. */
import type { NodeCheckReport } from "./check_node.ts";

/** Renders the report for a terminal. */
export function renderNodeReport(report: NodeCheckReport): string {
  const lines = [
    `node check: daemon ${report.bagpipeUrl} (identity ${report.daemon.identity}), ${report.records} attachment record(s) in ${report.stateDir}`,
  ];
  for (const broken of report.brokenRecords) lines.push(`  unreadable record file: ${broken}`);
  for (const i of report.instances) {
    lines.push(
      `  instance ${i.id}: VNI ${i.vni}, bridge ${i.bridge ?? "?"}, VXLAN ${i.vxlan ?? "?"}, ` +
        `${i.ports} port(s), ${i.received} route(s) received, ${i.advertised} advertised, ` +
        `${i.fdbEntries} fdb and ${i.neighEntries} neighbour entries`,
    );
  }
  for (const f of report.findings) lines.push(`  ${f.kind}: ${f.message}`);
  lines.push(
    report.findings.length === 0
      ? "consistent: the kernel forwards as the daemon's routes say, every record is attached"
      : `${report.findings.length} finding(s)`,
  );
  return lines.join("\n");
}
