import { z } from "zod";
import { roleProcedure, router } from "@/server/api/trpc";
import { whileAccessHolds } from "@/server/api/live-access";
import { listApprovals } from "@/server/approvals/approvals";
import { reviewApproval, streamApprovalChanges } from "@/server/approvals/review";
import { decideBatch, MAX_BATCH, pendingWrites } from "@/server/approvals/batch";

const editSchema = z
  .object({
    command: z.string().min(1).max(16_384).optional(),
    content: z
      .string()
      .max(1024 * 1024)
      .optional(),
    new_string: z
      .string()
      .max(1024 * 1024)
      .optional(),
    steps: z.array(z.unknown()).max(50).optional(),
    /** A held network connection (tool "network"): allow it for this run or for the project. */
    scope: z.enum(["run", "project"]).optional(),
  })
  .strict();

export const approvalsRouter = router({
  list: roleProcedure("viewer")
    .input(
      z
        .object({
          /** One request (the deep link /approvals/<id> reads it this way). */
          id: z.string().min(1).optional(),
          state: z.enum(["pending", "decided", "expired"]).optional(),
          runId: z.string().optional(),
        })
        .optional(),
    )
    .query(({ ctx, input }) => ({ items: listApprovals(ctx.db, ctx.user, input ?? {}) })),
  decide: roleProcedure("reviewer")
    .input(
      z.object({
        id: z.string().min(1),
        decision: z.enum(["approve", "deny"]),
        reason: z.string().max(4000).optional(),
        edit: editSchema.optional(),
        /** With an approved install_package (pip, npm): also let the run's commands reach that registry. */
        grantRegistry: z.boolean().optional(),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      // The audit trail says where the decision came from: the dashboard (cookie session) or an API token.
      const channel = ctx.identity.via === "token" ? "api" : "web";
      const a = await reviewApproval(
        ctx.db,
        ctx.egress,
        { ...ctx.actor, userId: ctx.user.id },
        { userId: ctx.user.id, role: ctx.user.role },
        { ...input, channel },
      );
      return { state: a.state };
    }),
  /** A run's pending write requests with the hash of what is shown, for a batch decision (issue 12). */
  pendingWrites: roleProcedure("viewer")
    .input(z.object({ runId: z.string().min(1) }))
    .query(({ ctx, input }) => ({ items: pendingWrites(ctx.db, ctx.user, input.runId) })),
  /** Decides exactly the listed requests, each bound to the hash the reviewer saw (server/approvals/batch.ts). */
  decideBatch: roleProcedure("reviewer")
    .input(
      z.object({
        runId: z.string().min(1),
        approvalIds: z.array(z.string().min(1)).min(1).max(MAX_BATCH),
        hashes: z.record(z.string(), z.string().regex(/^[0-9a-f]{64}$/, "a content hash is 64 hex digits")),
        decision: z.enum(["approve", "deny"]),
        reason: z.string().max(4000).optional(),
      }),
    )
    .mutation(({ ctx, input }) =>
      decideBatch(ctx.db, { ...ctx.actor, userId: ctx.user.id }, { ...input, channel: ctx.identity.via === "token" ? "api" : "web" }),
    ),
  /** Pings whenever any approval is created or decided, so inboxes refresh live. */
  changes: roleProcedure("viewer").subscription(({ ctx, signal }) => whileAccessHolds(ctx, signal, streamApprovalChanges)),
});
