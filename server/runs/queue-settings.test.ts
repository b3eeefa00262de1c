// The run queue's instance-wide limits: environment defaults, an admin's
// values over them (real SQLite), and refusals that say what is wrong.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditEvents } from "@/db/schema";
import { readConfig, readMaxConcurrentRunsPerUser, readRunMemoryRatio } from "@/server/config/env";
import { defaultMaxConcurrentRuns, queueSettings, updateQueueSettings } from "@/server/runs/queue-settings";
import { createTestDb, type TestDb } from "@/test/helpers/db";
import { SETUP_ACTOR } from "@/test/helpers/users";

let t: TestDb;
beforeAll(() => {
  t = createTestDb();
});
afterAll(() => t?.close());

const host = { cores: 2, memoryMb: 8192 };

describe("run queue settings", () => {
  it("without an admin's values, the instance limit comes from the machine, no per-user limit applies and runs may reserve 0.8 of memory", () => {
    const s = queueSettings(t.db, host);
    expect(s.maxConcurrentRuns).toBe(defaultMaxConcurrentRuns(host));
    expect(s.maxConcurrentRunsSource).toBe(process.env.AIRLOCK_MAX_CONCURRENT_RUNS ? "env" : "machine");
    expect(s.maxConcurrentRunsPerUser).toBeNull();
    expect(s.memoryRatio).toBe(0.8);
    expect(s.memoryBudgetMb).toBe(Math.floor(0.8 * 8192));
  });

  it("an admin's values win over the defaults, are audited, and null restores the default", () => {
    const set = updateQueueSettings(t.db, SETUP_ACTOR, { maxConcurrentRuns: 3, maxConcurrentRunsPerUser: 1, memoryRatio: 0.5 });
    expect(set).toMatchObject({ maxConcurrentRuns: 3, maxConcurrentRunsSource: "admin", maxConcurrentRunsPerUser: 1, memoryRatio: 0.5 });
    expect(
      t.db
        .select()
        .from(auditEvents)
        .all()
        .filter((e) => e.action === "settings.queue.update"),
    ).toHaveLength(1);
    // A field left out keeps its value.
    expect(updateQueueSettings(t.db, SETUP_ACTOR, { maxConcurrentRuns: null })).toMatchObject({ maxConcurrentRunsPerUser: 1, memoryRatio: 0.5 });
    const cleared = updateQueueSettings(t.db, SETUP_ACTOR, { maxConcurrentRunsPerUser: null, memoryRatio: null });
    expect(cleared).toMatchObject({ maxConcurrentRunsPerUser: null, memoryRatio: 0.8, overrides: { maxConcurrentRuns: null } });
  });

  it("refuses limits outside 1 to 1000, fractions and memory ratios outside 0.01 to 4, saying what is wrong", () => {
    expect(() => updateQueueSettings(t.db, SETUP_ACTOR, { maxConcurrentRuns: 0 })).toThrow(/maxConcurrentRuns: At least 1 run must be allowed/);
    expect(() => updateQueueSettings(t.db, SETUP_ACTOR, { maxConcurrentRunsPerUser: 1001 })).toThrow(/At most 1000 runs/);
    expect(() => updateQueueSettings(t.db, SETUP_ACTOR, { maxConcurrentRuns: 2.5 })).toThrow(/whole number/);
    expect(() => updateQueueSettings(t.db, SETUP_ACTOR, { memoryRatio: 5 })).toThrow(/memory ratio may be at most 4/);
    expect(() => updateQueueSettings(t.db, SETUP_ACTOR, { memoryRatio: 0.001 })).toThrow(/memory ratio must be at least 0.01/);
  });
});

// readConfig takes the process environment (which Next's types say always has NODE_ENV).
const read = (env: Record<string, string | undefined>) => readConfig(env as NodeJS.ProcessEnv);

describe("run queue environment", () => {
  it("AIRLOCK_MAX_CONCURRENT_RUNS_PER_USER and AIRLOCK_RUN_MEMORY_RATIO are read with defaults, and a bad value names the variable", () => {
    expect(readMaxConcurrentRunsPerUser({})).toBeUndefined();
    expect(readMaxConcurrentRunsPerUser({ AIRLOCK_MAX_CONCURRENT_RUNS_PER_USER: "2" })).toBe(2);
    expect(readRunMemoryRatio({})).toBe(0.8);
    expect(readRunMemoryRatio({ AIRLOCK_RUN_MEMORY_RATIO: "1.5" })).toBe(1.5);
    expect(() => read({ AIRLOCK_MAX_CONCURRENT_RUNS_PER_USER: "0" })).toThrow(/AIRLOCK_MAX_CONCURRENT_RUNS_PER_USER must be a whole number/);
    expect(() => read({ AIRLOCK_RUN_MEMORY_RATIO: "lots" })).toThrow(/AIRLOCK_RUN_MEMORY_RATIO must be a number between 0.01 and 4/);
  });
});
