// Trends over 7, 30 or 90 days (issue 16). Every viewer sees every run, as in runs.list, so the figures are not narrowed by role.
import { roleProcedure, router } from "@/server/api/trpc";
import { computeTrends, trendsInput } from "@/server/trends/trends";

export const trendsRouter = router({
  overview: roleProcedure("viewer")
    .input(trendsInput.optional())
    .query(({ ctx, input }) => computeTrends(ctx.db, input ?? {})),
});
