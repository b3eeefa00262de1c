// `npm run bench`: runs every benchmark in this folder in turn, each in its
// own process; `npm run bench -- NAME [NAME…]` runs only those (NAME is the
// file name without .bench.ts). Each benchmark measures Airlock side by side
// with its raw baseline and never asserts timings. The figures are merged
// into bench/results.json (a benchmark not run keeps its last entry) and
// bench/RESULTS.md is regenerated from it.
//
//   npm run bench -- [NAME…] [--note=TEXT]   TEXT: why the figures look as they do (shown in RESULTS.md)
//   npm run bench -- --render                only regenerate RESULTS.md from results.json
//
// bench/load.bench.ts runs for 10 minutes of load (about 12 in all): a full run takes that much longer.
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { docker } from "@/server/sandbox/docker";
import { mergeBenchmark, renderMarkdown, runtimesMeasured, type BenchmarkResult, type Machine, type Results } from "./report";
import type { BenchReport } from "./support";

const dir = path.dirname(new URL(import.meta.url).pathname);
const resultsPath = path.join(dir, "results.json");
const markdownPath = path.join(dir, "RESULTS.md");

function gitCommit(): { commit: string; dirty: boolean } {
  try {
    const commit = execFileSync("git", ["rev-parse", "HEAD"], { cwd: dir }).toString().trim();
    // The results files themselves do not count: they change with every run.
    const status = execFileSync("git", ["status", "--porcelain", "--", ".", ":(exclude)bench/results.json", ":(exclude)bench/RESULTS.md"], {
      cwd: path.dirname(dir),
    })
      .toString()
      .trim();
    return { commit, dirty: status.length > 0 };
  } catch {
    return { commit: "unknown", dirty: false };
  }
}

async function machine(): Promise<Machine> {
  const cpus = os.cpus();
  const m: Machine = {
    cores: cpus.length,
    cpuModel: cpus[0]?.model ?? "unknown",
    memoryBytes: os.totalmem(),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
  };
  try {
    const d = docker();
    const [version, info] = await Promise.all([d.version(), d.info() as Promise<{ Runtimes?: Record<string, unknown>; DefaultRuntime?: string }>]);
    m.docker = {
      version: version.Version,
      apiVersion: version.ApiVersion,
      runtimes: Object.keys(info.Runtimes ?? {}),
      defaultRuntime: info.DefaultRuntime ?? "runc",
    };
  } catch (err) {
    m.docker = { error: (err as Error).message };
  }
  return m;
}

function load1(): number {
  return Number(os.loadavg()[0]!.toFixed(2));
}

function readResults(): Results | null {
  try {
    return JSON.parse(fs.readFileSync(resultsPath, "utf8")) as Results;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new Error(`bench/results.json cannot be read (${(err as Error).message}); fix or delete it`);
  }
}

const EMPTY_REPORT: BenchReport = { params: {}, entries: [], comparisons: [], notes: [] };

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const available = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".bench.ts"))
    .map((f) => f.slice(0, -".bench.ts".length))
    .sort();
  const noteArg = args.find((a) => a.startsWith("--note="))?.slice("--note=".length);
  if (args.includes("--render")) {
    const existing = readResults();
    if (!existing) throw new Error("no bench/results.json to render: run npm run bench first");
    fs.writeFileSync(markdownPath, renderMarkdown(existing));
    console.log(`wrote ${path.relative(process.cwd(), markdownPath)}`);
    return 0;
  }
  const unknownFlags = args.filter((a) => a.startsWith("--") && !a.startsWith("--note="));
  if (unknownFlags.length) throw new Error(`unknown option ${unknownFlags.join(", ")}: use --note=TEXT or --render`);
  const names = args.filter((a) => !a.startsWith("--"));
  const unknown = names.filter((n) => !available.includes(n));
  if (unknown.length) throw new Error(`no benchmark named ${unknown.join(", ")}; there are: ${available.join(", ")}`);
  const selected = names.length ? available.filter((n) => names.includes(n)) : available;

  const started = new Date();
  const git = gitCommit();
  const m = await machine();
  const runLoad = { start: load1(), end: 0 };
  const previous = readResults();
  const benchmarks: Record<string, BenchmarkResult> = { ...previous?.benchmarks };
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-bench-results-"));
  const failed: string[] = [];
  try {
    for (const name of selected) {
      console.log(`\n=== ${name} ===${name === "load" ? " (about 12 minutes: 10 of load)" : ""}`);
      const out = path.join(tmp, `${name}.json`);
      const loadStart = load1();
      const t0 = Date.now();
      const r = spawnSync(
        process.execPath,
        [path.join(process.cwd(), "node_modules/tsx/dist/cli.mjs"), path.join(dir, `${name}.bench.ts`), `--results=${out}`],
        {
          stdio: "inherit",
        },
      );
      const entry: BenchmarkResult = {
        ranAt: new Date(t0).toISOString(),
        durationS: Math.round((Date.now() - t0) / 100) / 10,
        commit: git.commit,
        dirty: git.dirty,
        load1: { start: loadStart, end: load1() },
        ...(noteArg ? { runNote: noteArg } : {}),
        ...(fs.existsSync(out) ? (JSON.parse(fs.readFileSync(out, "utf8")) as BenchReport) : EMPTY_REPORT),
      };
      if (r.status !== 0) failed.push(name);
      benchmarks[name] = mergeBenchmark(benchmarks[name], entry, r.status);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  runLoad.end = load1();
  const results: Results = {
    machine: m,
    runtimesMeasured: runtimesMeasured(benchmarks),
    lastRun: {
      date: started.toISOString(),
      durationS: Math.round((Date.now() - started.getTime()) / 100) / 10,
      commit: git.commit,
      dirty: git.dirty,
      benchmarks: selected,
      failed,
      load1: runLoad,
      ...(noteArg ? { note: noteArg } : {}),
    },
    // Stable order in the file: by benchmark name.
    benchmarks: Object.fromEntries(Object.entries(benchmarks).sort(([a], [b]) => a.localeCompare(b))),
  };
  fs.writeFileSync(resultsPath, JSON.stringify(results, null, 2) + "\n");
  fs.writeFileSync(markdownPath, renderMarkdown(results));
  console.log(
    `\nwrote ${path.relative(process.cwd(), resultsPath)} and ${path.relative(process.cwd(), markdownPath)}${failed.length ? `; FAILED: ${failed.join(", ")}` : ""}`,
  );
  return failed.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
