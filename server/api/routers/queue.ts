import { roleProcedure, router } from "@/server/api/trpc";
import { queueSettings, updateQueueSettings, updateQueueSettingsInput } from "@/server/runs/queue-settings";

/** Issue 13: the run queue's instance-wide limits (Settings → Run queue). */
export const queueRouter = router({
  settings: roleProcedure("admin").query(({ ctx }) => queueSettings(ctx.db)),
  updateSettings: roleProcedure("admin")
    .input(updateQueueSettingsInput)
    .mutation(({ ctx, input }) => updateQueueSettings(ctx.db, ctx.actor, input)),
});
