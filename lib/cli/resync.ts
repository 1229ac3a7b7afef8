import { parseCliArgs } from "./args.ts";
import { toCniError } from "../cni/errors.ts";
import { Logger } from "../log.ts";
import { BagpipeBackend } from "../plugin/bagpipe_backend.ts";
import { listAttachments } from "../state/attachments.ts";
import { listNetworks } from "../state/networks.ts";

/**
 * `resync`: re-attaches every recorded pod to its daemon when the daemon restarted (it keeps
 * nothing across a restart). Safe to run at any time, e.g. from the daemon's post-start hook.
 */
export async function resyncCommand(argv: string[]): Promise<number> {
  const { values } = await parseCliArgs({
    args: argv,
    options: {
      "state-dir": { type: "string", default: "/var/lib/cni/bagpipe" },
      "log-file": { type: "string", default: "/var/log/bagpipe-cni.log" },
      "timeout-ms": { type: "string", default: "10000" },
    },
    strict: true,
  });
  const stateDir = values["state-dir"]!;
  const log = new Logger({ command: "resync" }, values["log-file"]);
  // Networks too: a node gateway is re-attached even where no pod of its network is left.
  const urls = [
    ...new Set([
      ...listAttachments(stateDir).records.map((r) => r.bagpipeUrl),
      ...listNetworks(stateDir).map((n) => n.spec.bagpipeUrl),
    ]),
  ];
  let failed = 0;
  for (const url of urls) {
    try {
      const count = await new BagpipeBackend(url, Number(values["timeout-ms"]), stateDir, log)
        .resyncIfRestarted();
      console.log(`${url}: ${count === 0 ? "up to date" : `re-attached ${count} pod(s)`}`);
    } catch (e) {
      failed++;
      const err = toCniError(e);
      console.error(`${url}: ${err.message}${err.details ? ` (${err.details})` : ""}`);
    }
  }
  if (urls.length === 0) console.log(`no attachments recorded in ${stateDir}`);
  return failed === 0 ? 0 : 1;
}
