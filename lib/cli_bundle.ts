/**
 * The command line's own bundle, kept beside the plugin's (in dist/ and in the CNI bin dir). The
 * plugin starts once per pod and pays for every byte it loads: with the CLI and its WebAssembly
 * decoder inside, its bundle was 400 kB and each ADD spent ~5 ms more just reading and scanning it.
 * `deno task build` writes both files; `install` copies both.
 */
export const CLI_BUNDLE = "bagpipe-cni-cli.js";

/** The CLI bundle beside a plugin bundle (or launcher): a path, or a file: URL. */
export function cliBundleBeside(bundlePath: string): string {
  return `${bundlePath.slice(0, bundlePath.lastIndexOf("/") + 1)}${CLI_BUNDLE}`;
}
