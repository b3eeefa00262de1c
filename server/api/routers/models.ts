import { z } from "zod";
import { roleProcedure, router } from "@/server/api/trpc";
import {
  createModel,
  deleteModel,
  endpointForTest,
  lastUsedModelId,
  listModels,
  modelInput,
  modelTestInput,
  modelUpdateInput,
  modelViewOutput,
  updateModel,
} from "@/server/models/models";
import { testModelConnection } from "@/server/models/test-connection";

export const modelsRouter = router({
  create: roleProcedure("admin")
    .input(modelInput)
    .mutation(({ ctx, input }) => createModel(ctx.db, ctx.actor, input)),
  /** Every endpoint (retired ones flagged), and the one the caller's latest run used (the New run form preselects it). */
  list: roleProcedure("viewer")
    .output(z.object({ items: z.array(modelViewOutput), lastUsedId: z.string().nullable() }))
    .query(({ ctx }) => ({ items: listModels(ctx.db), lastUsedId: lastUsedModelId(ctx.db, ctx.user.id) })),
  /** GET <base>/models with the stored key: the models listed and the latency, or what to check. Admins: it makes the server connect out. */
  test: roleProcedure("admin")
    .input(modelTestInput)
    .mutation(({ ctx, input }) => testModelConnection(endpointForTest(ctx.db, input))),
  update: roleProcedure("admin")
    .input(modelUpdateInput)
    .output(modelViewOutput)
    .mutation(({ ctx, input }) => updateModel(ctx.db, ctx.actor, input)),
  /** Deletes an endpoint no run used; retires one that runs used (says which). */
  delete: roleProcedure("admin")
    .input(z.object({ id: z.string().min(1) }))
    .mutation(({ ctx, input }) => deleteModel(ctx.db, ctx.actor, input.id)),
});
