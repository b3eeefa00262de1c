import { z } from "zod";
import { roleProcedure, router } from "@/server/api/trpc";
import { getRedteamReport, launchRedteam, listRedteamReports, redteamCatalogue } from "@/server/redteam/reports";

export const redteamRouter = router({
  /** Starts the catalogue against the project's policy in force, in the background. */
  start: roleProcedure("admin")
    .input(z.object({ projectId: z.string().min(1), scenarioIds: z.array(z.string().min(1)).max(200).optional(), policyOnly: z.boolean().optional() }))
    .mutation(({ ctx, input }) => launchRedteam(ctx.db, ctx.actor, input)),
  // Issue 16: every role reads the reports (the red-team page is read-only below admin); only admins start one.
  list: roleProcedure("viewer")
    .input(z.object({ projectId: z.string().min(1).optional() }).optional())
    .query(({ ctx, input }) => ({ items: listRedteamReports(ctx.db, input?.projectId) })),
  get: roleProcedure("viewer")
    .input(z.object({ id: z.string().min(1) }))
    .query(({ ctx, input }) => getRedteamReport(ctx.db, input.id)),
  scenarios: roleProcedure("admin").query(() => ({ items: redteamCatalogue() })),
});
