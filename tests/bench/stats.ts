/** Small statistics and output helpers shared by the benchmarks. */

/** The value at quantile `q` (0–1) of a list of numbers, nearest-rank. */
export function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** The median of a list of numbers. */
export function p50(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * The median of each round's own difference `a[i] − b[i]`: two kinds measured in the same
 * rounds, seconds apart, so a change of the machine's load between rounds cancels out.
 */
export function pairedP50(a: number[], b: number[]): number {
  return p50(a.map((x, i) => x - b[i]!));
}

/** The 99th percentile (nearest rank: the maximum below 100 samples). */
export function p99(values: number[]): number {
  return quantile(values, 0.99);
}

/** Prints one figure as `BENCH <name> <value> <unit>`. */
export function bench(name: string, value: number, unit: string): void {
  console.log(
    `BENCH ${name} ${Number.isFinite(value) ? value.toFixed(value >= 100 ? 0 : 2) : "n/a"} ${unit}`,
  );
}
