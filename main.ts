/**
 * bagpipe-cni: one executable that is the CNI plugin when the runtime sets CNI_COMMAND, and the
 * operator's command line otherwise. The plugin path imports only what a CNI command needs; the
 * command line is loaded on demand so it costs the plugin nothing at start-up.
 */
import { processIo } from "./lib/cni/io.ts";
import { bagpipeBackend } from "./lib/plugin/bagpipe_backend.ts";
import { runPlugin } from "./lib/plugin/run_plugin.ts";

if (import.meta.main) {
  if (Deno.env.get("CNI_COMMAND") !== undefined) {
    Deno.exit(await runPlugin(processIo, bagpipeBackend));
  }
  const { runCli } = await import("./lib/cli/run_cli.ts");
  Deno.exit(await runCli(Deno.args));
}
