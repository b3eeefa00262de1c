import { z } from "zod";
import { roleProcedure, router } from "@/server/api/trpc";
import { whileAccessHolds } from "@/server/api/live-access";
import { listApprovals } from "@/server/approvals/approvals";
import { reviewApproval, streamApprovalChanges } from "@/server/approvals/review";

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
      const a = await reviewApproval(ctx.db, ctx.egress, { ...ctx.actor, userId: ctx.user.id }, { userId: ctx.user.id, role: ctx.user.role }, input);
      return { state: a.state };
    }),
  /** Pings whenever any approval is created or decided, so inboxes refresh live. */
  changes: roleProcedure("viewer").subscription(({ ctx, signal }) => whileAccessHolds(ctx, signal, streamApprovalChanges)),
});
