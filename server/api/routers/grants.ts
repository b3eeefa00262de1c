// Bounded grants of one run (issue 12): reviewers give and take back; anyone who reads the run sees them.
import { z } from "zod";
import { roleProcedure, router } from "@/server/api/trpc";
import { createGrant, GRANT_LIMITS, GRANT_TOOLS, listGrants, revokeGrant } from "@/server/grants/grants";

export const grantsRouter = router({
  create: roleProcedure("reviewer")
    .input(
      z.object({
        runId: z.string().min(1),
        tool: z.enum(GRANT_TOOLS),
        path: z.string().min(1).max(1024),
        minutes: z.number().int().min(GRANT_LIMITS.minMinutes).max(GRANT_LIMITS.maxMinutes),
        maxCalls: z.number().int().min(GRANT_LIMITS.minCalls).max(GRANT_LIMITS.maxCalls),
        fromApprovalId: z.string().min(1).optional(),
      }),
    )
    .mutation(({ ctx, input }) => {
      const g = createGrant(ctx.db, { ...ctx.actor, userId: ctx.user.id }, ctx.user, input);
      return { id: g.id, pathGlob: g.pathGlob, expiresAt: g.expiresAt, maxCalls: g.maxCalls };
    }),
  list: roleProcedure("viewer")
    .input(z.object({ runId: z.string().min(1) }))
    .query(({ ctx, input }) => ({ items: listGrants(ctx.db, input.runId) })),
  revoke: roleProcedure("reviewer")
    .input(z.object({ id: z.string().min(1) }))
    .mutation(({ ctx, input }) => {
      const g = revokeGrant(ctx.db, { ...ctx.actor, userId: ctx.user.id }, input.id);
      return { id: g.id, revokedAt: g.revokedAt };
    }),
});
