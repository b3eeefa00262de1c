// A run's timeline (issue 16): its history in one chronological, filterable list, its totals and its resource history.
import { z } from "zod";
import { roleProcedure, router } from "@/server/api/trpc";
import { runTimeline } from "@/server/runs/timeline";

export const timelineRouter = router({
  run: roleProcedure("viewer")
    .input(z.object({ id: z.string().min(1).max(200) }))
    .query(({ ctx, input }) => runTimeline(ctx.db, input.id)),
});
