// Retention: a finished run's workspace and shadow repository are removed
// after the retention period. Its audit events and checkpoint rows stay, and
// the diffs (each checkpoint's and the run's cumulative one) are copied into
// the database first, so the run page can still show what happened.
import fs from "node:fs/promises";
import { and, eq, inArray, isNotNull, lt } from "drizzle-orm";
import type { Db } from "@/db/client";
import { checkpoints, runs, workspaces } from "@/db/schema";
import { appendAudit, SYSTEM_ACTOR } from "@/server/audit/chain";
import { TERMINAL_STATES } from "@/server/runs/state-machine";
import { ensureWorkspaceRow, forgetCommittedTree, listCheckpoints } from "./checkpoints";
import { withWorkspaceLock } from "./coordination";
import { diffText, openShadowRepo, removeShadowRepo, shadowRepoExists } from "./shadow-repo";
import { workspaceSettings } from "./settings";
import { forgetWorkspaceSize } from "./quota";
import { findRun } from "@/server/runs/lookup";

const CHECKPOINT_DIFF_KEEP = 256 * 1024;
const RUN_DIFF_KEEP = 2 * 1024 * 1024;

/** Cleans one finished run's workspace now (keeping diffs and audit). */
export async function cleanupRunWorkspace(db: Db, runId: string): Promise<boolean> {
  const run = findRun(db, runId);
  if (!run?.workspaceDir || !TERMINAL_STATES.includes(run.state)) return false;
  const ws = ensureWorkspaceRow(db, runId);
  if (ws.cleanedAt) return false;
  return withWorkspaceLock(runId, async () => {
    const repo = openShadowRepo(run.workspaceDir!, runId);
    const items = listCheckpoints(db, runId);
    const diffs = new Map<string, string>();
    let cumulative: string | null = null;
    if (await shadowRepoExists(repo)) {
      for (const cp of items) {
        const d = await diffText(repo, cp.parentSha, cp.commitSha, { maxBytes: CHECKPOINT_DIFF_KEEP });
        diffs.set(cp.id, d.truncated ? `${d.diff}\n[airlock: diff truncated when the workspace was cleaned up]\n` : d.diff);
      }
      if (items.length > 0) {
        const d = await diffText(repo, items[0]!.commitSha, items.at(-1)!.commitSha, { maxBytes: RUN_DIFF_KEEP });
        cumulative = d.truncated ? `${d.diff}\n[airlock: diff truncated when the workspace was cleaned up]\n` : d.diff;
      }
    }
    db.transaction(
      (tx) => {
        for (const [id, diff] of diffs) tx.update(checkpoints).set({ archivedDiff: diff }).where(eq(checkpoints.id, id)).run();
        tx.update(workspaces).set({ archivedDiff: cumulative, cleanedAt: new Date(), updatedAt: new Date() }).where(eq(workspaces.runId, runId)).run();
        appendAudit(tx, SYSTEM_ACTOR, {
          action: "workspace.cleanup",
          targetType: "run",
          targetId: runId,
          details: { checkpoints: items.length, endedAt: run.endedAt?.toISOString() ?? null },
        });
      },
      { behavior: "immediate" },
    );
    await fs.rm(run.workspaceDir!, { recursive: true, force: true });
    await removeShadowRepo(repo);
    forgetCommittedTree(runId);
    forgetWorkspaceSize(runId);
    return true;
  });
}

/** Cleans every run that finished longer ago than the retention period. */
export async function cleanupFinishedWorkspaces(db: Db, opts: { now?: number; retentionMs?: number } = {}): Promise<string[]> {
  const retentionMs = opts.retentionMs ?? workspaceSettings().retentionMs;
  if (retentionMs <= 0) return [];
  const cutoff = new Date((opts.now ?? Date.now()) - retentionMs);
  const due = db
    .select({ id: runs.id, cleanedAt: workspaces.cleanedAt })
    .from(runs)
    .leftJoin(workspaces, eq(workspaces.runId, runs.id))
    .where(and(inArray(runs.state, [...TERMINAL_STATES]), isNotNull(runs.workspaceDir), lt(runs.endedAt, cutoff)))
    .all()
    .filter((r) => !r.cleanedAt);
  const cleaned: string[] = [];
  for (const r of due) {
    try {
      if (await cleanupRunWorkspace(db, r.id)) cleaned.push(r.id);
    } catch (err) {
      console.error(`airlock: cleaning up the workspace of run ${r.id} failed:`, err);
    }
  }
  return cleaned;
}

/** Runs the cleanup hourly (first a minute after start). */
export function scheduleWorkspaceCleanup(db: Db): NodeJS.Timeout {
  const sweep = () => void cleanupFinishedWorkspaces(db).catch((err: unknown) => console.error("airlock: workspace cleanup failed:", err));
  setTimeout(sweep, 60_000).unref();
  const timer = setInterval(sweep, 3600_000);
  timer.unref();
  return timer;
}
