/**
 * bagpipe-cni: one executable that is the CNI plugin when the runtime sets CNI_COMMAND, and the
 * operator's command line otherwise. The plugin path imports only what a CNI command needs; the
 * command line is a module of its own (its bundle lives beside this one, see lib/cli_bundle.ts),
 * loaded only when asked for, so it costs the plugin nothing at start-up.
 */
import { cliBundleBeside } from "./lib/cli_bundle.ts";
import { processIo } from "./lib/cni/io.ts";
import { bagpipeBackend } from "./lib/plugin/bagpipe_backend.ts";
import { runPlugin } from "./lib/plugin/run_plugin.ts";

/** The CLI module: run from source, lib/cli; run from a bundle, the CLI bundle beside it. */
function cliModule(): string {
  return import.meta.url.endsWith(".ts")
    ? new URL("./lib/cli/run_cli.ts", import.meta.url).href
    : cliBundleBeside(import.meta.url);
}

if (import.meta.main) {
  if (Deno.env.get("CNI_COMMAND") !== undefined) {
    Deno.exit(await runPlugin(processIo, bagpipeBackend));
  }
  // A computed specifier, so the bundler leaves the CLI out of the plugin's bundle.
  const { runCli } = await import(cliModule()) as typeof import("./lib/cli/run_cli.ts");
  Deno.exit(await runCli(Deno.args));
}
