/** The first line(s) of the installed plugin: how the runtime is made to run the bundle. */

/**
 * How the launcher runs the bundle. `--no-lazy` makes V8 compile every function with the script,
 * so the code cache holds all of it: lazily compiled functions (zod's, most of ours) were compiled
 * again by every pod, and ADD measured 2.4-4.3 ms faster with it (the empty script's floor the same).
 */
const RUN_FLAGS = "run --allow-all --no-config --no-lock --quiet --v8-flags=--no-lazy --ext=js";

/**
 * The first line of the installed plugin: runs the bundle with the deno installed beside it.
 * `env -S` splits the line (a shebang passes one argument); DENO_DIR gives the runtime a code
 * cache that survives between pods even when the runtime starts us without HOME.
 */
export function launcherLine(denoPath: string, cacheDir: string): string {
  return `#!/usr/bin/env -S DENO_DIR=${cacheDir} DENO_NO_UPDATE_CHECK=1 ${denoPath} ${RUN_FLAGS}`;
}

/**
 * Longest first line the kernel passes on whole: it reads 256 bytes of a script (BINPRM_BUF_SIZE)
 * and silently cuts the interpreter's arguments beyond them.
 */
export const SHEBANG_MAX = 255;

/**
 * The launcher for an installed plugin: launcherLine when it fits the kernel's limit, otherwise
 * two lines read both as sh and as JavaScript. sh runs line 2 (`//bin/true` is /bin/true), which
 * execs deno on this same file; deno skips line 1 as a hashbang and line 2 as a comment.
 * @throws Error when a path holds a quote or a newline (it could not be quoted safely).
 */
export function launcherFor(denoPath: string, cacheDir: string): string {
  const line = launcherLine(denoPath, cacheDir);
  const plain = (p: string) => /^[A-Za-z0-9_./+:@%,=-]+$/.test(p);
  if (new TextEncoder().encode(line).length <= SHEBANG_MAX && plain(denoPath) && plain(cacheDir)) {
    return line;
  }
  for (const path of [denoPath, cacheDir]) {
    if (/['\n\r]/.test(path)) {
      throw new Error(`path ${JSON.stringify(path)} holds a quote or newline`);
    }
  }
  return `#!/bin/sh\n//bin/true; DENO_DIR='${cacheDir}' DENO_NO_UPDATE_CHECK=1 exec '${denoPath}' ${RUN_FLAGS} "$0" "$@"`;
}
