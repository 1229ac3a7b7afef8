/**
 * Hand-written glue in the shape wasm-bindgen generates for the verify decoder: an
 * instantiate step, a cached `Uint8Array` view of linear memory rebuilt when memory grows,
 * inputs copied in through the module's allocator, results copied out and freed.
 * Callers use `mod.ts`, which validates what comes back.
 */

/** Raw exports of `decoder.wasm` (see wasm/src/lib.rs for the ABI). */
export interface DecoderExports {
  memory: WebAssembly.Memory;
  vd_alloc(len: number): number;
  vd_free(ptr: number, len: number): void;
  vd_new(portsPtr: number, nPorts: number, mtu: number, flags: number): number;
  vd_seed(ptr: number, len: number): number;
  vd_feed(ptr: number, len: number, eof: number): number;
  vd_packets(): number;
  vd_findings_settled(): number;
  vd_findings(): number;
  vd_findings_since(from: number, retptr: number): void;
  vd_status(): number;
  vd_report(retptr: number): void;
  vd_free_report(ptr: number, cap: number): void;
}

const EXPORTS: (keyof DecoderExports)[] = [
  "memory",
  "vd_alloc",
  "vd_free",
  "vd_new",
  "vd_seed",
  "vd_feed",
  "vd_packets",
  "vd_findings_settled",
  "vd_findings",
  "vd_findings_since",
  "vd_status",
  "vd_report",
  "vd_free_report",
];

/** One instance of the decoder module with its own memory and cached views. */
export class DecoderInstance {
  readonly #wasm: DecoderExports;
  #cachedUint8Memory: Uint8Array | null = null;

  private constructor(wasm: DecoderExports) {
    this.#wasm = wasm;
  }

  /**
   * Compiles and instantiates the module from its bytes.
   * @throws Error naming the missing export when the bytes are not this decoder.
   */
  static instantiate(module: WebAssembly.Module): DecoderInstance {
    const instance = new WebAssembly.Instance(module, {});
    const exports = instance.exports as Record<string, unknown>;
    for (const name of EXPORTS) {
      if (!(name in exports)) {
        throw new Error(`failed to instantiate the verify decoder: export "${name}" is missing`);
      }
    }
    return new DecoderInstance(exports as unknown as DecoderExports);
  }

  /** The linear memory as bytes; rebuilt after `memory.grow` detached the old buffer. */
  getUint8Memory(): Uint8Array {
    if (this.#cachedUint8Memory === null || this.#cachedUint8Memory.byteLength === 0) {
      this.#cachedUint8Memory = new Uint8Array(this.#wasm.memory.buffer);
    }
    return this.#cachedUint8Memory;
  }

  /** Allocates `len` bytes inside the module. @throws Error when the module is out of memory. */
  malloc(len: number): number {
    const ptr = this.#wasm.vd_alloc(len);
    if (ptr === 0) throw new Error(`failed to allocate ${len} bytes in the verify decoder`);
    return ptr;
  }

  /** Frees a block from `malloc`. */
  free(ptr: number, len: number): void {
    this.#wasm.vd_free(ptr, len);
  }

  /**
   * Copies `ports` in as u16 values and starts a run; false when the module refused them.
   * `fastPath: false` sends every frame through the general decoder (for equivalence tests);
   * `timeline: false` leaves the report's timeline empty; `brief` lists at most 1024
   * routes and 256 withdrawals.
   */
  start(
    ports: readonly number[],
    mtu: number,
    fastPath = true,
    timeline = true,
    brief = false,
  ): boolean {
    const len = ports.length * 2;
    const ptr = this.malloc(Math.max(len, 2));
    try {
      const view = new DataView(this.getUint8Memory().buffer, ptr, Math.max(len, 2));
      ports.forEach((p, i) => view.setUint16(i * 2, p, true));
      const flags = (fastPath ? 0 : 1) | (timeline ? 0 : 2) | (brief ? 4 : 0);
      return this.#wasm.vd_new(ptr, ports.length, mtu, flags) === 1;
    } finally {
      this.free(ptr, Math.max(len, 2));
    }
  }

  /**
   * Copies snapshot seed records (wasm/src/snapshot.rs) in and loads them into the run
   * `start` began; returns the number of routes loaded.
   * @throws Error naming the first record the module rejected (nothing is loaded then).
   */
  seed(records: Uint8Array): number {
    const len = Math.max(records.length, 1);
    const ptr = this.malloc(len);
    try {
      this.getUint8Memory().set(records, ptr);
      const n = this.#wasm.vd_seed(ptr, records.length) >>> 0;
      if (n & 0x8000_0000) {
        throw new Error(`the verify decoder rejected snapshot record ${(n & 0x7fff_ffff) + 1}`);
      }
      return n;
    } finally {
      this.free(ptr, len);
    }
  }

  /** Decodes bytes already in memory at `ptr`; returns how many were consumed. */
  feed(ptr: number, len: number, eof: boolean): number {
    return this.#wasm.vd_feed(ptr, len, eof ? 1 : 0);
  }

  /** Current size of the module's linear memory in bytes (it only grows). */
  memoryBytes(): number {
    return this.#wasm.memory.buffer.byteLength;
  }

  /** Frames decoded so far. */
  packets(): number {
    return this.#wasm.vd_packets();
  }

  /** How many findings, from id 0, can no longer change (see lib.rs). */
  settledFindings(): number {
    return this.#wasm.vd_findings_settled();
  }

  /** True when the input could not be read as a capture at all. */
  unreadable(): boolean {
    return this.#wasm.vd_status() === 1;
  }

  /** Number of findings so far. */
  findings(): number {
    return this.#wasm.vd_findings();
  }

  /** The findings from id `from` on, as JSON text; the run goes on. */
  findingsSince(from: number): string {
    return this.#takeBytes((retptr) => this.#wasm.vd_findings_since(from, retptr));
  }

  /** Finishes the run and returns the JSON report text (copied out, then freed inside). */
  takeReport(): string {
    return this.#takeBytes((retptr) => this.#wasm.vd_report(retptr));
  }

  /** Calls `produce` with a return slot, copies the bytes it hands out as text, frees them. */
  #takeBytes(produce: (retptr: number) => void): string {
    const retptr = this.malloc(12);
    try {
      produce(retptr);
      const words = new Uint32Array(this.getUint8Memory().buffer, retptr, 3);
      const [ptr, len, cap] = [words[0], words[1], words[2]];
      try {
        return new TextDecoder("utf-8", { fatal: true }).decode(
          this.getUint8Memory().subarray(ptr, ptr + len),
        );
      } finally {
        this.#wasm.vd_free_report(ptr, cap);
      }
    } finally {
      this.free(retptr, 12);
    }
  }
}
