// The run queue's limits for the whole instance: how many runs execute at
// once, how many of one user's, and what share of the host's memory their
// memory limits may reserve. The environment gives the defaults; an admin's
// values (Settings → Run queue) are kept in instance_settings and win.
import os from "node:os";
import { eq } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "@/db/client";
import { instanceSettings } from "@/db/schema";
import { appendAudit, type Actor } from "@/server/audit/chain";
import { config, RUN_MEMORY_RATIO_RANGE } from "@/server/config/env";
import { emitSignal } from "@/server/events/bus";
import { DomainError } from "@/server/errors/domain-error";

const KEY = "queue";
/** Announced when an admin changes the limits, so the supervisor admits waiting runs at once. */
export const QUEUE_CHANGED_SIGNAL = "queue:changed";

/** What the machine offers, read once per call (a container's host may resize). */
export interface HostCapacity {
  cores: number;
  memoryMb: number;
}

export function hostCapacity(): HostCapacity {
  return { cores: os.availableParallelism?.() ?? os.cpus().length, memoryMb: Math.floor(os.totalmem() / 1024 / 1024) };
}

/**
 * The instance limit when neither an admin nor AIRLOCK_MAX_CONCURRENT_RUNS
 * sets one: two runs per core (a run mostly waits on the model and on
 * reviewers, not the CPU), and no more than one per GiB of memory (a run's
 * default memory limit), at least 1.
 */
export function defaultMaxConcurrentRuns(host: HostCapacity): number {
  return Math.max(1, Math.min(2 * host.cores, Math.floor(host.memoryMb / 1024)));
}

const limitSchema = z
  .number({ message: "Give a whole number of runs from 1 to 1000, or null for the default." })
  .int("Give a whole number of runs.")
  .min(1, "At least 1 run must be allowed (null restores the default).")
  .max(1000, "At most 1000 runs.");

export const updateQueueSettingsInput = z
  .object({
    /** null: back to AIRLOCK_MAX_CONCURRENT_RUNS or the machine's default. */
    maxConcurrentRuns: limitSchema.nullable(),
    /** null: back to AIRLOCK_MAX_CONCURRENT_RUNS_PER_USER (unset there: no per-user limit). */
    maxConcurrentRunsPerUser: limitSchema.nullable(),
    /** null: back to AIRLOCK_RUN_MEMORY_RATIO (default 0.8). */
    memoryRatio: z
      .number({ message: `Give the memory ratio as a number from ${RUN_MEMORY_RATIO_RANGE.min} to ${RUN_MEMORY_RATIO_RANGE.max}.` })
      .min(RUN_MEMORY_RATIO_RANGE.min, `The memory ratio must be at least ${RUN_MEMORY_RATIO_RANGE.min}.`)
      .max(RUN_MEMORY_RATIO_RANGE.max, `The memory ratio may be at most ${RUN_MEMORY_RATIO_RANGE.max} (above 1 overcommits the host's memory).`)
      .nullable(),
  })
  .partial()
  .strict();

type StoredQueueSettings = Partial<Record<"maxConcurrentRuns" | "maxConcurrentRunsPerUser" | "memoryRatio", number | null>>;

type Source = "admin" | "env" | "machine" | "none";

/** The limits in force, and where each comes from (shown in Settings). */
export interface QueueSettingsView {
  maxConcurrentRuns: number;
  maxConcurrentRunsSource: Source;
  maxConcurrentRunsPerUser: number | null;
  maxConcurrentRunsPerUserSource: Source;
  memoryRatio: number;
  memoryRatioSource: Source;
  host: HostCapacity;
  /** memoryRatio × the host's memory: what the executing runs' memory limits may add up to. */
  memoryBudgetMb: number;
  /** The values an admin set (null: the default applies). */
  overrides: { maxConcurrentRuns: number | null; maxConcurrentRunsPerUser: number | null; memoryRatio: number | null };
  /** What applies when an admin's value is cleared. */
  defaults: { maxConcurrentRuns: number; maxConcurrentRunsPerUser: number | null; memoryRatio: number };
}

function storedSettings(db: Db): StoredQueueSettings {
  const row = db.select().from(instanceSettings).where(eq(instanceSettings.key, KEY)).get();
  return (row?.value ?? {}) as StoredQueueSettings;
}

function numberOrNull(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

export function queueSettings(db: Db, host: HostCapacity = hostCapacity()): QueueSettingsView {
  const stored = storedSettings(db);
  const env = config();
  const overrides = {
    maxConcurrentRuns: numberOrNull(stored.maxConcurrentRuns),
    maxConcurrentRunsPerUser: numberOrNull(stored.maxConcurrentRunsPerUser),
    memoryRatio: numberOrNull(stored.memoryRatio),
  };
  const defaults = {
    maxConcurrentRuns: env.maxConcurrentRuns ?? defaultMaxConcurrentRuns(host),
    maxConcurrentRunsPerUser: env.maxConcurrentRunsPerUser ?? null,
    memoryRatio: env.runMemoryRatio,
  };
  const memoryRatio = overrides.memoryRatio ?? defaults.memoryRatio;
  return {
    maxConcurrentRuns: overrides.maxConcurrentRuns ?? defaults.maxConcurrentRuns,
    maxConcurrentRunsSource: overrides.maxConcurrentRuns !== null ? "admin" : env.maxConcurrentRuns !== undefined ? "env" : "machine",
    maxConcurrentRunsPerUser: overrides.maxConcurrentRunsPerUser ?? defaults.maxConcurrentRunsPerUser,
    maxConcurrentRunsPerUserSource: overrides.maxConcurrentRunsPerUser !== null ? "admin" : env.maxConcurrentRunsPerUser !== undefined ? "env" : "none",
    memoryRatio,
    memoryRatioSource: overrides.memoryRatio !== null ? "admin" : "env",
    host,
    memoryBudgetMb: Math.floor(memoryRatio * host.memoryMb),
    overrides,
    defaults,
  };
}

/** An admin changes the queue's limits (audited); a field left out keeps its value, null restores the default. */
export function updateQueueSettings(db: Db, actor: Actor, raw: z.input<typeof updateQueueSettingsInput>): QueueSettingsView {
  const parsed = updateQueueSettingsInput.safeParse(raw);
  if (!parsed.success) throw new DomainError("INVALID_INPUT", parsed.error.issues.map((i) => `${i.path.join(".") || "input"}: ${i.message}`).join("; "));
  const input = parsed.data;
  db.transaction(
    (tx) => {
      const row = tx.select().from(instanceSettings).where(eq(instanceSettings.key, KEY)).get();
      const before = (row?.value ?? {}) as StoredQueueSettings;
      const after: StoredQueueSettings = { ...before, ...input };
      const now = new Date();
      tx.insert(instanceSettings)
        .values({ key: KEY, value: after, updatedBy: actor.label, updatedAt: now })
        .onConflictDoUpdate({ target: instanceSettings.key, set: { value: after, updatedBy: actor.label, updatedAt: now } })
        .run();
      appendAudit(tx, actor, { action: "settings.queue.update", targetType: "settings", targetId: KEY, details: { before, after } });
    },
    { behavior: "immediate" },
  );
  emitSignal(QUEUE_CHANGED_SIGNAL, null);
  return queueSettings(db);
}
