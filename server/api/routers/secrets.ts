// Secrets (admins): values go in, never come out.
import { roleProcedure, router } from "@/server/api/trpc";
import { createSecret, createSecretInput, deleteSecret, deleteSecretInput, listSecrets, updateSecret, updateSecretInput } from "@/server/secrets/secrets";

export const secretsRouter = router({
  create: roleProcedure("admin")
    .input(createSecretInput)
    .mutation(({ ctx, input }) => createSecret(ctx.db, ctx.actor, input)),
  list: roleProcedure("admin").query(({ ctx }) => ({ items: listSecrets(ctx.db) })),
  update: roleProcedure("admin")
    .input(updateSecretInput)
    .mutation(({ ctx, input }) => updateSecret(ctx.db, ctx.actor, input)),
  delete: roleProcedure("admin")
    .input(deleteSecretInput)
    .mutation(({ ctx, input }) => deleteSecret(ctx.db, ctx.actor, input)),
});
