import { roleProcedure, router } from "@/server/api/trpc";
import { searchAll, searchQueryInput } from "@/server/search/search";

export const searchRouter = router({
  // Viewer, like runs.list and audit.list: whoever may list runs and the audit trail may search them.
  query: roleProcedure("viewer")
    .input(searchQueryInput)
    .query(({ ctx, input }) => searchAll(ctx.db, input)),
});
