/**
 * Whose conflist is on disk: install marks what it writes with a hash of the content, and replaces
 * only files that still carry a matching mark (or with --force).
 */
import { atomicWrite } from "../../atomic_write.ts";
import { TOOL_VERSION } from "../tool_version.ts";
import { INSTALL_EXIT, InstallError } from "./errors.ts";

/**
 * Top-level key that marks a conflist as written by `install`. Its value records the SHA-256 of
 * the rest of the file (as compact JSON), so a later install can tell "ours and untouched" (safe
 * to replace) from "ours but edited by someone" and from "not ours" (both refused without
 * --force). Runtimes (libcni) ignore unknown top-level keys and never pass them to plugins.
 */
export const INSTALLED_BY_KEY = "bagpipe-cni.dev/installed-by";

/** The SHA-256 of text, in hex. */
async function _sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The file content install writes: the conflist with its mark first. */
export async function markedConflist(conflist: Record<string, unknown>): Promise<string> {
  const mark = {
    tool: `bagpipe-cni ${TOOL_VERSION}`,
    sha256: await _sha256(JSON.stringify(conflist)),
  };
  return `${JSON.stringify({ [INSTALLED_BY_KEY]: mark, ...conflist }, null, 2)}\n`;
}

/** Who wrote an existing conflist file, judged from its mark. */
export async function conflistOwner(text: string): Promise<"install" | "edited" | "foreign"> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return "foreign";
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return "foreign";
  const { [INSTALLED_BY_KEY]: mark, ...rest } = raw as Record<string, unknown>;
  if (typeof mark !== "object" || mark === null) return "foreign";
  const recorded = (mark as Record<string, unknown>).sha256;
  return recorded === await _sha256(JSON.stringify(rest)) ? "install" : "edited";
}

/** What happened to the conflist file. */
export type ConflistOutcome = "written" | "replaced" | "unchanged" | "forced";

/**
 * What writing content to path would do; refuses when a file is there that install did not
 * write (or that was edited since) and force is not set.
 * @throws InstallError (exit 3) when refusing, saying why and how to proceed.
 */
export async function conflistOutcome(
  path: string,
  content: string,
  force: boolean,
): Promise<ConflistOutcome> {
  let existing: string;
  try {
    existing = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return "written";
    throw new InstallError(
      `bagpipe-cni install: cannot read existing ${path}: ${(e as Error).message}`,
      INSTALL_EXIT.failed,
    );
  }
  if (existing === content) return "unchanged";
  const owner = await conflistOwner(existing);
  if (owner === "install") return "replaced";
  if (force) return "forced";
  const why = owner === "edited"
    ? `was written by bagpipe-cni install but edited since (its ${INSTALLED_BY_KEY} hash no longer matches)`
    : `was not written by bagpipe-cni install (no ${INSTALLED_BY_KEY} key)`;
  throw new InstallError(
    `bagpipe-cni install: refusing to replace ${path}: it ${why}; left it untouched. Pass --force to replace it.`,
    INSTALL_EXIT.refused,
  );
}

/**
 * Writes the conflist into confDir/name atomically (see conflistOutcome for when it refuses).
 * An identical file is left alone, so the runtime sees no change.
 */
export async function installConflist(
  confDir: string,
  name: string,
  conflist: Record<string, unknown>,
  force: boolean,
): Promise<{ path: string; outcome: ConflistOutcome }> {
  const path = `${confDir}/${name}`;
  const content = await markedConflist(conflist);
  const outcome = await conflistOutcome(path, content, force);
  if (outcome !== "unchanged") {
    await Deno.mkdir(confDir, { recursive: true });
    atomicWrite(path, content, 0o644);
  }
  return { path, outcome };
}
