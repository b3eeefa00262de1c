import { z } from "zod";
import { roleProcedure, router } from "@/server/api/trpc";
import { whileAccessHolds } from "@/server/api/live-access";
import { decideApproval, listApprovals } from "@/server/approvals/approvals";
import { processEgressController } from "@/server/egress/boot";
import { grantRegistryForApproval } from "@/server/egress/install-registry";
import { onSignal } from "@/server/events/bus";

const editSchema = z
  .object({
    command: z.string().min(1).max(16_384).optional(),
    content: z.string().max(1024 * 1024).optional(),
    new_string: z.string().max(1024 * 1024).optional(),
    steps: z.array(z.unknown()).max(50).optional(),
  })
  .strict();

export const approvalsRouter = router({
  list: roleProcedure("viewer")
    .input(z.object({ state: z.enum(["pending", "decided", "expired"]).optional(), runId: z.string().optional() }).optional())
    .query(({ ctx, input }) => ({ items: listApprovals(ctx.db, ctx.user, input ?? {}) })),
  decide: roleProcedure("reviewer")
    .input(
      z.object({
        id: z.string().min(1),
        decision: z.enum(["approve", "deny"]),
        reason: z.string().max(4000).optional(),
        edit: editSchema.optional(),
        /** With an approved install_package (pip, npm): also let the run's commands reach that registry. */
        grantRegistry: z.boolean().optional(),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const { grantRegistry, ...decision } = input;
      const undo = grantRegistry && decision.decision === "approve" ? await grantRegistryForApproval(ctx.db, processEgressController(), ctx.actor, { userId: ctx.user.id, role: ctx.user.role }, input.id) : null;
      try {
        const a = decideApproval(ctx.db, { ...ctx.actor, userId: ctx.user.id }, { ...decision, edit: decision.edit && Object.keys(decision.edit).length ? decision.edit : null });
        return { state: a.state };
      } catch (err) {
        await undo?.();
        throw err;
      }
    }),
  /** Pings whenever any approval is created or decided, so inboxes refresh live. */
  changes: roleProcedure("viewer").subscription(({ ctx, signal }) => whileAccessHolds(ctx, signal, approvalChanges)),
});

/** The feed behind approvals.changes: "ready", then "changed" whenever an approval is created or decided. */
async function* approvalChanges(signal: AbortSignal) {
  const queue: unknown[] = [];
  let wake: (() => void) | null = null;
  const off = onSignal("approvals:changed", (p) => {
    queue.push(p);
    wake?.();
  });
  const onAbort = () => wake?.();
  signal.addEventListener("abort", onAbort);
  try {
    yield { type: "ready" as const };
    while (!signal.aborted) {
      if (!queue.length) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          if (queue.length || signal.aborted) resolve();
        });
        wake = null;
        continue;
      }
      queue.splice(0);
      yield { type: "changed" as const };
    }
  } finally {
    off();
    signal.removeEventListener("abort", onAbort);
  }
}
