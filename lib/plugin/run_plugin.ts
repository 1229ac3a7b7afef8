import { decodeNetConf, validateNetConf } from "../cni/config.ts";
import { readCniEnv } from "../cni/env.ts";
import { toCniError } from "../cni/errors.ts";
import { podIdentity, podLabel } from "../cni/runtime_args.ts";
import type { PluginIo } from "../cni/io.ts";
import { formatResult } from "../cni/result.ts";
import {
  CURRENT_VERSION,
  negotiateVersion,
  requireVersionFor,
  versionInfo,
} from "../cni/version.ts";
import { Logger } from "../log.ts";
import { cmdAdd } from "./add.ts";
import { cmdCheck } from "./check.ts";
import type { Backend, CommandContext } from "./context.ts";
import { cmdDel } from "./del.ts";
import { cmdGc } from "./gc.ts";
import { noBackend } from "./no_backend.ts";
import { cmdStatus } from "./status.ts";

/** Picks the backend a config asks for. */
export type BackendFactory = (ctx: Omit<CommandContext, "backend">) => Backend;

/**
 * One CNI invocation: validate the environment, negotiate the version, parse the config, run the
 * command, print the result, or print the error JSON and return a non-zero exit code.
 */
export async function runPlugin(io: PluginIo, bagpipeBackend: BackendFactory): Promise<number> {
  const started = performance.now();
  let version: string = CURRENT_VERSION;
  const log = new Logger({
    command: io.getenv("CNI_COMMAND"),
    containerId: io.getenv("CNI_CONTAINERID"),
    ifname: io.getenv("CNI_IFNAME"),
  });
  try {
    const env = readCniEnv(io.getenv);
    // Every line names the pod as the runtime did (CNI_ARGS K8S_POD_NAMESPACE/NAME).
    const pod = podLabel(podIdentity(env.args));
    if (pod) log.addFields({ pod });
    if (env.command === "VERSION") {
      io.writeStdout(JSON.stringify(versionInfo()));
      return 0;
    }
    const stdin = await io.readStdin();
    const stdinMs = performance.now() - started;
    const raw = decodeNetConf(stdin);
    const negotiated = negotiateVersion(raw.cniVersion);
    version = negotiated;
    requireVersionFor(env.command, negotiated);
    const conf = validateNetConf(raw);
    log.setFile(conf.logFile);
    const base = { env, conf, rawConf: raw, version: negotiated, log };
    const ctx: CommandContext = {
      ...base,
      backend: conf.backend === "none" ? noBackend : bagpipeBackend(base),
    };
    switch (env.command) {
      case "ADD": {
        const result = await cmdAdd(ctx);
        io.writeStdout(JSON.stringify(formatResult(result, negotiated)));
        break;
      }
      case "DEL":
        await cmdDel(ctx);
        break;
      case "CHECK":
        await cmdCheck(ctx);
        break;
      case "STATUS":
        await cmdStatus(ctx);
        break;
      case "GC":
        await cmdGc(ctx);
        break;
    }
    // performance.now() counts from the runtime's start: `startupMs` is what loading us cost.
    log.info("done", {
      ms: Math.round(performance.now() - started),
      startupMs: Math.round(started),
      stdinMs: Math.round(stdinMs),
      // What the runtime sent, for whoever debugs a runtime's behaviour (config/README.md).
      sent: {
        cniVersion: raw.cniVersion,
        netns: env.netns,
        cniArgs: env.args,
        runtimeConfig: Object.keys(conf.runtimeConfig ?? {}),
        prevResult: conf.prevResult !== undefined,
      },
    });
    return 0;
  } catch (e) {
    const err = toCniError(e);
    log.error(err.message, {
      code: err.code,
      details: err.details,
      ms: Math.round(performance.now() - started),
    });
    const out: Record<string, unknown> = { cniVersion: version, code: err.code, msg: err.message };
    if (err.details) out.details = err.details;
    io.writeStdout(JSON.stringify(out));
    return 1;
  }
}
