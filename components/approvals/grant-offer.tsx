"use client";
// "Approve and allow writes under src/ for 15 min / 20 calls" (issue 12): the
// approval card offers a bounded grant with a plain write. The grant is
// created first, so the run's next write already finds it; if the approval
// then fails (someone else decided), the grant is revoked again.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Button } from "@/components/ui/button";
import type { ApprovalItem } from "@/components/approvals/types";
import { errorMessage } from "@/lib/errors";
import { GRANT_DEFAULTS, grantableRequest, suggestedGrantPath, type GrantTool } from "@/lib/grants";
import { useTRPC } from "@/lib/trpc/client";

export function GrantOffer({ approval }: { approval: ApprovalItem }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [error, setError] = useState<string | null>(null);
  const create = useMutation(trpc.grants.create.mutationOptions());
  const revoke = useMutation(trpc.grants.revoke.mutationOptions());
  const decide = useMutation(trpc.approvals.decide.mutationOptions());
  if (approval.state !== "pending" || !approval.canDecide || !grantableRequest(approval)) return null;

  const path = suggestedGrantPath(approval.args.path);
  const where = path === "." ? "anywhere in the workspace" : `under ${path}`;
  const busy = create.isPending || decide.isPending || revoke.isPending;

  async function approveWithGrant() {
    setError(null);
    let grantId: string | null = null;
    try {
      grantId = (
        await create.mutateAsync({
          runId: approval.runId,
          tool: approval.tool as GrantTool,
          path,
          minutes: GRANT_DEFAULTS.minutes,
          maxCalls: GRANT_DEFAULTS.maxCalls,
          fromApprovalId: approval.id,
        })
      ).id;
      await decide.mutateAsync({ id: approval.id, decision: "approve" });
    } catch (err) {
      if (grantId) await revoke.mutateAsync({ id: grantId }).catch(() => undefined);
      setError(errorMessage(err));
    } finally {
      void queryClient.invalidateQueries({ queryKey: trpc.approvals.list.pathKey() });
      void queryClient.invalidateQueries({ queryKey: trpc.grants.list.queryKey({ runId: approval.runId }) });
      void queryClient.invalidateQueries({ queryKey: trpc.runs.get.queryKey({ id: approval.runId }) });
    }
  }

  return (
    <div className="space-y-1" data-testid="grant-offer">
      {/* The label is long: let it wrap on a phone instead of widening the page (button text never wraps by default). */}
      <Button
        size="sm"
        variant="secondary"
        className="h-auto! min-h-8 max-w-full py-1.5 text-left whitespace-normal!"
        disabled={busy}
        onClick={() => void approveWithGrant()}
      >
        {busy ? "Approving…" : `Approve and allow ${approval.tool} ${where} for ${GRANT_DEFAULTS.minutes} min / ${GRANT_DEFAULTS.maxCalls} calls`}
      </Button>
      <p className="text-xs text-fg-muted">
        Later {approval.tool} calls {where} run without asking until the time or the calls run out; revoke it under Grants on the run page. Denied paths and
        files the policy singles out still ask.
      </p>
      {error ? <p className="text-xs font-medium break-words text-danger">{error}</p> : null}
    </div>
  );
}
