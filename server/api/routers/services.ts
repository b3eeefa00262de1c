// A run's services (start_service, issue 13): anyone who reads the run sees
// them; whoever may stop the run may stop one (checked here, audited).
import { z } from "zod";
import { eq } from "drizzle-orm";
import { roleProcedure, router } from "@/server/api/trpc";
import { runServices } from "@/db/schema";
import { DomainError } from "@/server/errors/domain-error";
import { stopRunDenial } from "@/lib/permissions";
import { requireRun } from "@/server/runs/runs";
import { listServices, stopService } from "@/server/services/services";

export const servicesRouter = router({
  list: roleProcedure("viewer")
    .input(z.object({ runId: z.string().min(1) }))
    .query(({ ctx, input }) => {
      requireRun(ctx.db, input.runId);
      return { items: listServices(ctx.db, input.runId) };
    }),
  stop: roleProcedure("operator")
    .input(z.object({ id: z.string().min(1) }))
    .mutation(async ({ ctx, input }) => {
      const row = ctx.db.select().from(runServices).where(eq(runServices.id, input.id)).get();
      if (!row) throw new DomainError("NOT_FOUND", `No service with id ${input.id}.`);
      const denial = stopRunDenial(ctx.user, requireRun(ctx.db, row.runId));
      if (denial) throw new DomainError(denial.code, "Operators can stop services only of their own runs; ask a reviewer or admin to stop this one.");
      const stopped = await stopService(ctx.db, ctx.supervisor().runtime, row.id, ctx.actor, ctx.user.email);
      return { id: stopped.id, state: stopped.state };
    }),
});
