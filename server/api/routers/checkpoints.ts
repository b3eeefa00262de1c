// runs.checkpoints, runs.diff, runs.rollback and merge-back (issue 5): thin
// procedures over server/workspace, merged into the runs router.
import { z } from "zod";
import { runPermissions } from "@/lib/permissions";
import { roleProcedure } from "@/server/api/trpc";
import { requireRun } from "@/server/runs/runs";
import { redactorForRun } from "@/server/secrets/secrets";
import { diffCheckpoint, diffRun, getWorkspace, listCheckpoints } from "@/server/workspace/checkpoints";
import { decideMergeBack, decideMergeInput, listMergeRequests, requestMergeBack, requestMergeInput } from "@/server/workspace/merge-back";
import { rollbackRun, setOperatorRollback } from "@/server/workspace/rollback";
import { deleteSnapshot, listRunSnapshots, MAX_SNAPSHOTS_PER_RUN, restartFromSnapshot, snapshotRun } from "@/server/workspace/snapshots";

const runId = z.object({ id: z.string().min(1) });

export const checkpointProcedures = {
  /** The run's checkpoints, oldest first, with its workspace's source and storage. */
  checkpoints: roleProcedure("viewer")
    .input(runId)
    .query(({ ctx, input }) => {
      const run = requireRun(ctx.db, input.id);
      const ws = getWorkspace(ctx.db, input.id);
      const mayRollback = runPermissions(ctx.user, run).canRollback;
      return {
        items: listCheckpoints(ctx.db, input.id).map((c) => ({
          id: c.id,
          seq: c.seq,
          label: c.label,
          kind: c.kind,
          toolCallId: c.toolCallId,
          planStep: c.planStep,
          commit: c.commitSha,
          restoredFromId: c.restoredFromId,
          filesChanged: c.filesChanged,
          additions: c.additions,
          deletions: c.deletions,
          sizeBytes: c.sizeBytes,
          approved: c.approved,
          createdBy: c.createdBy,
          createdAt: c.createdAt,
        })),
        workspace: ws
          ? { source: ws.source, storageBytes: ws.storageBytes, storageCapBytes: ws.storageCapBytes, skippedPaths: ws.skippedPaths, cleanedAt: ws.cleanedAt }
          : null,
        autoRollback: run.autoRollback,
        operatorMayRollback: run.operatorMayRollback,
        mayRollback,
      };
    }),
  /** One checkpoint's diff against the one before it, or the run's cumulative diff (start → latest). */
  diff: roleProcedure("viewer")
    .input(z.object({ id: z.string().min(1), checkpointId: z.string().min(1).optional() }))
    .query(async ({ ctx, input }) => {
      requireRun(ctx.db, input.id);
      // A file the agent wrote a granted secret into shows [secret:NAME] here (viewers read diffs too).
      const redactor = redactorForRun(ctx.db, input.id);
      if (input.checkpointId) {
        const d = await diffCheckpoint(ctx.db, input.id, input.checkpointId);
        return { ...d, diff: redactor.redact(d.diff) };
      }
      const d = await diffRun(ctx.db, input.id);
      return { ...d, diff: redactor.redact(d.diff) };
    }),
  /** Reviewers; the run's operator only when the run allows it (checked inside). */
  rollback: roleProcedure("operator")
    .input(z.object({ id: z.string().min(1), checkpointId: z.string().min(1), reason: z.string().trim().max(2000).optional() }))
    .mutation(({ ctx, input }) => rollbackRun(ctx.db, ctx.supervisor(), input.id, input.checkpointId, ctx.actor, { reason: input.reason })),
  /** The run's container snapshots, oldest first (read from the container engine). */
  snapshots: roleProcedure("viewer")
    .input(runId)
    .query(async ({ ctx, input }) => {
      requireRun(ctx.db, input.id);
      return { items: await listRunSnapshots(ctx.db, ctx.supervisor().runtime, input.id), limit: MAX_SNAPSHOTS_PER_RUN };
    }),
  /** Snapshots the run's container (its home directory, where installs land) at the latest checkpoint. */
  snapshot: roleProcedure("reviewer")
    .input(z.object({ id: z.string().min(1), checkpointId: z.string().min(1).optional() }))
    .mutation(({ ctx, input }) => snapshotRun(ctx.db, ctx.supervisor(), input.id, ctx.actor, { checkpointId: input.checkpointId })),
  /** Restarts the run's container from its snapshot at the checkpoint (same hardening); the workspace goes back to that checkpoint unless restoreWorkspace is false. */
  restartFromSnapshot: roleProcedure("reviewer")
    .input(z.object({ id: z.string().min(1), checkpointId: z.string().min(1), restoreWorkspace: z.boolean().optional() }))
    .mutation(({ ctx, input }) =>
      restartFromSnapshot(ctx.db, ctx.supervisor(), input.id, input.checkpointId, ctx.actor, { restoreWorkspace: input.restoreWorkspace }),
    ),
  deleteSnapshot: roleProcedure("reviewer")
    .input(z.object({ id: z.string().min(1), checkpointId: z.string().min(1) }))
    .mutation(async ({ ctx, input }) => {
      await deleteSnapshot(ctx.db, ctx.supervisor().runtime, input.id, input.checkpointId, ctx.actor);
      return { deleted: true };
    }),
  setOperatorRollback: roleProcedure("reviewer")
    .input(z.object({ id: z.string().min(1), allowed: z.boolean() }))
    .mutation(({ ctx, input }) => ({ operatorMayRollback: setOperatorRollback(ctx.db, ctx.actor, input.id, input.allowed).operatorMayRollback })),
  mergeRequests: roleProcedure("viewer")
    .input(runId)
    .query(({ ctx, input }) => {
      requireRun(ctx.db, input.id);
      return { items: listMergeRequests(ctx.db, input.id) };
    }),
  /** Asks for the result to be committed to a new branch of the source repository (run's operator or a reviewer). */
  mergeBack: roleProcedure("operator")
    .input(requestMergeInput)
    .mutation(async ({ ctx, input }) => {
      const request = await requestMergeBack(ctx.db, { ...ctx.actor, userId: ctx.user.id }, input);
      return { mergeRequestId: request.id, branch: request.branch, state: request.state };
    }),
  decideMergeBack: roleProcedure("reviewer")
    .input(decideMergeInput)
    .mutation(async ({ ctx, input }) => {
      const decided = await decideMergeBack(ctx.db, { ...ctx.actor, userId: ctx.user.id }, input);
      return { state: decided.state, branch: decided.branch, commit: decided.resultCommit, error: decided.error };
    }),
};
