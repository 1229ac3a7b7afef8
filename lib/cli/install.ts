import { parseCliArgs } from "./args.ts";
import { atomicCopy, atomicWrite } from "./atomic_write.ts";

/** The plugin's CNI type, and so its file name in the CNI bin dir. */
export const PLUGIN_TYPE = "bagpipe";

/**
 * The first line of the installed plugin: runs the bundle with the deno installed beside it.
 * `env -S` splits the line (a shebang passes one argument); DENO_DIR gives the runtime a code
 * cache that survives between pods even when the runtime starts us without HOME.
 */
export function launcherLine(denoPath: string, cacheDir: string): string {
  return `#!/usr/bin/env -S DENO_DIR=${cacheDir} DENO_NO_UPDATE_CHECK=1 ${denoPath} run --allow-all --no-config --no-lock --quiet --ext=js`;
}

/** The bundle this process runs from, or undefined when it runs from source. */
function runningBundle(): string | undefined {
  const main = Deno.mainModule.startsWith("file:")
    ? decodeURIComponent(new URL(Deno.mainModule).pathname)
    : undefined;
  return main && !main.endsWith(".ts") ? main : undefined;
}

/**
 * `install --cni-bin-dir DIR`: writes DIR/bagpipe (this bundle behind a launcher line) and
 * DIR/bagpipe-deno (the runtime), each replaced atomically; the runtime first, so the plugin never
 * points at a runtime that is not there yet.
 */
export async function installCommand(argv: string[]): Promise<number> {
  const { values } = await parseCliArgs({
    args: argv,
    options: {
      "cni-bin-dir": { type: "string" },
      "cache-dir": { type: "string", default: "/var/cache/bagpipe-cni" },
      bundle: { type: "string" },
    },
    strict: true,
  });
  const binDir = values["cni-bin-dir"];
  if (!binDir || !binDir.startsWith("/")) {
    console.error(
      "bagpipe-cni install: --cni-bin-dir needs an absolute directory, e.g. /opt/cni/bin",
    );
    return 2;
  }
  const bundle = values.bundle ?? runningBundle();
  if (!bundle) {
    console.error(
      "bagpipe-cni install: run it from the bundle (deno task build; deno run -A dist/bagpipe-cni.js install ...) or pass --bundle",
    );
    return 2;
  }
  const code = Deno.readTextFileSync(bundle).replace(/^#!.*\n/, "");
  Deno.mkdirSync(binDir, { recursive: true });
  Deno.mkdirSync(values["cache-dir"]!, { recursive: true });
  const deno = `${binDir}/${PLUGIN_TYPE}-deno`;
  atomicCopy(Deno.execPath(), deno, 0o755);
  atomicWrite(
    `${binDir}/${PLUGIN_TYPE}`,
    `${launcherLine(deno, values["cache-dir"]!)}\n${code}`,
    0o755,
  );
  console.log(`installed ${binDir}/${PLUGIN_TYPE} (runtime ${deno})`);
  return 0;
}
