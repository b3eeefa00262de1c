// The benchmark harness's bookkeeping (issue 14): the figures it keeps in
// bench/results.json and shows in bench/RESULTS.md. The timings themselves
// are never asserted (they depend on the machine); what a reader of the
// results relies on is: the statistics, the ratio against the baseline, a
// target's verdict, and that running one benchmark keeps the others' figures.
import { describe, expect, it } from "vitest";
import { mergeBenchmark, renderMarkdown, runtimesMeasured, type BenchmarkResult, type Results } from "@/bench/report";
import { record, stats } from "@/bench/support";

function result(over: Partial<BenchmarkResult> = {}): BenchmarkResult {
  return {
    ranAt: "2026-12-04T20:00:00.000Z",
    durationS: 12,
    commit: "0123456789abcdef",
    dirty: false,
    load1: { start: 1, end: 1.5 },
    params: { iterations: 3 },
    entries: [],
    comparisons: [],
    notes: [],
    ...over,
  };
}

describe("benchmark results", () => {
  it("reports median, p95, min, max and n of the samples (nearest rank)", () => {
    const s = stats([5, 1, 4, 2, 3, 10, 9, 8, 7, 6]);
    expect(s).toEqual({ median: 6, p95: 10, min: 1, max: 10, n: 10 });
    expect(stats(Array.from({ length: 200 }, (_, i) => i + 1)).p99).toBe(199);
  });

  it("a figure carries its baseline, the ratio of medians, the paired ratio and the target's verdict", () => {
    const e = record({
      id: "exec",
      label: "exec",
      runtime: "runsc",
      samples: [130, 120, 110],
      baseline: { label: "raw exec", samples: [100, 100, 50], paired: true },
      target: { metric: "ratio", max: 1.3, source: "issue 14" },
    });
    expect(e.airlock.median).toBe(120);
    expect(e.baseline!.stats.median).toBe(100);
    expect(e.ratio).toBeCloseTo(1.2);
    expect(e.pairedRatio).toBeCloseTo(1.3); // 1.3, 1.2, 2.2
    expect(e.target).toMatchObject({ value: e.ratio, pass: true });
    const slow = record({ id: "read", label: "read", samples: [40, 60], target: { metric: "median", max: 10, source: "issue 14" } });
    expect(slow.target).toMatchObject({ value: 60, pass: false });
  });

  it("a failed run keeps the benchmark's last good figures and records the failure; a good run replaces them", () => {
    const good = result({ entries: [record({ id: "a", label: "a", samples: [1, 2, 3] })] });
    const failedRun = result({ ranAt: "2026-12-04T21:00:00.000Z", entries: [] });
    const kept = mergeBenchmark(good, failedRun, 1);
    expect(kept.entries).toEqual(good.entries);
    expect(kept.ranAt).toBe(good.ranAt);
    expect(kept.lastFailure).toEqual({ ranAt: failedRun.ranAt, commit: failedRun.commit, exitCode: 1 });
    const next = result({ ranAt: "2026-12-04T22:00:00.000Z" });
    expect(mergeBenchmark(kept, next, 0)).toBe(next);
  });

  it("RESULTS.md shows the machine, the load, each figure against its baseline, gVisor's cost and a missed target", () => {
    const sandbox = result({
      entries: [
        record({ id: "start.runsc", label: "start", runtime: "runsc", samples: [900, 1000], baseline: { label: "engine API start", samples: [800, 800] } }),
        record({ id: "read", label: "read_file", runtime: "runc", samples: [40, 60], target: { metric: "median", max: 10, source: "issue 14" } }),
      ],
      comparisons: [{ id: "gvisor.start", label: "gVisor cost, start", ratio: 1.5, numerator: 1200, denominator: 800, unit: "ms" }],
    });
    const r: Results = {
      machine: {
        cores: 2,
        cpuModel: "cpu",
        memoryBytes: 8 * 1024 ** 3,
        os: "Linux",
        node: "v20",
        docker: { version: "20.10", apiVersion: "1.41", runtimes: ["runc", "runsc"], defaultRuntime: "runc" },
      },
      runtimesMeasured: runtimesMeasured({ sandbox }),
      lastRun: {
        date: "2026-12-04T20:00:00.000Z",
        durationS: 30,
        commit: "0123456789",
        dirty: false,
        benchmarks: ["sandbox"],
        failed: [],
        load1: { start: 9.5, end: 12 },
        note: "five other sessions",
      },
      benchmarks: { sandbox },
    };
    const md = renderMarkdown(r);
    expect(r.runtimesMeasured).toEqual(["runc", "runsc"]);
    expect(md).toContain("Docker engine 20.10 (API 1.41), runtimes runc, runsc");
    expect(md).toContain("1-minute load average 9.50 at the start and 12.00 at the end on 2 cores (busy");
    expect(md).toContain("five other sessions");
    expect(md).toMatch(/\| start \| runsc \| 1000 ms \|.*\| engine API start \| 800 ms \|.*\| \*\*1\.25\*\* \|/);
    expect(md).toContain("**FAIL**: median 60.0 ms, target ≤ 10.0 ms (issue 14)");
    expect(md).toContain("| gVisor cost, start | **1.50** | 1200 ms / 800 ms |");
  });
});
