import { z } from "zod";
import { API_TOKEN_SCOPES } from "@/db/schema";
import { authedProcedure, router } from "@/server/api/trpc";
import { createApiToken, listApiTokens, revokeApiToken } from "@/server/auth/tokens";
import { hasRole } from "@/server/users/users";

export const tokensRouter = router({
  /** Creates a personal token for the caller; the token is in the answer and nowhere else. */
  create: authedProcedure
    .input(
      z.object({
        name: z.string().trim().min(1, 'Give the token a name, e.g. "ci".').max(100),
        expiresInDays: z.number().int().min(1).max(3650).nullish(),
        // Optional (issue 16): "metrics" lets the token scrape GET /metrics whatever the caller's role.
        scopes: z
          .array(z.enum(API_TOKEN_SCOPES, { message: `A token scope is one of: ${API_TOKEN_SCOPES.join(", ")}.` }))
          .max(API_TOKEN_SCOPES.length)
          .optional(),
      }),
    )
    .mutation(({ ctx, input }) =>
      createApiToken(ctx.db, ctx.actor, { userId: ctx.user.id, name: input.name, expiresInDays: input.expiresInDays, scopes: input.scopes }),
    ),
  list: authedProcedure.query(({ ctx }) => ({ items: listApiTokens(ctx.db, ctx.user.id) })),
  /** Revokes one of the caller's tokens (admins may revoke anyone's). */
  revoke: authedProcedure
    .input(z.object({ id: z.string().min(1) }))
    .mutation(({ ctx, input }) => revokeApiToken(ctx.db, ctx.actor, { tokenId: input.id, userId: hasRole(ctx.user.role, "admin") ? undefined : ctx.user.id })),
});
