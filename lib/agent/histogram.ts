/** A cumulative Prometheus histogram per label set (bucket counts, sum, count). */
import type { Sample } from "./prometheus_text.ts";

/** Upper bounds in seconds: a CNI ADD takes ~0.1–0.5 s alone and up to tens of seconds in bursts. */
export const DURATION_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

interface Series {
  labels: Record<string, string>;
  buckets: number[];
  sum: number;
  count: number;
}

/** Observations grouped by their labels. */
export class Histogram {
  #bounds: number[];
  #series = new Map<string, Series>();

  constructor(bounds: number[] = DURATION_BUCKETS) {
    this.#bounds = bounds;
  }

  observe(labels: Record<string, string>, value: number): void {
    const key = JSON.stringify(labels);
    let series = this.#series.get(key);
    if (!series) {
      series = { labels, buckets: this.#bounds.map(() => 0), sum: 0, count: 0 };
      this.#series.set(key, series);
    }
    for (let i = 0; i < this.#bounds.length; i++) {
      if (value <= this.#bounds[i]!) series.buckets[i]!++;
    }
    series.sum += value;
    series.count++;
  }

  /** The samples of the histogram family (`_bucket` per bound and +Inf, `_sum`, `_count`). */
  samples(): Sample[] {
    const out: Sample[] = [];
    for (const s of this.#series.values()) {
      this.#bounds.forEach((le, i) =>
        out.push({
          suffix: "_bucket",
          labels: { ...s.labels, le: String(le) },
          value: s.buckets[i]!,
        })
      );
      out.push({ suffix: "_bucket", labels: { ...s.labels, le: "+Inf" }, value: s.count });
      out.push({ suffix: "_sum", labels: s.labels, value: s.sum });
      out.push({ suffix: "_count", labels: s.labels, value: s.count });
    }
    return out;
  }
}
