/**
 * Replaces `path` atomically: the content goes to a temporary file in the same directory, then a
 * rename swaps it in, so a runtime executing or reading it never sees half a file.
 */
export function atomicWrite(path: string, content: Uint8Array | string, mode: number): void {
  const tmp = `${path.slice(0, path.lastIndexOf("/") + 1)}.${
    path.slice(path.lastIndexOf("/") + 1)
  }.tmp-${Deno.pid}`;
  try {
    if (typeof content === "string") Deno.writeTextFileSync(tmp, content, { mode });
    else Deno.writeFileSync(tmp, content, { mode });
    Deno.chmodSync(tmp, mode);
    Deno.renameSync(tmp, path);
  } catch (e) {
    try {
      Deno.removeSync(tmp);
    } catch {
      // nothing was written
    }
    throw e;
  }
}

/** Copies a file atomically (see atomicWrite), keeping large files out of memory. */
export function atomicCopy(from: string, to: string, mode: number): void {
  const tmp = `${to.slice(0, to.lastIndexOf("/") + 1)}.${
    to.slice(to.lastIndexOf("/") + 1)
  }.tmp-${Deno.pid}`;
  try {
    Deno.copyFileSync(from, tmp);
    Deno.chmodSync(tmp, mode);
    Deno.renameSync(tmp, to);
  } catch (e) {
    try {
      Deno.removeSync(tmp);
    } catch {
      // nothing was written
    }
    throw e;
  }
}
