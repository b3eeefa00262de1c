import { roleProcedure, router } from "@/server/api/trpc";
import { createModel, listModels, modelInput } from "@/server/models/models";

export const modelsRouter = router({
  create: roleProcedure("admin")
    .input(modelInput)
    .mutation(({ ctx, input }) => createModel(ctx.db, ctx.actor, input)),
  list: roleProcedure("viewer").query(({ ctx }) => ({ items: listModels(ctx.db) })),
});
