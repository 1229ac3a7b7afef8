/**
 * The Prometheus text exposition format (version 0.0.4): one `# HELP` and `# TYPE` per family,
 * then its samples, label values escaped.
 */

/** The content type Prometheus expects for this format. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** One sample: labels and value (a metric name suffix for histograms' _bucket/_sum/_count). */
export interface Sample {
  labels?: Record<string, string>;
  value: number;
  suffix?: string;
}

/** One metric family. */
export interface MetricFamily {
  name: string;
  help: string;
  type: "counter" | "gauge" | "histogram";
  samples: Sample[];
}

/** Renders families in the text format. */
export function renderPrometheusText(families: MetricFamily[]): string {
  const out: string[] = [];
  for (const family of families) {
    out.push(`# HELP ${family.name} ${_escapeHelp(family.help)}`);
    out.push(`# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples) {
      const labels = Object.entries(sample.labels ?? {});
      const rendered = labels.length === 0
        ? ""
        : `{${labels.map(([k, v]) => `${k}="${_escapeLabel(v)}"`).join(",")}}`;
      out.push(`${family.name}${sample.suffix ?? ""}${rendered} ${_number(sample.value)}`);
    }
  }
  return out.join("\n") + "\n";
}

function _escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function _escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function _number(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}
