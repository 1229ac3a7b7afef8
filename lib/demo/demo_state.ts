/**
 * The record of a running or kept demo: what it made (namespaces, processes, files), written as
 * soon as the fabric exists and removed once it is torn down. `--down` reads it to remove a
 * demo kept with `--keep`, or one whose process was killed before it could clean up.
 */

/** Where the record lives unless --state-file says otherwise; /run goes with a reboot, as netns do. */
export const DEFAULT_STATE_FILE = "/run/bagpipe-cni-demo/state.json";

const SCHEMA = "bagpipe-cni.demo-state/1";

/** What one demo made. */
export interface DemoState {
  schema: typeof SCHEMA;
  /** "running" while the demo process works, "kept" once it exited with --keep. */
  status: "running" | "kept";
  createdAt: string;
  demoPid: number;
  /** Prefix of every netns it created ("bcni-demo-…"). */
  fabricId: string;
  /** Its temp dir; every process it started has this path on its command line. */
  workDir: string;
  netns: string[];
  pids: { pid: number; what: string }[];
  pods: { name: string; node: string; netns: string; ip: string }[];
  capture?: string;
}

/** A new record for a fabric. */
export function newDemoState(
  fields: Omit<DemoState, "schema" | "createdAt" | "demoPid" | "status">,
): DemoState {
  return {
    schema: SCHEMA,
    status: "running",
    createdAt: new Date().toISOString(),
    demoPid: Deno.pid,
    ...fields,
  };
}

/** Writes the record (replacing the file by rename, so a reader never sees half of it). */
export async function saveDemoState(file: string, state: DemoState): Promise<void> {
  await Deno.mkdir(file.slice(0, file.lastIndexOf("/")) || "/", { recursive: true });
  const tmp = `${file}.tmp-${Deno.pid}`;
  await Deno.writeTextFile(tmp, `${JSON.stringify(state, null, 2)}\n`);
  await Deno.rename(tmp, file);
}

/**
 * Reads the record, or undefined when there is none.
 * @throws when the file exists but is not a demo record (it is left alone).
 */
export async function loadDemoState(file: string): Promise<DemoState | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw new Error(`cannot read demo state ${file}: ${(e as Error).message}`);
  }
  let state: Partial<DemoState>;
  try {
    state = JSON.parse(text);
  } catch (e) {
    throw new Error(`demo state ${file} is not JSON: ${(e as Error).message}`);
  }
  if (
    state.schema !== SCHEMA || typeof state.fabricId !== "string" ||
    !state.fabricId.startsWith("bcni-") || typeof state.workDir !== "string" ||
    !state.workDir.startsWith("/") || !Array.isArray(state.netns) || !Array.isArray(state.pids)
  ) {
    throw new Error(`${file} is not a bagpipe-cni demo state file (schema ${SCHEMA}); left alone`);
  }
  return state as DemoState;
}

/** Removes the record; a missing one is fine. */
export async function removeDemoState(file: string): Promise<void> {
  await Deno.remove(file).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
}
