// Container snapshots (issue 5, item 6): a reviewer commits a live run's
// container to an image at a checkpoint, and can later restart the run's
// sandbox from that image, with the same hardening and the same workspace.
//
// What a snapshot holds: the container's writable layer on top of the sandbox
// image. With the default hardening the root FS is read-only and /tmp and
// /home/agent are tmpfs (never committed), and /workspace is a bind mount
// (covered by checkpoints, not by the image): so today a snapshot preserves the
// image's own layers and nothing the agent installed. Installed packages would
// need a writable overlay (a non-read-only root or a persistent volume),
// which the hardening deliberately does not give.
//
// Storage: the schema has one snapshot column, workspaces.snapshot_image (the
// run's latest snapshot); which checkpoint each snapshot belongs to is in its
// image tag (airlock-snapshot:<run>-<checkpoint>) and in its audit event.
import { eq } from "drizzle-orm";
import type { Db } from "@/db/client";
import { runs, workspaces, type Run } from "@/db/schema";
import { appendAudit, type Actor } from "@/server/audit/chain";
import { announce, insertRunEvent } from "@/server/events/bus";
import { DomainError } from "@/server/errors/domain-error";
import { SandboxError, SNAPSHOT_REPO, type SandboxRuntime } from "@/server/sandbox/runtime";
import { isTerminal } from "@/server/supervisor/state-machine";
import { withWorkspaceLock } from "./coordination";
import { latestCheckpoint, loadRun, requireCheckpoint } from "./checkpoints";

/** What snapshots need from the supervisor. */
export interface SnapshotHost {
  readonly runtime: SandboxRuntime;
  isLive(runId: string): boolean;
}

export interface SnapshotResult {
  image: string;
  checkpointId: string;
  seq: number;
}

export interface RestartResult {
  image: string;
  checkpointId: string;
  containerId: string;
  previousContainerId: string;
}

const safe = (s: string) => s.replace(/[^A-Za-z0-9_.-]/g, "-");

/** The image tag of a run's snapshot at a checkpoint (deterministic: restart finds it from the checkpoint). */
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

function record(db: Db, actor: Actor, runId: string, action: string, details: Record<string, unknown>, note: { text: string; toModel?: string }) {
  const event = db.transaction(
    (tx) => {
      if (action === "workspace.snapshot") {
        tx.update(workspaces).set({ snapshotImage: String(details.image), updatedAt: new Date() }).where(eq(workspaces.runId, runId)).run();
      }
      appendAudit(tx, actor, { action, targetType: "run", targetId: runId, details });
      return insertRunEvent(tx, runId, "note", { ...note, ...(note.toModel ? { inject: true } : {}), source: "workspace" });
    },
    { behavior: "immediate" },
  );
  announce(event);
}

/**
 * Commits the run's container as an image, recorded against a checkpoint (the
 * latest, or the one given). Reviewers only (checked by the router). Taken
 * under the workspace lock, so no checkpoint is being written meanwhile; the
 * engine pauses the container during the commit.
 */
export async function snapshotRun(db: Db, host: SnapshotHost, runId: string, actor: Actor, opts: { checkpointId?: string } = {}): Promise<SnapshotResult> {
  const run = loadRun(db, runId);
  requireLiveContainer(run, "snapshot");
  const checkpoint = opts.checkpointId ? requireCheckpoint(db, runId, opts.checkpointId) : latestCheckpoint(db, runId);
  if (!checkpoint) throw new DomainError("PRECONDITION_FAILED", `Run ${runId} has no checkpoint yet to attach a snapshot to.`);
  const { image } = await withWorkspaceLock(runId, async () => {
    const containerId = requireLiveContainer(loadRun(db, runId), "snapshot");
    return host.runtime.snapshotSandbox(containerId, snapshotTag(runId, checkpoint.id));
  });
  record(
    db,
    actor,
    runId,
    "workspace.snapshot",
    { image, checkpointId: checkpoint.id, seq: checkpoint.seq },
    { text: `${actor.label} snapshotted the run's container at checkpoint #${checkpoint.seq} (${image}).` },
  );
  return { image, checkpointId: checkpoint.id, seq: checkpoint.seq };
}

/**
 * Replaces the run's container with a new one made from its snapshot at the
 * checkpoint: same hardened spec, same workspace bind mount (the workspace
 * itself is not touched: roll it back to the checkpoint separately if
 * wanted). The old container is stopped and removed; runs.containerId points
 * at the new one; the agent is told.
 *
 * Limitation: a run whose agent loop is live in this process is refused. The
 * loop holds its container id for its whole life (GatewaySession), so swapping
 * the container under it would break its next tool call; this needs a
 * supervisor hook (pause the loop, swap the session's container) that does not
 * exist yet. Runs not driven in this process (after a supervisor shutdown,
 * before the next reconcile, which resumes them on runs.containerId) can be
 * restarted.
 */
export async function restartFromSnapshot(db: Db, host: SnapshotHost, runId: string, checkpointId: string, actor: Actor): Promise<RestartResult> {
  const run = loadRun(db, runId);
  const checkpoint = requireCheckpoint(db, runId, checkpointId);
  requireLiveContainer(run, "restart from a snapshot");
  if (!run.workspaceDir) throw new DomainError("PRECONDITION_FAILED", `Run ${runId} has no workspace.`);
  if (host.isLive(runId)) {
    throw new DomainError(
      "CONFLICT",
      `Run ${runId}'s agent loop is running in this process and holds its current container; restarting from a snapshot needs the loop stopped first (not supported yet).`,
    );
  }
  const image = snapshotImageName(runId, checkpoint.id);
  return withWorkspaceLock(runId, async () => {
    const current = loadRun(db, runId);
    const previousContainerId = requireLiveContainer(current, "restart from a snapshot");
    let containerId: string;
    try {
      ({ containerId } = await host.runtime.createSandbox({ runId, image, workspaceDir: current.workspaceDir!, limits: current.limits }));
    } catch (err) {
      if (err instanceof SandboxError && err.code === "IMAGE_MISSING") {
        throw new DomainError("NOT_FOUND", `Run ${runId} has no snapshot at checkpoint #${checkpoint.seq}.`);
      }
      throw err;
    }
    try {
      db.update(runs).set({ containerId, updatedAt: new Date() }).where(eq(runs.id, runId)).run();
    } catch (err) {
      await host.runtime.removeSandbox(containerId).catch(() => undefined);
      throw err;
    }
    await host.runtime.stopSandbox(previousContainerId).catch(() => undefined);
    await host.runtime.removeSandbox(previousContainerId).catch(() => undefined);
    record(
      db,
      actor,
      runId,
      "workspace.snapshot_restart",
      { image, checkpointId: checkpoint.id, seq: checkpoint.seq, containerId, previousContainerId },
      {
        text: `${actor.label} restarted the run's container from its snapshot at checkpoint #${checkpoint.seq}.`,
        toModel:
          `Airlock notice: a reviewer (${actor.label}) restarted your sandbox from the snapshot taken at checkpoint #${checkpoint.seq} ("${checkpoint.label}"). ` +
          "Every process you had running is gone, and /tmp and your home directory are empty again; the files in /workspace are unchanged. Check your environment before continuing.",
      },
    );
    return { image, checkpointId: checkpoint.id, containerId, previousContainerId };
  });
}
