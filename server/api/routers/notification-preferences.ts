// The caller's own notification preferences. Exported as procedures (not a
// router) so they share the `notifications` router with push's procedures.
import { authedProcedure } from "@/server/api/trpc";
import { config } from "@/server/config/env";
import { getPreferences, hasSavedPreferences, setPreferences, setPreferencesInput } from "@/server/notify/preferences";

export const notificationPreferenceProcedures = {
  /** The caller's preferences (defaults when never saved), whether they were saved, and whether this server can send email at all. */
  preferences: authedProcedure.query(({ ctx }) => ({
    ...getPreferences(ctx.db, ctx.user.id),
    saved: hasSavedPreferences(ctx.db, ctx.user.id),
    emailConfigured: Boolean(config().smtp),
  })),
  setPreferences: authedProcedure.input(setPreferencesInput).mutation(({ ctx, input }) => setPreferences(ctx.db, { ...ctx.actor, userId: ctx.user.id }, input)),
};
