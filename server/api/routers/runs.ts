import { tracked } from "@trpc/server";
import { z } from "zod";
import { roleProcedure, router } from "@/server/api/trpc";
import { whileAccessHolds } from "@/server/api/live-access";
import { holdSubscriberPlace, streamRunEvents } from "@/server/events/bus";
import { createRunWithToken, createRunInput, getRunView, listRunOperators, listRunViews, listRunsInput, listToolCalls, requireRun } from "@/server/runs/runs";
import { MAX_USAGE_RUNS, runUsage } from "@/server/runs/usage";
import { DomainError } from "@/server/errors/domain-error";
import { stopRunDenial } from "@/lib/permissions";
import { config } from "@/server/config/env";
import { resolveWorkspaceSource } from "@/server/workspace/sources";
import { workspaceSettings } from "@/server/workspace/settings";
import { checkpointProcedures } from "@/server/api/routers/checkpoints";
import { mcpUrl } from "@/server/runs/run-tokens";
import { egressView } from "@/server/egress/controller";
import { failpoint } from "@/server/faults/failpoints";
import { holdFleetPlace, MAX_FLEET_STREAMS_PER_USER, streamRunChanges } from "@/server/runs/changes";
import { rerunRun } from "@/server/runs/rerun";
import { compareRuns } from "@/server/runs/compare";

export const runsRouter = router({
  ...checkpointProcedures,
  create: roleProcedure("operator")
    .input(createRunInput)
    .mutation(async ({ ctx, input }) => {
      const supervisor = ctx.supervisor();
      const source = await resolveWorkspaceSource(ctx.db, ctx.user.id, config().dataDir, input.source);
      const { run, mcpToken } = createRunWithToken(ctx.db, { ...ctx.actor, userId: ctx.user.id }, input, { source });
      supervisor.launch(run.id);
      // An external run's token is shown this once; only its hash is stored.
      const created: { id: string; mcpUrl?: string; mcpToken?: string; mcpIdleTimeoutS?: number } = mcpToken
        ? { id: run.id, mcpUrl: mcpUrl(), mcpToken, mcpIdleTimeoutS: config().mcpIdleTimeoutMs / 1000 }
        : { id: run.id };
      return created;
    }),
  /** Issue 16: the directories a git source may come from (AIRLOCK_REPO_ROOTS), shown by the New run form; runs.create checks the path. */
  sourceRoots: roleProcedure("operator").query(() => ({ repoRoots: workspaceSettings().repoRoots })),
  get: roleProcedure("viewer")
    .input(z.object({ id: z.string().min(1) }))
    .query(({ ctx, input }) => getRunView(ctx.db, input.id)),
  list: roleProcedure("viewer")
    .input(listRunsInput.optional())
    .query(({ ctx, input }) => listRunViews(ctx.db, listRunsInput.parse(input ?? {}))),
  /**
   * Issue 16: live changes of the runs list (state, pending requests, queue
   * place) and the running sandboxes' resource use, for one fleet page.
   * At most MAX_FLEET_STREAMS_PER_USER at once per user.
   */
  changes: roleProcedure("viewer").subscription(async function* ({ ctx, signal }) {
    const release = holdFleetPlace(ctx.user.id);
    if (!release)
      throw new DomainError(
        "TOO_MANY_ATTEMPTS",
        `You already have ${MAX_FLEET_STREAMS_PER_USER} live runs lists open, the most one user may have. Close the runs page in another tab or window and try again.`,
      );
    const runtime = ctx.supervisor().runtime;
    try {
      yield* whileAccessHolds(ctx, signal, (live) => streamRunChanges(ctx.db, live, { sampleUsage: () => runUsage(ctx.db, runtime) }));
    } finally {
      release();
    }
  }),
  /** Issue 16: a new run with the same task, settings, model, project and workspace source; it records which run it re-ran. */
  rerun: roleProcedure("operator")
    .input(z.object({ id: z.string().min(1) }))
    .mutation(async ({ ctx, input }) => {
      const supervisor = ctx.supervisor();
      const { run, mcpToken } = await rerunRun(ctx.db, { ...ctx.actor, userId: ctx.user.id }, config().dataDir, input.id);
      supervisor.launch(run.id);
      const created: { id: string; rerunOf: string; mcpUrl?: string; mcpToken?: string } = mcpToken
        ? { id: run.id, rerunOf: input.id, mcpUrl: mcpUrl(), mcpToken }
        : { id: run.id, rerunOf: input.id };
      return created;
    }),
  /** Issue 16: two runs side by side, with their diffs and the diff between their final workspaces. */
  compare: roleProcedure("viewer")
    .input(z.object({ a: z.string().min(1), b: z.string().min(1) }))
    .query(({ ctx, input }) => compareRuns(ctx.db, input.a, input.b)),
  /** Issue 16: who has started runs (the fleet view's operator filter). */
  operators: roleProcedure("viewer").query(({ ctx }) => ({ items: listRunOperators(ctx.db) })),
  toolCalls: roleProcedure("viewer")
    .input(z.object({ id: z.string().min(1) }))
    .query(({ ctx, input }) => {
      requireRun(ctx.db, input.id);
      return { items: listToolCalls(ctx.db, input.id) };
    }),
  /** Live events of a run; resumes after `lastEventId` (sent by the SSE link on reconnect). */
  events: roleProcedure("viewer")
    .input(z.object({ id: z.string().min(1), lastEventId: z.string().nullish() }))
    .subscription(async function* ({ ctx, input, signal }) {
      requireRun(ctx.db, input.id);
      const after = input.lastEventId ? Number(input.lastEventId) : 0;
      if (!Number.isFinite(after) || after < 0) throw new DomainError("INVALID_INPUT", "lastEventId must be an event id this stream sent.");
      const max = config().maxSubscribersPerRun;
      const release = holdSubscriberPlace(input.id, max);
      if (!release)
        throw new DomainError(
          "TOO_MANY_ATTEMPTS",
          `This run already has ${max} live viewers, the most one run may have (AIRLOCK_MAX_SUBSCRIBERS_PER_RUN). Close the run page in another tab or window and try again, or ask an admin to raise the limit.`,
        );
      try {
        // Ends when the viewer is disabled, demoted or signed out, not only when they leave.
        for await (const event of whileAccessHolds(ctx, signal, (live) => streamRunEvents(ctx.db, input.id, after, live))) {
          yield tracked(String(event.id), event);
          failpoint("mid-stream");
        }
      } finally {
        release();
      }
    }),
  kill: roleProcedure("operator")
    .input(z.object({ id: z.string().min(1), reason: z.string().trim().max(2000).optional() }))
    .mutation(async ({ ctx, input }) => {
      const run = requireRun(ctx.db, input.id);
      const denial = stopRunDenial(ctx.user, run);
      if (denial) throw new DomainError(denial.code, denial.message);
      const stopped = await ctx.supervisor().killRun(input.id, ctx.actor, input.reason?.trim() || `stopped by ${ctx.user.email}`);
      return { state: stopped.state };
    }),
  /** Live memory / CPU / process use of running runs' sandboxes against their limits (all live runs, or those named). */
  usage: roleProcedure("viewer")
    .input(z.object({ ids: z.array(z.string().min(1)).max(MAX_USAGE_RUNS).optional() }).optional())
    .query(async ({ ctx, input }) => ({ items: await runUsage(ctx.db, ctx.supervisor().runtime, input?.ids) })),
  /** Network access of the run's commands: granted domains, whether the sandbox is connected, refused hosts. */
  egress: roleProcedure("viewer")
    .input(z.object({ id: z.string().min(1) }))
    .query(({ ctx, input }) => {
      requireRun(ctx.db, input.id);
      return egressView(ctx.db, input.id);
    }),
  /** A reviewer lets a live run's commands reach some domains through the egress proxy (audited). */
  grantEgress: roleProcedure("reviewer")
    .input(z.object({ id: z.string().min(1), domains: z.array(z.string().trim().min(1).max(300)).min(1).max(50), reason: z.string().trim().min(1).max(2000) }))
    .mutation(({ ctx, input }) => {
      requireRun(ctx.db, input.id);
      return ctx.egress().grant(ctx.actor, { userId: ctx.user.id, role: ctx.user.role }, { runId: input.id, domains: input.domains, reason: input.reason });
    }),
  /** Revokes some domains, or all when none are named (the sandbox is back on network "none"). */
  revokeEgress: roleProcedure("reviewer")
    .input(
      z.object({
        id: z.string().min(1),
        domains: z.array(z.string().trim().min(1).max(300)).max(50).optional(),
        reason: z.string().trim().max(2000).optional(),
      }),
    )
    .mutation(({ ctx, input }) => {
      requireRun(ctx.db, input.id);
      return ctx.egress().revoke(ctx.actor, { runId: input.id, domains: input.domains, reason: input.reason });
    }),
  stopAll: roleProcedure("admin")
    .input(z.object({ reason: z.string().trim().max(2000).optional() }).optional())
    .mutation(async ({ ctx, input }) => {
      const count = await ctx.supervisor().stopAll(ctx.actor, input?.reason?.trim() || `stop-all by ${ctx.user.email}`);
      return { stopped: count };
    }),
});
