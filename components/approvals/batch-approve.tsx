"use client";
// Batch approval on the run page (issue 12): when two or more writes of the
// run wait, a reviewer opens their combined diff and approves or denies them
// together. What the reviewer opened is frozen: the decision names exactly
// those requests with the hash of what was shown, so a write that arrives
// while they read is not part of it, and one changed since is refused.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { inferRouterOutputs } from "@trpc/server";
import { useEffect, useState, type FormEvent } from "react";
import type { AppRouter } from "@/server/api/root";
import { Button } from "@/components/ui/button";
import { InlineAlert } from "@/components/ui/alert";
import { TextAreaField } from "@/components/ui/textarea-field";
import { FileChange, isFileDiffPreview } from "@/components/diff/file-change";
import { errorMessage } from "@/lib/errors";
import { atLeast } from "@/lib/permissions";
import type { SessionUser } from "@/lib/session-user";
import { useTRPC } from "@/lib/trpc/client";

type PendingWrite = inferRouterOutputs<AppRouter>["approvals"]["pendingWrites"]["items"][number];
type BatchResult = inferRouterOutputs<AppRouter>["approvals"]["decideBatch"];

/** `pendingKey` changes whenever the run's pending requests change (the run page knows from its events). */
export function BatchApprove({ runId, user, pendingKey }: { runId: string; user: SessionUser; pendingKey: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const writes = useQuery({ ...trpc.approvals.pendingWrites.queryOptions({ runId }), enabled: atLeast(user.role, "reviewer") });
  const [shown, setShown] = useState<PendingWrite[] | null>(null);
  const [denying, setDenying] = useState(false);
  const [reason, setReason] = useState("");
  const [result, setResult] = useState<BatchResult | null>(null);
  const decide = useMutation(
    trpc.approvals.decideBatch.mutationOptions({
      onSuccess: (r) => {
        setResult(r);
        setShown(null);
        setDenying(false);
        setReason("");
        void queryClient.invalidateQueries({ queryKey: trpc.approvals.list.pathKey() });
        void queryClient.invalidateQueries({ queryKey: trpc.runs.get.queryKey({ id: runId }) });
      },
    }),
  );
  const { refetch } = writes;
  useEffect(() => {
    void refetch();
  }, [pendingKey, refetch]);

  const decidable = (writes.data?.items ?? []).filter((w) => w.canDecide);
  if (!atLeast(user.role, "reviewer")) return null;
  if (!shown && !result && decidable.length < 2) return null;

  const arrivedSince = shown ? decidable.filter((w) => !shown.some((s) => s.id === w.id)).length : 0;

  function send(decision: "approve" | "deny", e?: FormEvent) {
    e?.preventDefault();
    if (!shown) return;
    decide.mutate({
      runId,
      approvalIds: shown.map((w) => w.id),
      hashes: Object.fromEntries(shown.map((w) => [w.id, w.contentHash])),
      decision,
      ...(decision === "deny" ? { reason: reason.trim() } : {}),
    });
  }

  return (
    <section aria-labelledby="batch-approve-title" className="rounded-xl border border-warning/40 bg-surface px-3 py-3 sm:px-4" data-testid="batch-approve">
      <h2 id="batch-approve-title" className="text-base font-semibold">
        {shown ? `${shown.length} pending writes, together` : decidable.length >= 2 ? `${decidable.length} writes of this run are waiting` : "Batch decision"}
      </h2>

      {result ? <BatchOutcome result={result} onDismiss={() => setResult(null)} /> : null}

      {!shown ? (
        decidable.length >= 2 ? (
          <Button className="mt-2" size="sm" onClick={() => (setResult(null), setShown(decidable))}>
            Review {decidable.length} pending writes together
          </Button>
        ) : null
      ) : (
        <div className="mt-2 space-y-3">
          <p className="text-xs text-fg-muted">
            Your decision applies to exactly these {shown.length} writes, each as you see it here. A write that arrives meanwhile is not part of it, and one
            changed since (another reviewer&apos;s edit) is refused and left for you to review on its own.
          </p>
          {arrivedSince ? (
            <p role="status" className="text-xs font-medium text-warning">
              {arrivedSince} more write{arrivedSince === 1 ? "" : "s"} arrived since you opened this; not included.
            </p>
          ) : null}
          <ol className="space-y-2" aria-label="Combined diff">
            {shown.map((w) => (
              <li key={w.id}>
                {isFileDiffPreview(w.preview) ? (
                  <FileChange preview={w.preview} />
                ) : (
                  <p className="text-sm">
                    <span className="font-mono">{w.tool}</span> {w.path ?? ""} (no diff)
                  </p>
                )}
              </li>
            ))}
          </ol>
          {denying ? (
            <form onSubmit={(e) => send("deny", e)} className="space-y-2" aria-label="Deny all">
              <TextAreaField
                label="Why deny them?"
                hint="Goes back to the agent with each write so it can change course."
                rows={2}
                maxLength={4000}
                autoFocus
                value={reason}
                onChange={(e) => setReason(e.target.value)}
              />
              <div className="flex flex-wrap gap-2">
                <Button type="submit" size="sm" variant="danger" disabled={decide.isPending || !reason.trim()}>
                  Deny all {shown.length}
                </Button>
                <Button size="sm" variant="ghost" onClick={() => setDenying(false)}>
                  Back
                </Button>
              </div>
            </form>
          ) : (
            <div className="flex flex-wrap gap-2">
              <Button size="sm" disabled={decide.isPending} onClick={() => send("approve")}>
                {decide.isPending ? "Approving…" : `Approve all ${shown.length}`}
              </Button>
              <Button size="sm" variant="danger-outline" disabled={decide.isPending} onClick={() => setDenying(true)}>
                Deny all…
              </Button>
              <Button size="sm" variant="ghost" disabled={decide.isPending} onClick={() => setShown(null)}>
                Close
              </Button>
            </div>
          )}
          {decide.error ? <InlineAlert>{errorMessage(decide.error)}</InlineAlert> : null}
        </div>
      )}
    </section>
  );
}

function BatchOutcome({ result, onDismiss }: { result: BatchResult; onDismiss: () => void }) {
  const refused = result.items.filter((i) => i.outcome === "refused" || i.outcome === "expired");
  const done = result.items.length - refused.length;
  return (
    <div role="status" className="mt-2 space-y-1 text-sm" data-testid="batch-outcome">
      <p>
        {done} of {result.items.length} decided.{refused.length ? " Not decided:" : ""}
      </p>
      {refused.length ? (
        <ul className="list-disc pl-5 text-xs break-words text-fg-muted">
          {refused.map((i) => (
            <li key={i.id}>{i.message ?? i.outcome}</li>
          ))}
        </ul>
      ) : null}
      <Button size="sm" variant="ghost" onClick={onDismiss}>
        Dismiss
      </Button>
    </div>
  );
}
