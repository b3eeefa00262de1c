// The admission rule of the run queue, with plain values (no database).
import { describe, expect, it } from "vitest";
import { admitRuns, formatGiB, type QueueLimits, type QueueRun } from "@/server/runs/queue";
import { defaultMaxConcurrentRuns } from "@/server/runs/queue-settings";

const run = (id: string, over: Partial<QueueRun> = {}): QueueRun => ({ id, projectId: "p1", userId: "u1", memoryMb: 1024, ...over });

function limits(over: Partial<QueueLimits> = {}): QueueLimits {
  return {
    instance: 2,
    perUser: null,
    memoryBudgetMb: 100 * 1024,
    projects: new Map([
      ["p1", { name: "Alpha", maxConcurrentRuns: null }],
      ["p2", { name: "Beta", maxConcurrentRuns: null }],
    ]),
    userLabels: new Map([
      ["u1", "ann@example.test"],
      ["u2", "bob@example.test"],
    ]),
    ...over,
  };
}

describe("run queue admission", () => {
  it("with 2 slots and 5 queued runs starts the 2 oldest and tells the other 3 their place and that the slots are taken", () => {
    const queued = ["a", "b", "c", "d", "e"].map((id) => run(id));
    const { start, waiting } = admitRuns([], queued, limits());
    expect(start).toEqual(["a", "b"]);
    expect(waiting).toEqual([
      { id: "c", position: 3, reason: "waiting for a slot: 2 of 2 runs are executing on this instance" },
      { id: "d", position: 4, reason: "waiting for a slot: 2 of 2 runs are executing on this instance" },
      { id: "e", position: 5, reason: "waiting for a slot: 2 of 2 runs are executing on this instance" },
    ]);
  });

  it("counts runs that already hold slots (running or waiting on a reviewer) and starts only what is left", () => {
    const { start } = admitRuns([run("x")], [run("a"), run("b")], limits());
    expect(start).toEqual(["a"]);
  });

  it("a run held by its project's limit does not hold back a later run of another project", () => {
    const projects = new Map([
      ["p1", { name: "Alpha", maxConcurrentRuns: 1 }],
      ["p2", { name: "Beta", maxConcurrentRuns: null }],
    ]);
    const { start, waiting } = admitRuns([run("x")], [run("a"), run("b", { projectId: "p2" })], limits({ instance: 3, projects }));
    expect(start).toEqual(["b"]);
    expect(waiting).toEqual([{ id: "a", position: 1, reason: "project Alpha allows 1 run at a time (1 executing)" }]);
  });

  it("later runs of the same project stay behind the one its limit holds", () => {
    const projects = new Map([["p1", { name: "Alpha", maxConcurrentRuns: 1 }]]);
    const { start, waiting } = admitRuns([], [run("a"), run("b"), run("c")], limits({ instance: 5, projects }));
    expect(start).toEqual(["a"]);
    expect(waiting.map((w) => w.id)).toEqual(["b", "c"]);
  });

  it("a run held by its user's limit does not hold back another user's later run, and names the user", () => {
    const { start, waiting } = admitRuns(
      [run("x", { userId: "u1" })],
      [run("a", { userId: "u1" }), run("b", { userId: "u2" })],
      limits({ instance: 5, perUser: 1 }),
    );
    expect(start).toEqual(["b"]);
    expect(waiting).toEqual([{ id: "a", position: 1, reason: "ann@example.test may have 1 run executing at a time (1 executing)" }]);
  });

  it("refuses to oversubscribe memory, says how much is reserved and what the run needs, and holds the runs behind it in order", () => {
    const holding = [run("x", { memoryMb: 3072 }), run("y", { memoryMb: 512 })];
    const queued = [run("a", { memoryMb: 1024 }), run("b", { memoryMb: 256 })];
    const { start, waiting } = admitRuns(holding, queued, limits({ instance: 10, memoryBudgetMb: 4096 }));
    expect(start).toEqual([]);
    expect(waiting[0]).toEqual({ id: "a", position: 1, reason: "waiting for memory: 3.5 of 4 GiB reserved by running runs; this run needs 1 GiB" });
    // b alone would fit, but strict order keeps it behind a: a large run is never starved by small ones.
    expect(waiting[1]!.reason).toBe("waiting behind an earlier run that needs memory: 3.5 of 4 GiB reserved by running runs");
  });

  it("admits runs up to the memory budget exactly, never beyond it", () => {
    const queued = [run("a", { memoryMb: 2048 }), run("b", { memoryMb: 2048 }), run("c", { memoryMb: 64 })];
    const { start } = admitRuns([], queued, limits({ instance: 10, memoryBudgetMb: 4096 }));
    expect(start).toEqual(["a", "b"]);
  });

  it("a run that needs more memory than the whole budget steps aside (it could never start) and says what to change", () => {
    const { start, waiting } = admitRuns([], [run("big", { memoryMb: 2048 }), run("small", { memoryMb: 512 })], limits({ memoryBudgetMb: 1024 }));
    expect(start).toEqual(["small"]);
    expect(waiting[0]!.reason).toMatch(/^waiting for memory: this run needs 2 GiB but runs may reserve at most 1 GiB on this instance; an admin can raise/);
  });

  it("reports the project's limit rather than the full instance for a run its project holds anyway", () => {
    const projects = new Map([["p1", { name: "Alpha", maxConcurrentRuns: 1 }]]);
    const { waiting } = admitRuns([run("x"), run("y", { projectId: "p2" })], [run("a")], limits({ projects }));
    expect(waiting[0]!.reason).toBe("project Alpha allows 1 run at a time (1 executing)");
  });
});

describe("the default instance limit", () => {
  it("is two runs per core, capped at one per GiB of memory, and at least 1", () => {
    expect(defaultMaxConcurrentRuns({ cores: 2, memoryMb: 24 * 1024 })).toBe(4);
    expect(defaultMaxConcurrentRuns({ cores: 16, memoryMb: 8 * 1024 })).toBe(8);
    expect(defaultMaxConcurrentRuns({ cores: 1, memoryMb: 512 })).toBe(1);
  });
});

describe("formatGiB", () => {
  it("writes memory in GiB with at most two decimals", () => {
    expect(formatGiB(3584)).toBe("3.5 GiB");
    expect(formatGiB(4096)).toBe("4 GiB");
    expect(formatGiB(300)).toBe("0.29 GiB");
  });
});
