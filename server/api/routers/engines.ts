// Settings → Engines (issue 17): admins register, edit, drain and delete the
// Docker engines runs are placed on. Thin: server/engines/manage.ts holds the
// rules; after a change the pool drops its cached client and the engine is
// checked at once, so the list shows its health.
import { z } from "zod";
import { roleProcedure, router, type AuthedContext } from "@/server/api/trpc";
import { config } from "@/server/config/env";
import { checkEngineNow, forgetEngineHealth } from "@/server/engines/health";
import { emitSignal } from "@/server/events/bus";
import { QUEUE_CHANGED_SIGNAL } from "@/server/runs/queue-settings";
import {
  createEngine,
  deleteEngine,
  drainEngine,
  engineCreateInput,
  engineDrainInput,
  engineNameInput,
  engineUpdateInput,
  engineView,
  listEngines,
  updateEngine,
} from "@/server/engines/manage";
import { PooledRuntime } from "@/server/engines/pooled-runtime";

/** The AIRLOCK_ENGINES path for refusals; a process without a valid config still answers. */
function enginesFile(): string | undefined {
  try {
    return config().enginesFile;
  } catch {
    return undefined;
  }
}

/** Drops the pool's cached runtime of an engine (its endpoint or credentials changed, or it is gone). No supervisor here: nothing cached. */
function forgetRuntime(ctx: AuthedContext, name: string): void {
  let runtime: unknown;
  try {
    runtime = ctx.supervisor().runtime;
  } catch {
    return;
  }
  if (runtime instanceof PooledRuntime) runtime.forget(name);
}

async function refresh(ctx: AuthedContext, name: string): Promise<void> {
  forgetRuntime(ctx, name);
  await checkEngineNow(ctx.db, name, { timeoutMs: 5000 });
  placementMayChange();
}

/** Labels, capacity or drain changed: queued runs may fit somewhere now (or no longer), so admission looks again. */
function placementMayChange(): void {
  emitSignal(QUEUE_CHANGED_SIGNAL, null);
}

export const enginesRouter = router({
  /** Every engine with its health, API version, runtimes, sandbox image, capacity and live runs; never credentials. */
  list: roleProcedure("admin")
    .output(z.object({ items: z.array(engineView) }))
    .query(async ({ ctx }) => {
      const items = listEngines(ctx.db);
      const unchecked = items.filter((e) => e.checkedAt === null);
      if (unchecked.length === 0) return { items };
      await Promise.all(unchecked.map((e) => checkEngineNow(ctx.db, e.name, { timeoutMs: 3000 })));
      return { items: listEngines(ctx.db) };
    }),
  create: roleProcedure("admin")
    .input(engineCreateInput)
    .mutation(async ({ ctx, input }) => {
      const out = createEngine(ctx.db, ctx.actor, input);
      await refresh(ctx, out.name);
      return out;
    }),
  /** Partial: omitted fields keep their value; new credentials replace the stored ones. Engines of AIRLOCK_ENGINES: CONFLICT. */
  update: roleProcedure("admin")
    .input(engineUpdateInput)
    .mutation(async ({ ctx, input }) => {
      const out = updateEngine(ctx.db, ctx.actor, input, enginesFile());
      await refresh(ctx, out.name);
      return out;
    }),
  drain: roleProcedure("admin")
    .input(engineDrainInput)
    .mutation(({ ctx, input }) => {
      const out = drainEngine(ctx.db, ctx.actor, input);
      placementMayChange();
      return out;
    }),
  /** Refused while runs are live on it (says how many), and for the local engine. */
  delete: roleProcedure("admin")
    .input(z.object({ name: engineNameInput }).strict())
    .mutation(({ ctx, input }) => {
      const out = deleteEngine(ctx.db, ctx.actor, input.name, enginesFile());
      forgetRuntime(ctx, input.name);
      forgetEngineHealth(input.name);
      placementMayChange();
      return out;
    }),
});
