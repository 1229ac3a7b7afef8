/**
 * Reachability checks across a cluster on the test fabric: a request from one netns to an
 * address and port, retried until the expected server answers with the expected source address
 * (or, for a check that expects silence, until it is clear nothing answers); a failure carries
 * the hop where it was lost (hop_diagnosis.ts).
 */
import { diagnoseFlow, type HopDiagnosis } from "./hop_diagnosis.ts";
import { probe, probeMany, type ProbeResult, type ProbeServer, type Protocol } from "./probe.ts";

/** One check: who asks whom, and what the answer must look like. */
export interface FlowCheck {
  /** What kind of path it proves: "pod → ClusterIP", "NodePort", ... */
  group: string;
  /** "n1-cli → svc-n2:80/tcp" */
  name: string;
  /** The client's netns. */
  from: string;
  protocol: Protocol;
  host: string;
  port: number;
  /** The server that must answer; undefined: nothing may answer (a DROP). */
  server?: ProbeServer;
  /** What the source seen by the server must be; returns why not, or undefined when right. */
  source?: { expect: string; test: (seen: string) => boolean };
  /** Node netns the flow crosses, inspected when it fails. */
  nodes: string[];
  /** The server's address when a node translates the request to it (Service, NodePort). */
  serverIp?: string;
}

/** How a check ended. */
export interface FlowOutcome {
  check: FlowCheck;
  ok: boolean;
  tries: number;
  /** Until the right answer (or the silence) was established. */
  ms: number;
  last?: ProbeResult;
  /** Why it failed, in a sentence. */
  problem?: string;
  diagnosis?: HopDiagnosis;
}

/** Retry bounds of a check. */
export interface FlowTiming {
  /** Give up after this long (default 15 s). */
  deadlineMs?: number;
  /** One request's time-out (default 2 s). */
  attemptMs?: number;
  /** Requests a silence check sends, all of which must go unanswered (default 2). */
  silentAttempts?: number;
}

/** Runs one check with bounded retries; diagnoses it when it fails. */
export async function runFlowCheck(
  check: FlowCheck,
  timing: FlowTiming = {},
): Promise<FlowOutcome> {
  const deadline = timing.deadlineMs ?? 15_000;
  const attemptMs = timing.attemptMs ?? 2_000;
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const ask = () =>
    probe(check.from, check.protocol, check.host, check.port, { timeoutMs: attemptMs });
  if (!check.server) {
    const tries = timing.silentAttempts ?? 2;
    for (let i = 1; i <= tries; i++) {
      const last = await ask();
      if (last.ok) {
        return {
          check,
          ok: false,
          tries: i,
          ms: elapsed(),
          last,
          problem: `expected no answer, but ${last.server} answered (it saw ${last.seenSource})`,
        };
      }
    }
    return { check, ok: true, tries, ms: elapsed() };
  }
  let tries = 0;
  let last: ProbeResult | undefined;
  let problem = "";
  while (tries === 0 || elapsed() < deadline) {
    tries++;
    last = await ask();
    problem = _problem(check, last);
    if (!problem) return { check, ok: true, tries, ms: elapsed(), last };
    if (!last.ok && last.failure !== "timeout") await new Promise((r) => setTimeout(r, 300));
  }
  const diagnosis = !last!.ok
    ? await diagnoseFlow({ ...check, result: last! }).catch((e) => ({
      hop: `diagnosis failed: ${(e as Error).message}`,
      evidence: [],
    }))
    : {
      hop: problem.startsWith("answered by") ? "wrong backend" : "masquerade",
      evidence: [],
    };
  return { check, ok: false, tries, ms: elapsed(), last, problem, diagnosis };
}

/**
 * Runs checks and returns their outcomes in order. A first pass asks all the answer-expecting
 * checks of one client at once (one process per client); the ones not answered right then run
 * on their own with retries and diagnosis, at most `parallel` at a time.
 */
export async function runFlowChecks(
  checks: FlowCheck[],
  timing: FlowTiming = {},
  parallel = 6,
): Promise<FlowOutcome[]> {
  const outcomes: (FlowOutcome | undefined)[] = new Array(checks.length);
  const byClient = new Map<string, number[]>();
  checks.forEach((c, i) => {
    if (c.server) byClient.set(c.from, [...(byClient.get(c.from) ?? []), i]);
  });
  await Promise.all([...byClient].map(async ([from, indexes]) => {
    const started = performance.now();
    const results = await probeMany(from, indexes.map((i) => checks[i]!), {
      timeoutMs: timing.attemptMs ?? 2_000,
    });
    const ms = Math.round(performance.now() - started);
    indexes.forEach((i, n) => {
      const last = results[n]!;
      if (!_problem(checks[i]!, last)) {
        outcomes[i] = { check: checks[i]!, ok: true, tries: 1, ms, last };
      }
    });
  }));
  const rest = checks.map((_, i) => i).filter((i) => outcomes[i] === undefined);
  let next = 0;
  const worker = async () => {
    while (next < rest.length) {
      const i = rest[next++]!;
      outcomes[i] = await runFlowCheck(checks[i]!, timing);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, rest.length) }, worker));
  return outcomes as FlowOutcome[];
}

/** One line per outcome, grouped; failures followed by their hop and evidence. */
export function formatOutcomes(outcomes: FlowOutcome[]): string[] {
  const lines: string[] = [];
  let group = "";
  for (const o of outcomes) {
    if (o.check.group !== group) {
      group = o.check.group;
      lines.push(`${group}:`);
    }
    const what = `${o.check.name} (${o.check.protocol} ${o.check.host}:${o.check.port})`;
    if (o.ok) {
      const detail = o.last?.ok
        ? `${o.last.server}, saw ${o.last.seenSource}`
        : "no answer, as expected";
      lines.push(`  ok    ${what}: ${detail} (${o.tries} tries, ${o.ms} ms)`);
      continue;
    }
    lines.push(`  FAIL  ${what}: ${o.problem}`);
    if (o.diagnosis) {
      lines.push(`        hop: ${o.diagnosis.hop}`);
      for (const e of o.diagnosis.evidence) lines.push(`        - ${e}`);
    }
  }
  return lines;
}

function _problem(check: FlowCheck, result: ProbeResult): string {
  if (!result.ok) return `no answer: ${result.failure}`;
  if (result.server !== check.server!.name) {
    return `answered by ${result.server} instead of ${check.server!.name}`;
  }
  if (check.source && !check.source.test(result.seenSource)) {
    return `${result.server} saw source ${result.seenSource}, expected ${check.source.expect}`;
  }
  return "";
}
