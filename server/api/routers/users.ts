import { z } from "zod";
import { authedProcedure, roleProcedure, router } from "@/server/api/trpc";
import {
  createUser,
  emailSchema,
  listUsers,
  passwordSchema,
  roleSchema,
  setUserDisabled,
  setUserPassword,
  setUserRole,
  toPublicUser,
} from "@/server/users/users";
import { changeOwnPassword } from "@/server/users/change-password";
import { listSessions, revokeOtherSessions, revokeSession } from "@/server/auth/sessions";

export const usersRouter = router({
  me: authedProcedure.query(({ ctx }) => toPublicUser(ctx.user)),
  list: roleProcedure("admin").query(({ ctx }) => ({ items: listUsers(ctx.db) })),
  create: roleProcedure("admin")
    .input(z.object({ email: emailSchema, role: roleSchema, password: passwordSchema.optional(), name: z.string().trim().max(100).optional() }))
    .mutation(({ ctx, input }) => createUser(ctx.db, ctx.actor, input)),
  setRole: roleProcedure("admin")
    .input(z.object({ id: z.string().min(1), role: roleSchema }))
    .mutation(({ ctx, input }) => setUserRole(ctx.db, ctx.actor, input.id, input.role)),
  setDisabled: roleProcedure("admin")
    .input(z.object({ id: z.string().min(1), disabled: z.boolean() }))
    .mutation(({ ctx, input }) => setUserDisabled(ctx.db, ctx.actor, input.id, input.disabled)),
  resetPassword: roleProcedure("admin")
    .input(z.object({ id: z.string().min(1), password: passwordSchema }))
    .mutation(async ({ ctx, input }) => ({ ok: true, ...(await setUserPassword(ctx.db, ctx.actor, input.id, input.password)) })),
  /** The caller's open sign-in sessions (browsers and devices), newest first. */
  sessions: authedProcedure.query(({ ctx }) => ({ items: listSessions(ctx.db, ctx.user.id, ctx.identity.sessionId) })),
  /** Ends one of the caller's sessions: that browser is signed out at its next request. */
  revokeSession: authedProcedure.input(z.object({ id: z.string().min(1).max(100) })).mutation(({ ctx, input }) => {
    revokeSession(ctx.db, ctx.actor, ctx.user.id, input.id);
    return { revoked: true, current: input.id === ctx.identity.sessionId };
  }),
  /** Signs the caller out everywhere but here (with a token: everywhere). */
  revokeOtherSessions: authedProcedure.mutation(({ ctx }) => ({ revoked: revokeOtherSessions(ctx.db, ctx.actor, ctx.user.id, ctx.identity.sessionId) })),
  changePassword: authedProcedure
    .input(z.object({ currentPassword: z.string().max(256), newPassword: passwordSchema }))
    .mutation(async ({ ctx, input }) => ({ ok: true, ...(await changeOwnPassword(ctx.db, ctx.actor, ctx.user, ctx.sourceIp, input)) })),
});
