/** What a CNI invocation reads and writes: kept as parameters so tests can drive it without a process. */
export interface PluginIo {
  getenv(name: string): string | undefined;
  readStdin(): Promise<string>;
  writeStdout(text: string): void;
}

/** The real process: environment, stdin, stdout. */
export const processIo: PluginIo = {
  getenv: (name) => Deno.env.get(name),
  // A synchronous read loop: the config is small, and the stream machinery costs ~5 ms to start.
  readStdin: () => {
    const chunks: Uint8Array[] = [];
    const buffer = new Uint8Array(64 * 1024);
    for (let n = Deno.stdin.readSync(buffer); n !== null; n = Deno.stdin.readSync(buffer)) {
      chunks.push(buffer.slice(0, n));
    }
    return Promise.resolve(new TextDecoder().decode(concat(chunks)));
  },
  writeStdout: (text) => {
    const bytes = new TextEncoder().encode(text);
    let written = 0;
    while (written < bytes.length) written += Deno.stdout.writeSync(bytes.subarray(written));
  },
};

function concat(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}
