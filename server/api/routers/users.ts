import { z } from "zod";
import { authedProcedure, roleProcedure, router } from "@/server/api/trpc";
import { createUser, emailSchema, listUsers, passwordSchema, roleSchema, setUserDisabled, setUserPassword, setUserRole, toPublicUser } from "@/server/users/users";
import { recordAudit } from "@/server/audit/chain";
import { verifyPassword } from "@/server/auth/password";
import { checkThrottle, clearFailures, lockedMessage, recordFailure } from "@/server/auth/throttle";
import { listSessions, revokeOtherSessions, revokeSession } from "@/server/auth/sessions";
import { DomainError } from "@/server/errors/domain-error";

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
    .mutation(async ({ ctx, input }) => {
      // Guessing the current password from a signed-in session counts like failed sign-ins for the account.
      const state = checkThrottle(ctx.db, ctx.user.email, ctx.sourceIp);
      if (state.lockedUntil) throw new DomainError("TOO_MANY_ATTEMPTS", lockedMessage(state.lockedUntil));
      const after = recordFailure(ctx.db, ctx.user.email, ctx.sourceIp);
      if (state.delayMs) await new Promise((r) => setTimeout(r, state.delayMs));
      if (!(await verifyPassword(ctx.user.passwordHash, input.currentPassword))) {
        recordAudit(ctx.db, ctx.actor, { action: "auth.password_change_failed", targetType: "user", targetId: ctx.user.id, details: { reason: "wrong current password" } });
        if (after.lockedUntil) throw new DomainError("TOO_MANY_ATTEMPTS", lockedMessage(after.lockedUntil));
        throw new DomainError("INVALID_INPUT", "Your current password is not correct.");
      }
      clearFailures(ctx.db, ctx.user.email, ctx.sourceIp);
      return { ok: true, ...(await setUserPassword(ctx.db, ctx.actor, ctx.user.id, input.newPassword)) };
    }),
});
