// Container snapshots (issue 5, item 6): for changes outside /workspace that
// matter — installed packages — a reviewer snapshots a live run's container
// at its latest checkpoint, and can later restart the run from it.
//
// What a snapshot holds: the sandbox's root filesystem is read-only, so the
// only place outside /workspace the agent can change is its home directory
// (a tmpfs), which is exactly where user-level installs land (pip --user,
// npm -g with the sandbox's prefix, ~/.local/bin). The runtime commits that
// home on top of the sandbox image (`docker commit` of a builder container);
// a sandbox created from the image gets it back. /workspace is covered by the
// checkpoint the snapshot is attached to.
//
// Restart: the run (live or paused in this process or not) is held like a
// rollback — new tool calls wait, a running command is killed — the
// workspace is restored to the snapshot's checkpoint, a new container is
// made from the snapshot with the same hardening, the agent's gateway
// session is switched to it, the old container is removed, and the agent is
// told. It is an audit event and a checkpoint (the workspace restore).
//
// Storage: images are labelled (run, checkpoint, instance); the engine is the
// source of truth. At most MAX_SNAPSHOTS_PER_RUN per run; a run's snapshots are
// removed when it ends (they are of no use to a finished run), and the
// supervisor prunes those of finished or unknown runs when it starts.
import { and, eq, inArray, isNotNull } from "drizzle-orm";
import type { Db } from "@/db/client";
import { runs, workspaces, type Run } from "@/db/schema";
import { appendAudit, type Actor } from "@/server/audit/chain";
import { announce, insertRunEvent } from "@/server/events/bus";
import { DomainError } from "@/server/errors/domain-error";
import { SandboxError, SNAPSHOT_REPO, type SandboxRuntime, type SnapshotSummary } from "@/server/sandbox/runtime";
import { isTerminal, transitionRun, TERMINAL_STATES } from "@/server/runs/state-machine";
import { asRollback, isRollingBack, withWorkspaceLock } from "./coordination";
import { getWorkspace, latestCheckpoint, listCheckpoints, requireCheckpoint, restoreCheckpointLocked } from "./checkpoints";
import { requireRun } from "@/server/runs/lookup";
import { quiesce } from "./rollback";
import { formatBytes } from "@/lib/format";
import { parseEngineRef } from "@/server/engines/types";

/** What snapshots need from the supervisor. */
export interface SnapshotHost {
  readonly runtime: SandboxRuntime;
  /** Points the run's live agent session (if this process drives it) at a new container. */
  switchContainer(runId: string, containerId: string): boolean;
}

export const MAX_SNAPSHOTS_PER_RUN = 5;

export interface SnapshotInfo {
  image: string;
  checkpointId: string | null;
  seq: number | null;
  checkpointLabel: string | null;
  createdAt: Date;
  sizeBytes: number;
}

export interface RestartResult {
  image: string;
  checkpointId: string;
  containerId: string;
  previousContainerId: string;
  /** The checkpoint recording the workspace restore (null when the workspace was left as it was). */
  restoreCheckpointId: string | null;
  state: Run["state"];
}

const safe = (s: string) => s.replace(/[^A-Za-z0-9_.-]/g, "-");

/** The image tag of a run's snapshot at a checkpoint (one snapshot per checkpoint; a new one replaces it). */
export function snapshotTag(runId: string, checkpointId: string): string {
  return `${safe(runId)}-${safe(checkpointId)}`.slice(0, 128);
}

export function snapshotImageName(runId: string, checkpointId: string): string {
  return `${SNAPSHOT_REPO}:${snapshotTag(runId, checkpointId)}`;
}

function requireLiveContainer(run: Run, what: string): string {
  if (isTerminal(run.state)) throw new DomainError("PRECONDITION_FAILED", `Run ${run.id} is ${run.state}; ${what} needs a run that is still going.`);
  if (!run.containerId) throw new DomainError("PRECONDITION_FAILED", `Run ${run.id} has no container (yet); nothing to ${what}.`);
  return run.containerId;
}

function engineUnavailable(err: unknown, what: string): never {
  if (err instanceof SandboxError && (err.code === "SANDBOX_GONE" || err.code === "SANDBOX_NOT_RUNNING")) {
    throw new DomainError("PRECONDITION_FAILED", `${what}: the run's container is not running (${err.message}).`);
  }
  if (err instanceof SandboxError) throw new DomainError("PRECONDITION_FAILED", `${what}: ${err.message}`);
  throw err;
}

function record(db: Db, actor: Actor, runId: string, action: string, details: Record<string, unknown>, note: { text: string; toModel?: string }) {
  const event = db.transaction(
    (tx) => {
      // workspaces.snapshot_image: the run's latest snapshot that still exists.
      if (action === "workspace.snapshot") {
        tx.update(workspaces)
          .set({ snapshotImage: String(details.image), updatedAt: new Date() })
          .where(eq(workspaces.runId, runId))
          .run();
      } else if (action === "workspace.snapshot_delete") {
        tx.update(workspaces)
          .set({ snapshotImage: null, updatedAt: new Date() })
          .where(and(eq(workspaces.runId, runId), eq(workspaces.snapshotImage, String(details.image))))
          .run();
      }
      appendAudit(tx, actor, { action, targetType: "run", targetId: runId, details });
      return insertRunEvent(tx, runId, "note", { ...note, ...(note.toModel ? { inject: true } : {}), source: "workspace" });
    },
    { behavior: "immediate" },
  );
  announce(event);
}

/** The run's snapshots, oldest first, with the checkpoint each belongs to. */
export async function listRunSnapshots(db: Db, runtime: SandboxRuntime, runId: string): Promise<SnapshotInfo[]> {
  requireRun(db, runId);
  let found: SnapshotSummary[];
  try {
    found = await runtime.listSnapshots(runId);
  } catch (err) {
    engineUnavailable(err, "Listing the run's snapshots");
  }
  const byId = new Map(listCheckpoints(db, runId).map((c) => [c.id, c]));
  return found.map((s) => {
    const c = s.checkpointId ? byId.get(s.checkpointId) : undefined;
    return {
      image: s.image,
      checkpointId: s.checkpointId,
      seq: c?.seq ?? null,
      checkpointLabel: c?.label ?? null,
      createdAt: s.createdAt,
      sizeBytes: s.sizeBytes,
    };
  });
}

/**
 * Snapshots the run's container, attached to its latest checkpoint (a
 * snapshot is the container as it is now, so it can only belong to the
 * workspace as it is now). Reviewers only (checked by the router). Taken
 * under the workspace lock, so no checkpoint is being written meanwhile.
 */
export async function snapshotRun(
  db: Db,
  host: SnapshotHost,
  runId: string,
  actor: Actor,
  opts: { checkpointId?: string } = {},
): Promise<SnapshotInfo & { checkpointId: string; seq: number }> {
  const run = requireRun(db, runId);
  requireLiveContainer(run, "snapshot");
  const checkpoint = latestCheckpoint(db, runId);
  if (!checkpoint) throw new DomainError("PRECONDITION_FAILED", `Run ${runId} has no checkpoint yet to attach a snapshot to.`);
  if (opts.checkpointId && opts.checkpointId !== checkpoint.id) {
    const asked = requireCheckpoint(db, runId, opts.checkpointId);
    throw new DomainError(
      "PRECONDITION_FAILED",
      `A snapshot captures the container as it is now, so it belongs to the latest checkpoint (#${checkpoint.seq}), not #${asked.seq}. Roll back to #${asked.seq} first if that is the state you want to keep.`,
    );
  }
  const existing = await listRunSnapshots(db, host.runtime, runId);
  const replacing = existing.some((s) => s.checkpointId === checkpoint.id);
  if (!replacing && existing.length >= MAX_SNAPSHOTS_PER_RUN) {
    throw new DomainError(
      "PRECONDITION_FAILED",
      `Run ${runId} already has ${existing.length} snapshots (the limit is ${MAX_SNAPSHOTS_PER_RUN}); delete one before taking another.`,
    );
  }
  const summary = await withWorkspaceLock(runId, async () => {
    const containerId = requireLiveContainer(requireRun(db, runId), "snapshot");
    try {
      return await host.runtime.snapshotSandbox(containerId, snapshotTag(runId, checkpoint.id), { checkpointId: checkpoint.id });
    } catch (err) {
      engineUnavailable(err, "The snapshot could not be taken");
    }
  });
  record(
    db,
    actor,
    runId,
    "workspace.snapshot",
    { image: summary.image, checkpointId: checkpoint.id, seq: checkpoint.seq, sizeBytes: summary.sizeBytes, replaced: replacing },
    {
      text: `${actor.label} snapshotted the run's container at checkpoint #${checkpoint.seq} (${summary.image}, ${formatBytes(summary.sizeBytes)} on top of the sandbox image).`,
    },
  );
  return {
    image: summary.image,
    checkpointId: checkpoint.id,
    seq: checkpoint.seq,
    checkpointLabel: checkpoint.label,
    createdAt: summary.createdAt,
    sizeBytes: summary.sizeBytes,
  };
}

/** Deletes one of the run's snapshots (reviewers). */
export async function deleteSnapshot(db: Db, runtime: SandboxRuntime, runId: string, checkpointId: string, actor: Actor): Promise<void> {
  const checkpoint = requireCheckpoint(db, runId, checkpointId);
  const snapshot = (await listRunSnapshots(db, runtime, runId)).find((s) => s.checkpointId === checkpointId);
  if (!snapshot) throw new DomainError("NOT_FOUND", `Run ${runId} has no snapshot at checkpoint #${checkpoint.seq}.`);
  try {
    await runtime.removeSnapshot(snapshot.image);
  } catch (err) {
    engineUnavailable(err, "The snapshot could not be deleted");
  }
  record(
    db,
    actor,
    runId,
    "workspace.snapshot_delete",
    { image: snapshot.image, checkpointId, seq: checkpoint.seq },
    { text: `${actor.label} deleted the snapshot at checkpoint #${checkpoint.seq}.` },
  );
}

/**
 * Restarts the run's sandbox from its snapshot at the checkpoint: the
 * workspace goes back to that checkpoint (unless restoreWorkspace is false)
 * and a new container with the same hardening is made from the snapshot.
 * A live run is held like a rollback meanwhile and told afterwards.
 */
export async function restartFromSnapshot(
  db: Db,
  host: SnapshotHost,
  runId: string,
  checkpointId: string,
  actor: Actor,
  opts: { restoreWorkspace?: boolean } = {},
): Promise<RestartResult> {
  const restoreWorkspace = opts.restoreWorkspace ?? true;
  const run = requireRun(db, runId);
  const checkpoint = requireCheckpoint(db, runId, checkpointId);
  requireLiveContainer(run, "restart from a snapshot");
  if (!run.workspaceDir) throw new DomainError("PRECONDITION_FAILED", `Run ${runId} has no workspace.`);
  if (restoreWorkspace && getWorkspace(db, runId)?.cleanedAt)
    throw new DomainError("PRECONDITION_FAILED", "This run's workspace was cleaned up; it cannot be restored.");
  const snapshot = (await listRunSnapshots(db, host.runtime, runId)).find((s) => s.checkpointId === checkpoint.id);
  if (!snapshot)
    throw new DomainError(
      "NOT_FOUND",
      `Run ${runId} has no snapshot at checkpoint #${checkpoint.seq}; take one first (snapshots belong to the checkpoint that was the latest when they were taken).`,
    );
  if (isRollingBack(runId)) throw new DomainError("CONFLICT", "A rollback or restart of this run is in progress; wait for it to finish.");

  return asRollback(runId, async (markRestoring) => {
    let current = requireRun(db, runId);
    await quiesce(db, host, current);
    current = requireRun(db, runId);
    requireLiveContainer(current, "restart from a snapshot");
    let paused = false;
    if (current.state === "running") {
      transitionRun(db, runId, "paused", actor, { from: ["running"], reason: `restarting from the snapshot at checkpoint #${checkpoint.seq}` });
      paused = true;
    }
    const endRestoring = markRestoring();
    let outcome: { containerId: string; previousContainerId: string; restoreCheckpointId: string | null };
    try {
      outcome = await withWorkspaceLock(runId, async () => {
        const fresh = requireRun(db, runId);
        const previousContainerId = requireLiveContainer(fresh, "restart from a snapshot");
        await host.runtime.killProcesses(previousContainerId).catch(() => undefined);
        let restoreCheckpointId: string | null = null;
        if (restoreWorkspace) {
          const restored = await restoreCheckpointLocked(db, runId, checkpoint.id, {
            actor,
            runtime: host.runtime,
            reason: `restart from the snapshot at #${checkpoint.seq}`,
            label: `restart from snapshot at #${checkpoint.seq}`,
          });
          restoreCheckpointId = restored.checkpoint.id;
        }
        let containerId: string;
        try {
          // The run keeps the runtime it started with: a restart never moves a gVisor run onto runc.
          ({ containerId } = await host.runtime.createSandbox({
            runId,
            image: snapshot.image,
            workspaceDir: fresh.workspaceDir!,
            limits: fresh.limits,
            runtime: fresh.runtime ?? undefined,
            // Issue 17: where the run's snapshot and workspace volume are (the new container mounts the same volume).
            engine: parseEngineRef(previousContainerId).engine,
          }));
        } catch (err) {
          if (err instanceof SandboxError && err.code === "IMAGE_MISSING") {
            throw new DomainError("NOT_FOUND", `The snapshot image ${snapshot.image} is gone (removed outside Airlock?); the run keeps its current container.`);
          }
          engineUnavailable(
            err,
            `The sandbox could not be restarted from the snapshot${restoreWorkspace ? " (the workspace WAS restored to the checkpoint)" : ""}; the run keeps its current container`,
          );
        }
        try {
          db.update(runs).set({ containerId, updatedAt: new Date() }).where(eq(runs.id, runId)).run();
        } catch (err) {
          await host.runtime.removeSandbox(containerId).catch(() => undefined);
          throw err;
        }
        host.switchContainer(runId, containerId);
        await host.runtime.stopSandbox(previousContainerId).catch(() => undefined);
        await host.runtime.removeSandbox(previousContainerId).catch(() => undefined);
        return { containerId, previousContainerId, restoreCheckpointId };
      });
    } finally {
      endRestoring();
      if (paused) {
        try {
          transitionRun(db, runId, "running", actor, { from: ["paused"], reason: `restarted from the snapshot at checkpoint #${checkpoint.seq}` });
        } catch {
          // The run was stopped meanwhile; it stays stopped.
        }
      }
    }
    record(
      db,
      actor,
      runId,
      "workspace.snapshot_restart",
      { image: snapshot.image, checkpointId: checkpoint.id, seq: checkpoint.seq, restoreWorkspace, ...outcome },
      {
        text: `${actor.label} restarted the run's container from its snapshot at checkpoint #${checkpoint.seq}${restoreWorkspace ? " and restored the workspace to it" : ""}.`,
        toModel:
          `Airlock notice: a reviewer (${actor.label}) restarted your sandbox from the snapshot taken at checkpoint #${checkpoint.seq} ("${checkpoint.label}"). ` +
          "Every process you had running is gone and /tmp is empty; your home directory (and what you installed there) is as it was at that snapshot" +
          (restoreWorkspace
            ? ", and so are the files in /workspace: every change after that checkpoint is undone."
            : "; the files in /workspace were left as they were.") +
          " Check your environment before continuing.",
      },
    );
    return { image: snapshot.image, checkpointId: checkpoint.id, ...outcome, state: requireRun(db, runId).state };
  });
}

/** When a run ends: its snapshots are of no further use. Never throws. */
export async function removeRunSnapshots(runtime: SandboxRuntime, runId: string, db?: Db): Promise<number> {
  try {
    const found = await runtime.listSnapshots(runId);
    for (const s of found) await runtime.removeSnapshot(s.image).catch(() => undefined);
    db?.update(workspaces)
      .set({ snapshotImage: null })
      .where(and(eq(workspaces.runId, runId), isNotNull(workspaces.snapshotImage)))
      .run();
    return found.length;
  } catch (err) {
    console.error(`airlock: could not remove the snapshots of run ${runId}:`, err);
    return 0;
  }
}

/** At start: removes snapshots of this Airlock's runs that have ended or are unknown. Never throws. */
export async function pruneSnapshots(db: Db, runtime: SandboxRuntime): Promise<string[]> {
  try {
    await runtime.removeSnapshotLeftovers();
    const found = await runtime.listSnapshots();
    if (found.length === 0) return [];
    const ids = [...new Set(found.map((s) => s.runId))];
    const active = new Set(
      db
        .select({ id: runs.id, state: runs.state })
        .from(runs)
        .where(inArray(runs.id, ids))
        .all()
        .filter((r) => !(TERMINAL_STATES as readonly string[]).includes(r.state))
        .map((r) => r.id),
    );
    const removed: string[] = [];
    for (const s of found) {
      if (active.has(s.runId)) continue;
      await runtime.removeSnapshot(s.image).catch(() => undefined);
      removed.push(s.image);
    }
    return removed;
  } catch (err) {
    console.error("airlock: could not prune snapshots:", err);
    return [];
  }
}
