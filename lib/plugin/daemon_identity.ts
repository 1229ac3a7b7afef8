import { atomicWrite } from "../atomic_write.ts";

/**
 * The daemon identity (its /ping value) each pod was last attached under, per daemon URL. The
 * daemon keeps nothing across a restart, and a changed identity is how we notice one.
 */
function identityFile(stateDir: string): string {
  return `${stateDir}/daemon-identities.json`;
}

/** The last identity seen for a daemon URL. */
export function lastIdentity(stateDir: string, url: string): string | undefined {
  try {
    return (JSON.parse(Deno.readTextFileSync(identityFile(stateDir))) as Record<string, string>)[
      url
    ];
  } catch {
    return undefined;
  }
}

/** Records the identity seen for a daemon URL (atomically). */
export function rememberIdentity(stateDir: string, url: string, identity: string): void {
  let all: Record<string, string> = {};
  try {
    all = JSON.parse(Deno.readTextFileSync(identityFile(stateDir)));
  } catch {
    // first identity recorded
  }
  all[url] = identity;
  Deno.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  atomicWrite(identityFile(stateDir), JSON.stringify(all) + "\n", 0o600);
}

/** Runs `fn` holding an exclusive lock on a file in the state dir (one resync at a time per node). */
export async function withStateLock<T>(
  stateDir: string,
  name: string,
  fn: () => Promise<T>,
): Promise<T> {
  Deno.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const file = await Deno.open(`${stateDir}/${name}.lock`, { create: true, write: true });
  try {
    await file.lock(true);
    return await fn();
  } finally {
    file.close();
  }
}

/** The daemon's listening socket (its inode) when it answered a ping with `identity`. */
export interface DaemonListener {
  listener: string;
  identity: string;
}

function listenerFile(stateDir: string): string {
  return `${stateDir}/daemon-listeners.json`;
}

/** The listener recorded for a daemon URL at its last ping. */
export function lastListener(stateDir: string, url: string): DaemonListener | undefined {
  try {
    return (JSON.parse(Deno.readTextFileSync(listenerFile(stateDir))) as Record<
      string,
      DaemonListener
    >)[url];
  } catch {
    return undefined;
  }
}

/** Records the listener seen for a daemon URL (atomically). */
export function rememberListener(stateDir: string, url: string, seen: DaemonListener): void {
  let all: Record<string, DaemonListener> = {};
  try {
    all = JSON.parse(Deno.readTextFileSync(listenerFile(stateDir)));
  } catch {
    // first listener recorded
  }
  all[url] = seen;
  Deno.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  atomicWrite(listenerFile(stateDir), JSON.stringify(all) + "\n", 0o600);
}
