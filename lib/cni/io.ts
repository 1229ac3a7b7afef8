/** What a CNI invocation reads and writes: kept as parameters so tests can drive it without a process. */
export interface PluginIo {
  getenv(name: string): string | undefined;
  readStdin(): Promise<string>;
  writeStdout(text: string): void;
}

/** The real process: environment, stdin, stdout. */
export const processIo: PluginIo = {
  getenv: (name) => Deno.env.get(name),
  readStdin: async () => await new Response(Deno.stdin.readable).text(),
  writeStdout: (text) => {
    const bytes = new TextEncoder().encode(text);
    let written = 0;
    while (written < bytes.length) written += Deno.stdout.writeSync(bytes.subarray(written));
  },
};
