/** Small statistics and output helpers shared by the benchmarks. */

/** The median of a list of numbers. */
export function p50(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Prints one figure as `BENCH <name> <value> <unit>`. */
export function bench(name: string, value: number, unit: string): void {
  console.log(
    `BENCH ${name} ${Number.isFinite(value) ? value.toFixed(value >= 100 ? 0 : 2) : "n/a"} ${unit}`,
  );
}
