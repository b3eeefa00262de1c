// Reviewer statistics (admins): a signal about approval fatigue, never a block.
import { z } from "zod";
import { roleProcedure, router } from "@/server/api/trpc";
import { reviewerStats } from "@/server/approvals/reviewer-stats";

export const reviewersRouter = router({
  stats: roleProcedure("admin")
    .input(z.object({ days: z.number().int().min(1).max(365).optional() }).optional())
    .query(({ ctx, input }) => reviewerStats(ctx.db, { days: input?.days })),
});
