// Helpers for integration tests that drive real runs: a supervisor over the
// real Docker runtime and a temp data dir, and waiting on run state.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { and, eq } from "drizzle-orm";
import type { Db } from "@/db/client";
import { approvals, runs, toolCalls, type Approval, type Run, type RunState } from "@/db/schema";
import { dockerRuntime, instanceIdForDataDir } from "@/server/sandbox/runtime";
import { sandboxImageName } from "@/server/sandbox/image";
import { getSupervisor, setSupervisor, Supervisor, type SupervisorOptions } from "@/server/supervisor/supervisor";
import { createModel } from "@/server/models/models";
import { createRun } from "@/server/runs/runs";
import { decideApproval } from "@/server/approvals/approvals";
import type { PublicUser } from "@/server/users/users";
import { createTestDb, type TestDb } from "@/test/helpers/db";
import { requireDocker } from "@/test/helpers/docker";
import { withRuntimeUnderTest } from "@/test/helpers/sandbox-runtime";
import { actorOf, addUser, SETUP_ACTOR } from "@/test/helpers/users";
import { updateQueueSettings } from "@/server/runs/queue-settings";

export { requireDocker } from "@/test/helpers/docker";

export function tempDataDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "airlock-run-"));
}

/** `extra`: supervisor options of a suite's own (the runtime setting, the gVisor probe seam). */
export function newSupervisor(
  db: Db,
  dataDir: string,
  extra: Partial<Pick<SupervisorOptions, "runtimeSetting" | "gvisorProbe" | "resourceSampleMs">> = {},
): Supervisor {
  return new Supervisor({
    db,
    // Under the runtime under test (gVisor or runc: see vitest.config.ts).
    runtime: withRuntimeUnderTest(dockerRuntime(undefined, { instance: instanceIdForDataDir(dataDir) })),
    dataDir,
    image: sandboxImageName(),
    sweepMs: 200,
    ...extra,
  });
}

export function registerModel(db: Db, admin: PublicUser, baseUrl: string): string {
  return createModel(db, actorOf(admin), { name: "scripted", baseUrl, model: "scripted-model" }).id;
}

export function startRun(
  db: Db,
  supervisor: Supervisor,
  operator: PublicUser,
  modelId: string,
  extra: Partial<{ stepMode: boolean; limits: Record<string, number>; title: string; task: string; testCommand: string; projectId: string }> = {},
): Run {
  const run = createRun(
    db,
    { ...actorOf(operator), userId: operator.id },
    {
      title: extra.title ?? "test run",
      task: extra.task ?? "do the thing",
      modelId,
      stepMode: extra.stepMode ?? false,
      limits: extra.limits,
      testCommand: extra.testCommand,
      projectId: extra.projectId,
    },
  );
  supervisor.launch(run.id);
  return run;
}

export async function waitFor<T>(what: string, probe: () => T | undefined | null | false, timeoutMs = 60_000, describe?: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${describe ? `: ${describe()}` : ""}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function getRun(db: Db, id: string): Run {
  return db.select().from(runs).where(eq(runs.id, id)).get()!;
}

export function waitForState(db: Db, runId: string, states: RunState | RunState[], timeoutMs = 60_000): Promise<Run> {
  const want = Array.isArray(states) ? states : [states];
  return waitFor(
    `run ${runId} to be ${want.join("|")} (is ${getRun(db, runId)?.state})`,
    () => {
      const r = getRun(db, runId);
      return want.includes(r.state) ? r : undefined;
    },
    timeoutMs,
  );
}

function describeRun(db: Db, runId: string): string {
  const run = getRun(db, runId);
  const all = db.select().from(approvals).where(eq(approvals.runId, runId)).all();
  const calls = db.select().from(toolCalls).where(eq(toolCalls.runId, runId)).all();
  return `run is ${run?.state} (${run?.endedReason ?? ""}); approvals: ${all.map((a) => `${a.kind}/${a.tool}=${a.state}`).join(", ")}; calls: ${calls.map((c) => `${c.tool}=${c.state}/${c.verdict}/${c.errorCode ?? ""}`).join(", ")}`;
}

export function waitForPendingApproval(db: Db, runId: string, kind?: Approval["kind"], timeoutMs = 60_000): Promise<Approval> {
  return waitFor(
    `a pending ${kind ?? ""} approval on run ${runId}`,
    () =>
      db
        .select()
        .from(approvals)
        .where(and(eq(approvals.runId, runId), eq(approvals.state, "pending"), ...(kind ? [eq(approvals.kind, kind)] : [])))
        .get(),
    timeoutMs,
    () => describeRun(db, runId),
  );
}

/** A reviewer who approves every pending approval of the run (the plan included) until the returned function is called. */
export function approveEverything(db: Db, runId: string, reviewer: PublicUser): () => void {
  let stopped = false;
  void (async () => {
    while (!stopped) {
      for (const a of db
        .select()
        .from(approvals)
        .where(and(eq(approvals.runId, runId), eq(approvals.state, "pending")))
        .all()) {
        try {
          decideApproval(db, { ...actorOf(reviewer), userId: reviewer.id }, { id: a.id, decision: "approve" });
        } catch {
          // decided meanwhile
        }
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return () => void (stopped = true);
}

/**
 * Suites that are not about the run queue must not wait in it: runs they
 * arrange by hand or leave waiting on a reviewer hold slots, and the default
 * limits depend on the machine's size. test/queue.int.test.ts sets its own.
 */
export function roomyQueue(db: Db): void {
  updateQueueSettings(db, SETUP_ACTOR, { maxConcurrentRuns: 1000, maxConcurrentRunsPerUser: null, memoryRatio: 4 });
}

export interface SupervisedWorld {
  t: TestDb;
  dataDir: string;
  supervisor: Supervisor;
  admin: PublicUser;
  operator: PublicUser;
  reviewer: PublicUser;
}

/**
 * What the supervised-run suites share: a test database, a started
 * supervisor on the real engine (also the process's, for routers, when
 * `global`), and an admin, an operator and a reviewer.
 */
export async function setUpSupervisedWorld(
  opts: { global?: boolean; supervisor?: Partial<Pick<SupervisorOptions, "runtimeSetting" | "gvisorProbe" | "resourceSampleMs">> } = {},
): Promise<SupervisedWorld> {
  await requireDocker();
  const t = createTestDb();
  roomyQueue(t.db);
  const dataDir = tempDataDir();
  const supervisor = newSupervisor(t.db, dataDir, opts.supervisor);
  if (opts.global) setSupervisor(supervisor);
  await supervisor.start();
  const admin = await addUser(t.db, "admin");
  const operator = await addUser(t.db, "operator");
  const reviewer = await addUser(t.db, "reviewer");
  return { t, dataDir, supervisor, admin, operator, reviewer };
}

/** Stops every run of the supervisor and the supervisor itself (no longer the process's). */
export async function stopSupervisor(supervisor: Supervisor | undefined): Promise<void> {
  await supervisor?.stopAll({ userId: null, label: "test-cleanup" }, "test cleanup").catch(() => undefined);
  await supervisor?.shutdown();
  if (supervisor && getSupervisor() === supervisor) setSupervisor(undefined);
}
