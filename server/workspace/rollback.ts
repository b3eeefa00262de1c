// Rollback: a reviewer (or the run's operator, when the run allows it)
// restores the workspace to a checkpoint. A live run is paused meanwhile —
// its command killed, new tool calls held back — and the agent is told what
// happened. Automatic rollbacks: a failed or stopped run returns to its last
// approved checkpoint, and a step whose tests fail is reverted.
import { and, desc, eq, inArray, lt, or, isNull } from "drizzle-orm";
import type { Db } from "@/db/client";
import { checkpoints, runs, toolCalls, users, type Checkpoint, type Run } from "@/db/schema";
import { appendAudit, SYSTEM_ACTOR, type Actor } from "@/server/audit/chain";
import { announce, insertRunEvent, publishRunEvent } from "@/server/events/bus";
import { DomainError } from "@/server/errors/domain-error";
import type { SandboxRuntime } from "@/server/sandbox/runtime";
import { isTerminal, transitionRun } from "@/server/runs/state-machine";
import { rollbackDenial } from "@/lib/permissions";
import { asRollback, isRollingBack, withWorkspaceLock } from "./coordination";
import { getWorkspace, latestCheckpoint, requireCheckpoint, restoreCheckpointLocked, startCheckpoint, type RestoreResult } from "./checkpoints";
import { requireRun } from "@/server/runs/lookup";
import { stopRunServices } from "@/server/services/services";

/** What rollback needs from the supervisor. */
export interface WorkspaceHost {
  readonly runtime: SandboxRuntime;
}

export interface RollbackResult {
  checkpointId: string;
  restoredFromId: string;
  savedCheckpointId: string | null;
  state: Run["state"];
  exact: boolean;
  durationMs: number;
}

const QUIET_TIMEOUT_MS = 20_000;

/** Reviewers may roll back any run; an operator only their own run, and only when the run allows it (the rule: lib/permissions.ts). */
export function assertMayRollback(db: Db, run: Run, actor: Actor): void {
  const user = actor.userId ? db.select().from(users).where(eq(users.id, actor.userId)).get() : undefined;
  const denial = rollbackDenial(user && !user.disabledAt ? user : null, run);
  if (denial) throw new DomainError(denial.code, denial.message);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Waits until no tool call of the run is being judged or executed, killing
 * the container's processes while one executes (a rollback interrupts a
 * running command). New calls are held back by the rollback gate meanwhile.
 */
export async function quiesce(db: Db, host: WorkspaceHost, run: Run): Promise<void> {
  const deadline = Date.now() + QUIET_TIMEOUT_MS;
  for (;;) {
    const busy = db
      .select({ id: toolCalls.id, state: toolCalls.state })
      .from(toolCalls)
      .where(and(eq(toolCalls.runId, run.id), inArray(toolCalls.state, ["judging", "approved", "executing"])))
      .all();
    if (busy.length === 0) break;
    if (Date.now() > deadline)
      throw new DomainError("CONFLICT", `Run ${run.id} did not become quiet within ${QUIET_TIMEOUT_MS / 1000} s; try the rollback again.`);
    if (run.containerId && busy.some((c) => c.state === "executing")) await host.runtime.killProcesses(run.containerId).catch(() => undefined);
    await sleep(100);
  }
  // Whatever the agent left running in the background must not write during the restore.
  if (run.containerId) await host.runtime.killProcesses(run.containerId).catch(() => undefined);
}

function agentNote(db: Db, runId: string, text: string, toModel: string) {
  publishRunEvent(db, runId, "note", { text, toModel, inject: true, source: "workspace" });
}

/**
 * Restores a run's workspace to one of its checkpoints. Live runs are paused
 * (running → paused → running) and told; finished runs become rolled_back.
 */
export async function rollbackRun(
  db: Db,
  host: WorkspaceHost,
  runId: string,
  checkpointId: string,
  actor: Actor,
  opts: { reason?: string } = {},
): Promise<RollbackResult> {
  const run = requireRun(db, runId);
  assertMayRollback(db, run, actor);
  const target = requireCheckpoint(db, runId, checkpointId);
  if (getWorkspace(db, runId)?.cleanedAt)
    throw new DomainError("PRECONDITION_FAILED", "This run's workspace was cleaned up after its retention period; its diffs remain but it cannot be restored.");
  if (isRollingBack(runId)) throw new DomainError("CONFLICT", "Another rollback of this run is in progress; wait for it to finish.");
  return asRollback(runId, async (markRestoring) => {
    let current = requireRun(db, runId);
    const live = !isTerminal(current.state);
    if (live) await quiesce(db, host, current);
    current = requireRun(db, runId);
    let paused = false;
    if (current.state === "running") {
      transitionRun(db, runId, "paused", actor, { from: ["running"], reason: `rolling back to checkpoint #${target.seq}` });
      paused = true;
    }
    const endRestoring = markRestoring();
    let restored: RestoreResult;
    try {
      restored = await withWorkspaceLock(runId, async () => {
        const fresh = requireRun(db, runId);
        if (!isTerminal(fresh.state) && fresh.containerId) await host.runtime.killProcesses(fresh.containerId).catch(() => undefined);
        // Services would keep serving the files being replaced: they stop too (the agent starts them again if it needs them).
        await stopRunServices(db, host.runtime, runId, actor, "the workspace was rolled back");
        return restoreCheckpointLocked(db, runId, checkpointId, { actor, runtime: host.runtime, reason: opts.reason });
      });
    } finally {
      endRestoring();
      if (paused) {
        try {
          transitionRun(db, runId, "running", actor, { from: ["paused"], reason: `rolled back to checkpoint #${target.seq}` });
        } catch {
          // The run was stopped meanwhile; it stays stopped.
        }
      }
    }
    const after = requireRun(db, runId);
    if (isTerminal(after.state) && after.state !== "rolled_back") {
      transitionRun(db, runId, "rolled_back", actor, {
        reason: `workspace rolled back to checkpoint #${target.seq} by ${actor.label}`,
        details: { checkpointId: restored.checkpoint.id },
      });
    } else if (!isTerminal(after.state)) {
      agentNote(
        db,
        runId,
        `${actor.label} rolled the workspace back to checkpoint #${target.seq} (${target.label}).`,
        `Airlock notice: a reviewer (${actor.label}) rolled the workspace back to checkpoint #${target.seq} ("${target.label}")${opts.reason ? ` because: ${opts.reason}` : ""}. ` +
          "Every change made after that checkpoint is gone and any command that was running was killed. Look at the files again before continuing.",
      );
    }
    return {
      checkpointId: restored.checkpoint.id,
      restoredFromId: target.id,
      savedCheckpointId: restored.saved?.id ?? null,
      state: requireRun(db, runId).state,
      exact: restored.exact,
      durationMs: restored.durationMs,
    };
  });
}

/** The checkpoint automatic rollback returns to: the last approved one, else the start. */
export function lastApprovedCheckpoint(db: Db, runId: string): Checkpoint | undefined {
  return (
    db
      .select()
      .from(checkpoints)
      .where(and(eq(checkpoints.runId, runId), eq(checkpoints.approved, true)))
      .orderBy(desc(checkpoints.seq))
      .limit(1)
      .get() ?? startCheckpoint(db, runId)
  );
}

/**
 * A run that failed or was stopped, with autoRollback "on_failure", goes back
 * to its last approved checkpoint. Its state stays failed/killed (the reason
 * matters); the restore is a checkpoint and an audit event.
 */
export async function autoRollbackAfterFailure(db: Db, host: WorkspaceHost, runId: string): Promise<Checkpoint | null> {
  const run = requireRun(db, runId);
  if (run.autoRollback !== "on_failure" || (run.state !== "failed" && run.state !== "killed")) return null;
  const target = lastApprovedCheckpoint(db, runId);
  const head = latestCheckpoint(db, runId);
  if (!target || !head || getWorkspace(db, runId)?.cleanedAt) return null;
  const restored = await withWorkspaceLock(runId, () =>
    restoreCheckpointLocked(db, runId, target.id, {
      actor: SYSTEM_ACTOR,
      runtime: host.runtime,
      label: `automatic rollback to #${target.seq} (run ${run.state})`,
      reason: `the run ${run.state} and asks for automatic rollback`,
    }),
  );
  publishRunEvent(db, runId, "note", {
    text: `The workspace was restored automatically to checkpoint #${target.seq} (${target.label}) because the run ${run.state}.`,
    source: "workspace",
  });
  return restored.checkpoint;
}

/**
 * After run_tests failed: the step's changes are reverted to the checkpoint
 * taken before the current plan step started, and the agent is told. Runs
 * inside the agent's own tool call, so nothing else runs meanwhile.
 */
export async function revertFailedStep(db: Db, host: WorkspaceHost, runId: string, detail: string): Promise<Checkpoint | null> {
  const run = requireRun(db, runId);
  if (run.autoRollback !== "on_failure" || isRollingBack(runId)) return null;
  const step = Math.max(1, run.currentStep);
  const target =
    db
      .select()
      .from(checkpoints)
      .where(and(eq(checkpoints.runId, runId), or(isNull(checkpoints.planStep), lt(checkpoints.planStep, step))))
      .orderBy(desc(checkpoints.seq))
      .limit(1)
      .get() ?? startCheckpoint(db, runId);
  const head = latestCheckpoint(db, runId);
  if (!target || !head || target.id === head.id) return null;
  const restored = await asRollback(runId, () =>
    withWorkspaceLock(runId, () =>
      restoreCheckpointLocked(db, runId, target.id, {
        actor: SYSTEM_ACTOR,
        runtime: host.runtime,
        label: `tests failed: step ${step} reverted to #${target.seq}`,
        reason: `run_tests failed during step ${step}`,
      }),
    ),
  );
  if (restored.checkpoint.filesChanged === 0 && !restored.saved) return restored.checkpoint;
  const event = db.transaction(
    (tx) => {
      appendAudit(tx, SYSTEM_ACTOR, {
        action: "workspace.step_reverted",
        targetType: "run",
        targetId: runId,
        details: { step, checkpointId: restored.checkpoint.id, toSeq: target.seq },
      });
      return insertRunEvent(tx, runId, "note", {
        text: `The tests failed, so step ${step}'s changes were reverted (workspace restored to checkpoint #${target.seq}).`,
        toModel:
          `Airlock notice: the tests failed (${detail}), and this run reverts a step whose tests fail: the workspace was restored to checkpoint #${target.seq} ("${target.label}"), ` +
          `the state before step ${step} started. Your changes in step ${step} are gone; read the files again, fix the cause, and redo the step.`,
        inject: true,
        source: "workspace",
      });
    },
    { behavior: "immediate" },
  );
  announce(event);
  return restored.checkpoint;
}

export function setOperatorRollback(db: Db, actor: Actor, runId: string, allowed: boolean): Run {
  requireRun(db, runId);
  db.transaction(
    (tx) => {
      tx.update(runs).set({ operatorMayRollback: allowed, updatedAt: new Date() }).where(eq(runs.id, runId)).run();
      appendAudit(tx, actor, { action: "run.operator_rollback", targetType: "run", targetId: runId, details: { allowed } });
    },
    { behavior: "immediate" },
  );
  return requireRun(db, runId);
}
