// Timing and recording helpers shared by the benchmarks (not a benchmark
// itself: main.ts runs *.bench.ts only). A benchmark records each figure with
// record(); when main.ts runs it (with --results=FILE) the figures are written
// there as JSON when the process exits, and main.ts merges them into
// bench/results.json. Run on its own, a benchmark just prints them.
import fs from "node:fs";
import type { Duplex } from "node:stream";
import type Docker from "dockerode";
import type { SandboxRuntimeName } from "@/db/schema";

export function median(samples: number[]): number {
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Wall-clock milliseconds of one call. */
export async function time(fn: () => unknown): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

export interface Stats {
  median: number;
  p95: number;
  min: number;
  max: number;
  n: number;
  /** Only with at least 100 samples (below that it is the maximum). */
  p99?: number;
}

/** Nearest-rank quantiles of the samples (the median of an even count is the upper middle one). */
export function stats(samples: number[]): Stats {
  if (samples.length === 0) throw new Error("no samples");
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { median: at(0.5), p95: at(0.95), min: s[0]!, max: s[s.length - 1]!, n: s.length, ...(s.length >= 100 ? { p99: at(0.99) } : {}) };
}

/** Time units for timings; "lines/s" and "MB" for rates and memory; "count", "/s" and "MB/min" for bench/load.bench.ts's tallies, rates and memory slopes. */
export type Unit = "ms" | "µs" | "lines/s" | "MB" | "count" | "/s" | "MB/min";

export interface Target {
  /** What the target bounds: the ratio of medians (Airlock/baseline) or one of Airlock's own figures. */
  metric: "ratio" | "median" | "p95" | "p99" | "max";
  /** Upper bound, in the entry's unit for median/p95/p99. */
  max: number;
  /** Where the target comes from, e.g. "issue 14". */
  source: string;
  value: number;
  pass: boolean;
}

export interface Entry {
  /** Stable within its benchmark (results are merged by benchmark name). */
  id: string;
  label: string;
  unit: Unit;
  /** The container runtime the figure was measured under, when a container is involved. */
  runtime?: SandboxRuntimeName;
  airlock: Stats;
  baseline?: { label: string; stats: Stats };
  /** Airlock's median over the baseline's median. */
  ratio?: number;
  /** The median of the per-round ratios, when each Airlock sample has its baseline sample from the same round
   * (steadier than the ratio of medians when the machine's load drifts). */
  pairedRatio?: number;
  target?: Target;
  note?: string;
}

/** A ratio between two figures of the same run that are not Airlock against raw (e.g. gVisor against runc). */
export interface Comparison {
  id: string;
  label: string;
  ratio: number;
  numerator: number;
  denominator: number;
  unit: Unit;
}

export interface BenchReport {
  params: Record<string, number | string>;
  entries: Entry[];
  comparisons: Comparison[];
  notes: string[];
}

const report: BenchReport = { params: {}, entries: [], comparisons: [], notes: [] };
const resultsFile = process.argv.find((a) => a.startsWith("--results="))?.slice("--results=".length);
if (resultsFile) {
  // Written at exit (also after a failure; main.ts only keeps it when the exit code is 0).
  process.on("exit", () => fs.writeFileSync(resultsFile, JSON.stringify(report, null, 2)));
}

/** The benchmark's own arguments as numbers (main.ts's --results= left out), with defaults. */
export function numericArgs<T extends number[]>(...defaults: T): { [K in keyof T]: number } {
  const given = process.argv.slice(2).filter((a) => !a.startsWith("--"));
  return defaults.map((d, i) => {
    if (given[i] === undefined) return d;
    const n = Number(given[i]);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`argument ${i + 1} must be a positive number, got ${given[i]}`);
    return n;
  }) as { [K in keyof T]: number };
}

/** The parameters the figures were measured with (iterations, sizes), kept beside them. */
export function params(p: Record<string, number | string>): void {
  Object.assign(report.params, p);
}

export function note(text: string): void {
  report.notes.push(text);
  console.log(`  note: ${text}`);
}

function fmt(v: number, unit: Unit): string {
  return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${unit}`;
}

export function record(e: {
  id: string;
  label: string;
  unit?: Unit;
  runtime?: SandboxRuntimeName;
  samples: number[];
  /** Samples of the baseline were taken in the same rounds as Airlock's, in the same order. */
  baseline?: { label: string; samples: number[]; paired?: boolean };
  target?: { metric: Target["metric"]; max: number; source: string };
  note?: string;
}): Entry {
  const unit = e.unit ?? "ms";
  const airlock = stats(e.samples);
  const baseline = e.baseline ? { label: e.baseline.label, stats: stats(e.baseline.samples) } : undefined;
  const ratio = baseline ? airlock.median / baseline.stats.median : undefined;
  const b = e.baseline;
  const pairedRatio = b?.paired && b.samples.length === e.samples.length ? median(e.samples.map((v, i) => v / b.samples[i]!)) : undefined;
  let target: Target | undefined;
  if (e.target) {
    const value =
      e.target.metric === "ratio"
        ? ratio
        : e.target.metric === "p99"
          ? (airlock.p99 ?? airlock.max)
          : e.target.metric === "max"
            ? airlock.max
            : airlock[e.target.metric];
    if (value === undefined) throw new Error(`${e.id}: a ratio target needs a baseline`);
    target = { ...e.target, value, pass: value <= e.target.max };
  }
  const entry: Entry = {
    id: e.id,
    label: e.label,
    unit,
    ...(e.runtime ? { runtime: e.runtime } : {}),
    airlock,
    ...(baseline ? { baseline, ratio } : {}),
    ...(pairedRatio !== undefined ? { pairedRatio } : {}),
    ...(target ? { target } : {}),
    ...(e.note ? { note: e.note } : {}),
  };
  report.entries.push(entry);
  const rt = e.runtime ? ` [${e.runtime}]` : "";
  console.log(
    `${(e.label + rt).padEnd(58)} median ${fmt(airlock.median, unit).padStart(9)}  p95 ${fmt(airlock.p95, unit).padStart(9)}  min ${fmt(airlock.min, unit).padStart(9)}  n ${airlock.n}`,
  );
  if (baseline)
    console.log(
      `  ${("vs " + baseline.label).padEnd(56)} median ${fmt(baseline.stats.median, unit).padStart(9)}  p95 ${fmt(baseline.stats.p95, unit).padStart(9)}  ratio ${ratio!.toFixed(2)}${pairedRatio !== undefined ? ` (paired ${pairedRatio.toFixed(2)})` : ""}`,
    );
  if (target) console.log(`  target ${target.metric} ≤ ${target.max} (${target.source}): ${target.value.toFixed(2)} ${target.pass ? "PASS" : "FAIL"}`);
  return entry;
}

export function compare(id: string, label: string, numerator: number, denominator: number, unit: Unit = "ms"): Comparison {
  const c: Comparison = { id, label, ratio: numerator / denominator, numerator, denominator, unit };
  report.comparisons.push(c);
  console.log(`${label.padEnd(58)} ${c.ratio.toFixed(2)}× (${fmt(numerator, unit)} / ${fmt(denominator, unit)})`);
  return c;
}

/**
 * Airlock's operation and its raw baseline, measured in turns (the order
 * swapped every round, so load that drifts during the run hits both sides
 * alike) after `warmup` unrecorded rounds. Each function returns the
 * milliseconds it measured (so it can set up and clean up untimed).
 */
export async function sideBySide(
  n: number,
  warmup: number,
  airlock: (i: number) => Promise<number>,
  raw: (i: number) => Promise<number>,
): Promise<{ airlock: number[]; raw: number[] }> {
  const a: number[] = [];
  const r: number[] = [];
  for (let i = -warmup; i < n; i++) {
    for (const side of i % 2 === 0 ? (["airlock", "raw"] as const) : (["raw", "airlock"] as const)) {
      const ms = side === "airlock" ? await airlock(i) : await raw(i);
      if (i >= 0) (side === "airlock" ? a : r).push(ms);
    }
  }
  return { airlock: a, raw: r };
}

/**
 * The raw baseline of one command in a container: exec create, start, read
 * the output to its end, inspect, straight through the engine API (dockerode),
 * as the agent's user. Throws unless it exits 0.
 */
export async function engineExec(container: Docker.Container, cmd: string[], opts: { user: string; workingDir: string }): Promise<void> {
  const exec = await container.exec({ Cmd: cmd, User: opts.user, WorkingDir: opts.workingDir, AttachStdout: true, AttachStderr: true, Tty: false });
  const stream = (await exec.start({ hijack: true, stdin: false })) as Duplex;
  await new Promise<void>((resolve) => {
    stream.once("end", resolve);
    stream.once("close", resolve);
    stream.once("error", resolve);
    stream.resume();
  });
  const info = await exec.inspect();
  if (info.ExitCode !== 0) throw new Error(`raw exec of ${cmd.join(" ")} exited ${String(info.ExitCode)}`);
}
