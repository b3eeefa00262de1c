// Reviewing a run like a pull request (issue 16): thin procedures over
// server/review. Everyone who reads runs reads the review; commenting and
// "Request changes" follow reviewCommentDenial (checked inside).
import { z } from "zod";
import { roleProcedure, router } from "@/server/api/trpc";
import {
  addReviewComment,
  COMMENT_MAX_CHARS,
  deleteReviewComment,
  listReviewComments,
  markFileViewed,
  requestChanges,
  reviewFiles,
  updateReviewComment,
} from "@/server/review/review";

const runId = z.string().min(1);
const body = z.string().max(COMMENT_MAX_CHARS * 2);

export const reviewRouter = router({
  /** The run's cumulative diff (start → latest checkpoint) as files, with the caller's viewed marks. */
  files: roleProcedure("viewer")
    .input(z.object({ runId }))
    .query(({ ctx, input }) => reviewFiles(ctx.db, input.runId, ctx.user.id)),
  /** The caller's own "viewed" mark on one file (any signed-in reader keeps their own). */
  markViewed: roleProcedure("viewer")
    .input(
      z.object({
        runId,
        path: z.string().min(1).max(4096),
        diffHash: z.string().regex(/^[0-9a-f]{64}$/, "the file's hash from review.files"),
        viewed: z.boolean(),
      }),
    )
    .mutation(({ ctx, input }) => markFileViewed(ctx.db, input.runId, ctx.user.id, input)),
  comments: router({
    list: roleProcedure("viewer")
      .input(z.object({ runId }))
      .query(({ ctx, input }) => ({ items: listReviewComments(ctx.db, input.runId) })),
    add: roleProcedure("operator")
      .input(
        z.object({
          runId,
          checkpointId: z.string().min(1).optional(),
          path: z.string().min(1).max(4096),
          side: z.enum(["old", "new"]),
          line: z.number().int().min(1),
          body,
        }),
      )
      .mutation(({ ctx, input }) => {
        const c = addReviewComment(ctx.db, { ...ctx.actor, userId: ctx.user.id, role: ctx.user.role }, input);
        return { id: c.id, checkpointId: c.checkpointId };
      }),
    update: roleProcedure("operator")
      .input(z.object({ id: z.string().min(1), body }))
      .mutation(({ ctx, input }) => {
        const c = updateReviewComment(ctx.db, { ...ctx.actor, userId: ctx.user.id, role: ctx.user.role }, input);
        return { id: c.id, body: c.body };
      }),
    delete: roleProcedure("operator")
      .input(z.object({ id: z.string().min(1) }))
      .mutation(({ ctx, input }) => deleteReviewComment(ctx.db, { ...ctx.actor, userId: ctx.user.id, role: ctx.user.role }, input.id)),
  }),
  /** Sends the run's unsent comments to its live agent as one message; an ended run refuses. */
  requestChanges: roleProcedure("operator")
    .input(z.object({ runId, summary: z.string().max(COMMENT_MAX_CHARS).optional() }))
    .mutation(({ ctx, input }) => requestChanges(ctx.db, { ...ctx.actor, userId: ctx.user.id, role: ctx.user.role }, input)),
});
