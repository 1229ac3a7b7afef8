/**
 * Runs `bagpipe-cni verify FILE [--rib TABLE]... --json` through the installed CLI (the same executable kubelet
 * runs, without CNI_COMMAND) and reads its verdict. When this build has no verify command the
 * outcome says so; a verdict is never made up.
 */
import { runCommand } from "../fabric/run_command.ts";

/** What verify said about a capture. */
export type VerifyOutcome =
  | { state: "unavailable"; why: string }
  | { state: "failed"; why: string }
  | {
    state: "verdict";
    consistent: boolean;
    errors: number;
    warnings: number;
    sessions: number;
    routes: number;
    flows: number;
    /** "severity kind (vni N)" of each error and warning, at most 10. */
    findings: string[];
    exitCode: number;
  };

/** Runs the installed plugin's verify on the capture file, with control-plane snapshots. */
export async function verifyCapture(
  plugin: string,
  file: string,
  ribs: string[] = [],
): Promise<VerifyOutcome> {
  const out = await runCommand([
    plugin,
    "verify",
    file,
    ...ribs.flatMap((r) => ["--rib", r]),
    "--json",
  ]);
  return readVerifyOutput(out.code, out.stdout, out.stderr);
}

/** Interprets verify's exit code and output (exit 0 consistent, 1 error findings, 2 unreadable). */
export function readVerifyOutput(code: number, stdout: string, stderr: string): VerifyOutcome {
  const said = (stderr.trim() || stdout.trim()).split("\n").slice(-3).join(" ").slice(0, 400);
  if (/unknown command "verify"/.test(stderr + stdout)) {
    return {
      state: "unavailable",
      why: `this build of bagpipe-cni has no verify command yet (it answered: ${said})`,
    };
  }
  let report: Record<string, unknown> | undefined;
  try {
    report = JSON.parse(stdout);
  } catch {
    report = undefined;
  }
  const summary = report?.summary as Record<string, unknown> | undefined;
  if (
    typeof report?.schema !== "string" || !report.schema.startsWith("bagpipe-cni.verify/") ||
    typeof summary !== "object" || summary === null
  ) {
    return { state: "failed", why: `verify exited ${code} without a JSON report: ${said}` };
  }
  const count = (key: string) => (typeof summary[key] === "number" ? summary[key] as number : 0);
  const findings = Array.isArray(report.findings) ? report.findings : [];
  const notable = findings
    .filter((f) => f?.severity === "error" || f?.severity === "warning")
    .slice(0, 10)
    .map((f) => `${f.severity} ${f.kind}${typeof f.vni === "number" ? ` (vni ${f.vni})` : ""}`);
  const errors = count("errors");
  const consistent = summary.consistent === true && errors === 0;
  if (consistent !== (code === 0)) {
    return {
      state: "failed",
      why:
        `verify exited ${code} but its report says consistent=${summary.consistent}, errors=${errors}`,
    };
  }
  return {
    state: "verdict",
    consistent,
    errors,
    warnings: count("warnings"),
    sessions: count("sessions"),
    routes: count("routes"),
    flows: count("flows"),
    findings: notable,
    exitCode: code,
  };
}

/** One line for the report. */
export function describeVerify(outcome: VerifyOutcome): string {
  switch (outcome.state) {
    case "unavailable":
      return `NOT RUN: ${outcome.why}`;
    case "failed":
      return `FAILED TO RUN: ${outcome.why}`;
    case "verdict":
      return `${
        outcome.consistent ? "CONSISTENT" : "INCONSISTENT"
      }: ${outcome.errors} error(s), ${outcome.warnings} warning(s); ${outcome.sessions} BGP session(s), ${outcome.routes} EVPN route(s), ${outcome.flows} VXLAN flow(s)`;
  }
}
