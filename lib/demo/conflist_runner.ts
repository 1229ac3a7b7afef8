/**
 * A tiny CNI runtime for a network configuration list, doing what libcni does for kubelet:
 * each plugin of the chain gets its own entry plus the list's name and cniVersion, the runtime
 * config of the capabilities it declares, and the previous plugin's result as prevResult; ADD
 * and CHECK run the chain in order, DEL in reverse.
 *
 * ```ts
 * const runner = new ConflistRunner(parseConflist(text, path), ["/opt/cni/bin"], exec);
 * const { result } = await runner.add({ containerId: "c1", netns: "/run/netns/p1", ifname: "eth0" });
 * await runner.del({ containerId: "c1", netns: "/run/netns/p1", ifname: "eth0" }, result);
 * ```
 * @module
 */

/** A network configuration list (a `.conflist` file). */
export interface NetworkList {
  name: string;
  cniVersion: string;
  plugins: Record<string, unknown>[];
}

/** What one plugin execution returned. */
export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Executes a plugin binary with the given environment (only it) and stdin. */
export type PluginExec = (
  binary: string,
  env: Record<string, string>,
  stdin: string,
) => Promise<ExecResult>;

/** What the runtime knows about the attachment: kubelet's CNI_* values and runtime config. */
export interface AttachmentArgs {
  containerId: string;
  netns: string;
  ifname: string;
  /** CNI_ARGS pairs, e.g. K8S_POD_NAME (IgnoreUnknown=1 is always added, as kubelet does). */
  cniArgs?: Record<string, string>;
  /** Runtime config per capability, e.g. {portMappings: [...]}; a plugin gets only what it declares. */
  capabilityArgs?: Record<string, unknown>;
}

/** One plugin's run within a chain. */
export interface PluginStep {
  type: string;
  ms: number;
}

/** A CNI result object as plugins print it. */
export type CniResult = Record<string, unknown>;

/** A plugin of the chain failed: which one, at which command, and the CNI error it printed. */
export class ChainError extends Error {
  constructor(
    message: string,
    readonly plugin: string,
    readonly command: string,
    readonly cniCode?: number,
  ) {
    super(message);
    this.name = "ChainError";
  }
}

/**
 * Parses a conflist as a runtime does: name, cniVersion and a non-empty plugins list whose
 * entries all have a type. Unknown top-level keys are ignored.
 * @throws Error naming source and the problem.
 */
export function parseConflist(text: string, source: string): NetworkList {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`conflist ${source} is not JSON: ${(e as Error).message}`);
  }
  const list = raw as Partial<NetworkList> | null;
  if (typeof list !== "object" || list === null || Array.isArray(list)) {
    throw new Error(`conflist ${source} is not a JSON object`);
  }
  if (typeof list.name !== "string" || list.name === "") {
    throw new Error(`conflist ${source} has no name`);
  }
  if (typeof list.cniVersion !== "string") {
    throw new Error(`conflist ${source} has no cniVersion`);
  }
  if (!Array.isArray(list.plugins) || list.plugins.length === 0) {
    throw new Error(`conflist ${source} has no plugins`);
  }
  for (const [i, plugin] of list.plugins.entries()) {
    if (typeof plugin !== "object" || plugin === null || typeof plugin.type !== "string") {
      throw new Error(`conflist ${source}: plugins[${i}] has no type`);
    }
  }
  return { name: list.name, cniVersion: list.cniVersion, plugins: list.plugins };
}

/** Runs one network list's chain of plugins, found in the CNI_PATH directories. */
export class ConflistRunner {
  constructor(
    readonly list: NetworkList,
    readonly cniPath: string[],
    readonly exec: PluginExec,
  ) {}

  /**
   * ADD through the chain, each plugin getting the previous one's result. When a plugin fails,
   * DEL runs through the whole chain (what the runtime does after a failed ADD) and the error
   * names the failing plugin.
   * @returns the last plugin's result and each plugin's time.
   */
  async add(args: AttachmentArgs): Promise<{ result: CniResult; steps: PluginStep[] }> {
    const steps: PluginStep[] = [];
    let prevResult: CniResult | undefined;
    try {
      for (const plugin of this.list.plugins) {
        const started = performance.now();
        prevResult = await this.#run("ADD", plugin, args, prevResult);
        if (prevResult === undefined) {
          throw new ChainError(
            `${this.#who(plugin)} ADD printed no result`,
            String(plugin.type),
            "ADD",
          );
        }
        steps.push({ type: String(plugin.type), ms: Math.round(performance.now() - started) });
      }
    } catch (error) {
      // After a failed ADD the runtime has no cached result, so DEL gets no prevResult.
      const cleanup = await this.del(args).then(
        () => "the chain was deleted again",
        (e) => `and DEL of the chain failed too: ${(e as Error).message}`,
      );
      (error as Error).message += ` (${cleanup})`;
      throw error;
    }
    return { result: prevResult!, steps };
  }

  /** CHECK through the chain with the result ADD returned. */
  async check(args: AttachmentArgs, result: CniResult): Promise<void> {
    for (const plugin of this.list.plugins) await this.#run("CHECK", plugin, args, result);
  }

  /**
   * DEL through the chain in reverse, with the result ADD returned (when known). Unlike libcni it
   * does not stop at the first failing plugin, so one failure leaves no more behind than needed.
   * @throws ChainError listing every plugin that failed.
   */
  async del(args: AttachmentArgs, result?: CniResult): Promise<void> {
    const failures: string[] = [];
    let first: ChainError | undefined;
    for (const plugin of [...this.list.plugins].reverse()) {
      try {
        await this.#run("DEL", plugin, args, result);
      } catch (e) {
        first ??= e as ChainError;
        failures.push((e as Error).message);
      }
    }
    if (first) {
      throw new ChainError(failures.join("; "), first.plugin, "DEL", first.cniCode);
    }
  }

  /** The plugin's configuration as the runtime hands it over on stdin. */
  pluginConfig(
    plugin: Record<string, unknown>,
    args: AttachmentArgs,
    prevResult?: CniResult,
  ): Record<string, unknown> {
    const conf: Record<string, unknown> = {
      ...plugin,
      name: this.list.name,
      cniVersion: this.list.cniVersion,
    };
    const declared = (plugin.capabilities ?? {}) as Record<string, unknown>;
    const runtimeConfig: Record<string, unknown> = {};
    for (const [capability, value] of Object.entries(args.capabilityArgs ?? {})) {
      if (declared[capability] === true) runtimeConfig[capability] = value;
    }
    if (Object.keys(runtimeConfig).length > 0) conf.runtimeConfig = runtimeConfig;
    if (prevResult !== undefined) conf.prevResult = prevResult;
    return conf;
  }

  /** The plugin's executable: the first CNI_PATH directory that has it. */
  async findPlugin(type: string): Promise<string> {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(type)) {
      throw new ChainError(`plugin type ${JSON.stringify(type)} is not a file name`, type, "find");
    }
    for (const dir of this.cniPath) {
      try {
        const stat = await Deno.stat(`${dir}/${type}`);
        if (stat.isFile && ((stat.mode ?? 0) & 0o111) !== 0) return `${dir}/${type}`;
      } catch {
        // not in this directory
      }
    }
    throw new ChainError(
      `failed to find plugin "${type}" in CNI_PATH ${this.cniPath.join(":")}`,
      type,
      "find",
    );
  }

  async #run(
    command: string,
    plugin: Record<string, unknown>,
    args: AttachmentArgs,
    prevResult?: CniResult,
  ): Promise<CniResult | undefined> {
    const type = String(plugin.type);
    const binary = await this.findPlugin(type);
    const cniArgs = Object.entries({ IgnoreUnknown: "1", ...args.cniArgs })
      .map(([k, v]) => `${k}=${v}`).join(";");
    const env = {
      CNI_COMMAND: command,
      CNI_CONTAINERID: args.containerId,
      CNI_NETNS: args.netns,
      CNI_IFNAME: args.ifname,
      CNI_ARGS: cniArgs,
      CNI_PATH: this.cniPath.join(":"),
    };
    const stdin = JSON.stringify(this.pluginConfig(plugin, args, prevResult));
    const out = await this.exec(binary, env, stdin);
    const printed = _json(out.stdout);
    if (out.code !== 0) {
      const code = typeof printed?.code === "number" ? printed.code : undefined;
      const why = printed && typeof printed.msg === "string"
        ? `${printed.msg}${printed.details ? ` (${printed.details})` : ""}`
        : (out.stderr.trim() || out.stdout.trim() || "no output").slice(-500);
      throw new ChainError(
        `${this.#who(plugin)} ${command} failed with exit ${out.code}${
          code === undefined ? "" : `, CNI error ${code}`
        }: ${why}`,
        type,
        command,
        code,
      );
    }
    return printed;
  }

  #who(plugin: Record<string, unknown>): string {
    const index = this.list.plugins.indexOf(plugin);
    return `plugin "${plugin.type}" (${
      index + 1
    } of ${this.list.plugins.length}) of network "${this.list.name}"`;
  }
}

function _json(text: string): Record<string, unknown> | undefined {
  try {
    const value = text.trim() ? JSON.parse(text) : undefined;
    return typeof value === "object" && value !== null && !Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}
