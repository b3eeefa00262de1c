// Reading a /metrics answer in tests: the families as a Prometheus text-format
// parser sees them (it throws on an invalid line), and the samples of one
// series with their labels (the parser folds a labelled histogram's series together).
import parsePrometheusTextFormat, { type ParsedFamily } from "parse-prometheus-text-format";

export interface Sample {
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  families: Map<string, ParsedFamily>;
  /** Samples of one series name (a counter's, a gauge's, or a histogram's _bucket / _sum / _count). */
  samples(series: string): Sample[];
  /** The value of the one sample of `series` whose labels include `labels` (NaN when none). */
  value(series: string, labels?: Record<string, string>): number;
}

export function readExposition(text: string): Exposition {
  const families = new Map(parsePrometheusTextFormat(text).map((f) => [f.name, f]));
  const lines = text.split("\n").filter((l) => l && !l.startsWith("#"));
  const samples = (series: string): Sample[] =>
    lines.flatMap((line) => {
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!m || m[1] !== series) return [];
      const labels: Record<string, string> = {};
      for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
      return [{ labels, value: Number(m[3]) }];
    });
  return {
    families,
    samples,
    value(series, labels = {}) {
      const found = samples(series).filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v));
      return found.length === 1 ? found[0]!.value : NaN;
    },
  };
}
