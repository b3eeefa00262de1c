// The admission rule of the run queue, with plain values (no database).
import { describe, expect, it } from "vitest";
import { admitRuns, formatGiB, type QueueEngine, type QueueLimits, type QueueRun } from "@/server/runs/queue";
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

describe("placement across engines", () => {
  const engine = (name: string, over: Partial<QueueEngine> = {}): QueueEngine => ({
    name,
    labels: [],
    draining: false,
    down: null,
    runtimes: ["runc"],
    capacity: { runs: 4, cpus: 4, memoryMb: 8192 },
    ...over,
  });
  const pool = (...engines: QueueEngine[]) => limits({ instance: 20, engines });

  it("sends a run that requires a label to the only engine carrying it", () => {
    const { start, placement } = admitRuns([], [run("a", { labels: ["gpu"] })], pool(engine("local"), engine("e1", { labels: ["gpu", "big"] })));
    expect(start).toEqual(["a"]);
    expect(placement).toEqual({ a: "e1" });
  });

  it("keeps a run whose labels no engine has queued, naming the labels and the engines", () => {
    const { start, waiting } = admitRuns([], [run("a", { labels: ["gpu"] })], pool(engine("local"), engine("e1")));
    expect(start).toEqual([]);
    expect(waiting[0]!.reason).toBe("no engine has the labels gpu (engines: local, e1)");
  });

  it("a run needing a rare label does not block the runs behind it", () => {
    const { start, placement, waiting } = admitRuns([], [run("rare", { labels: ["tpu"] }), run("b"), run("c")], pool(engine("local"), engine("e1")));
    expect(start).toEqual(["b", "c"]);
    expect(Object.keys(placement)).toEqual(["b", "c"]);
    expect(waiting.map((w) => w.id)).toEqual(["rare"]);
  });

  it("says which engines with the labels are full, counting their runs", () => {
    const e1 = engine("e1", { labels: ["gpu"], capacity: { runs: 2, cpus: null, memoryMb: null } });
    const holding = [run("x", { engine: "e1" }), run("y", { engine: "e1" })];
    const { start, waiting } = admitRuns(holding, [run("a", { labels: ["gpu"] })], pool(engine("local"), e1));
    expect(start).toEqual([]);
    expect(waiting[0]!.reason).toBe("engines with labels gpu are full: e1 2 of 2 runs");
  });

  it("counts memory and CPUs reserved on an engine, not only its runs", () => {
    const byMemory = engine("e1", { capacity: { runs: 10, cpus: null, memoryMb: 2048 } });
    const r1 = admitRuns([run("x", { engine: "e1", memoryMb: 1536 })], [run("a", { memoryMb: 1024 })], pool(byMemory));
    expect(r1.start).toEqual([]);
    expect(r1.waiting[0]!.reason).toBe("the engines are full: e1 1.5 of 2 GiB memory");
    const byCpu = engine("e1", { capacity: { runs: 10, cpus: 2, memoryMb: null } });
    const r2 = admitRuns([run("x", { engine: "e1", cpus: 1.5 })], [run("a", { cpus: 1 })], pool(byCpu));
    expect(r2.start).toEqual([]);
    expect(r2.waiting[0]!.reason).toBe("the engines are full: e1 1.5 of 2 CPUs");
    const r3 = admitRuns([run("x", { engine: "e1", cpus: 1 })], [run("a", { cpus: 1 })], pool(byCpu));
    expect(r3.placement).toEqual({ a: "e1" });
  });

  it("places each run on the engine with the most free reserved capacity, ties by name", () => {
    const a = engine("a-engine", { capacity: { runs: 4, cpus: null, memoryMb: null } });
    const b = engine("b-engine", { capacity: { runs: 2, cpus: null, memoryMb: null } });
    // a: 3 of 4 free (0.75); b: 2 of 2 free (1.0) → b first; then b 0.5 vs a 0.75 → a; then a 0.5 vs b 0.5 → a by name.
    const { placement } = admitRuns([run("x", { engine: "a-engine" })], [run("r1"), run("r2"), run("r3")], pool(a, b));
    expect(placement).toEqual({ r1: "b-engine", r2: "a-engine", r3: "a-engine" });
  });

  it("the smallest free share decides: an engine with free slots but little free memory loses", () => {
    const roomySlots = engine("e1", { capacity: { runs: 10, cpus: null, memoryMb: 4096 } });
    const fewSlots = engine("e2", { capacity: { runs: 4, cpus: null, memoryMb: 4096 } });
    const holding = [run("x", { engine: "e1", memoryMb: 3072 }), run("y", { engine: "e2", memoryMb: 512 })];
    // e1: runs 0.9 free, memory 0.25 free → 0.25; e2: runs 0.75, memory 0.875 → 0.75.
    expect(admitRuns(holding, [run("a", { memoryMb: 512 })], pool(roomySlots, fewSlots)).placement).toEqual({ a: "e2" });
  });

  it("sends no new run to a draining engine and says so when it was the only one with the labels", () => {
    const e1 = engine("e1", { labels: ["big"], draining: true });
    const { start, placement, waiting } = admitRuns([run("x", { engine: "e1" })], [run("a", { labels: ["big"] }), run("b")], pool(engine("local"), e1));
    expect(start).toEqual(["b"]);
    expect(placement).toEqual({ b: "local" });
    expect(waiting[0]!.reason).toBe("engines with labels big take no new runs now: e1 is draining");
  });

  it("skips an engine that is down, and says since when", () => {
    const e1 = engine("e1", { labels: ["big"], down: "is down since 2026-12-05T09:00:00.000Z" });
    const { start, waiting } = admitRuns([], [run("a", { labels: ["big"] })], pool(engine("local"), e1));
    expect(start).toEqual([]);
    expect(waiting[0]!.reason).toBe("engines with labels big take no new runs now: e1 is down since 2026-12-05T09:00:00.000Z");
    const other = admitRuns(
      [],
      [run("b")],
      pool(engine("local"), engine("e1", { down: "is down since 2026-12-05T09:00:00.000Z", capacity: { runs: 99, cpus: null, memoryMb: null } })),
    );
    expect(other.placement).toEqual({ b: "local" });
  });

  it("a run requiring gVisor goes only to an engine that offers runsc", () => {
    const plain = engine("e1", { runtimes: ["runc"] });
    const gvisor = engine("e2", { runtimes: ["runc", "runsc"], capacity: { runs: 1, cpus: null, memoryMb: null } });
    expect(admitRuns([], [run("a", { needsRunsc: true })], pool(plain, gvisor)).placement).toEqual({ a: "e2" });
    const none = admitRuns([], [run("a", { needsRunsc: true })], pool(plain));
    expect(none.waiting[0]!.reason).toMatch(/^this run requires gVisor \(runsc\) and none of the engines offers it \(e1\)/);
  });

  it("a run waiting for a full engine holds it: a smaller run behind does not slip past there, but may go elsewhere", () => {
    const e1 = engine("e1", { labels: ["big"], capacity: { runs: 10, cpus: null, memoryMb: 4096 } });
    const local = engine("local", { capacity: { runs: 10, cpus: null, memoryMb: 4096 } });
    const holding = [run("x", { engine: "e1", memoryMb: 3072 })];
    const queued = [run("large", { labels: ["big"], memoryMb: 2048 }), run("small-big", { labels: ["big"], memoryMb: 512 }), run("small", { memoryMb: 512 })];
    const { start, placement, waiting } = admitRuns(holding, queued, pool(local, e1));
    expect(start).toEqual(["small"]);
    expect(placement).toEqual({ small: "local" });
    expect(waiting).toEqual([
      { id: "large", position: 1, reason: "engines with labels big are full: e1 3 of 4 GiB memory" },
      { id: "small-big", position: 2, reason: "waiting behind an earlier run that needs room on e1: e1 3 of 4 GiB memory" },
    ]);
  });

  it("a run too large for every engine it may use steps aside and says so", () => {
    const e1 = engine("e1", { capacity: { runs: 10, cpus: null, memoryMb: 1024 } });
    const { start, waiting } = admitRuns([], [run("big", { memoryMb: 2048 }), run("b", { memoryMb: 512 })], pool(e1));
    expect(start).toEqual(["b"]);
    expect(waiting[0]!.reason).toMatch(/^waiting for room: this run needs 2 GiB, more than the engines can ever give it \(e1 allows at most 1 GiB\)/);
  });

  it("the instance's limit still applies on top of the engines' room", () => {
    const { start, waiting } = admitRuns([], [run("a"), run("b")], limits({ instance: 1, engines: [engine("local"), engine("e1")] }));
    expect(start).toEqual(["a"]);
    expect(waiting[0]!.reason).toBe("waiting for a slot: 1 of 1 runs are executing on this instance");
  });

  it("with only the local engine every started run is placed there", () => {
    expect(admitRuns([], [run("a"), run("b")], limits()).placement).toEqual({ a: "local", b: "local" });
  });
});
