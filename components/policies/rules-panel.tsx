"use client";
// Earned autonomy: each rule's track record, the proposals to promote approved
// patterns into rules (reviewers vote, admins accept), and the candidates
// Airlock suggests from repeated identical approvals. Nothing is promoted here
// without people accepting it.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import type { inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "@/server/api/root";
import { VerdictBadge } from "@/components/approvals/verdict-badge";
import { InlineAlert } from "@/components/ui/alert";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { TextField } from "@/components/ui/field";
import { rt } from "@/components/ui/responsive-table";
import { SkeletonRows } from "@/components/ui/skeleton";
import { errorMessage } from "@/lib/errors";
import { useTRPC } from "@/lib/trpc/client";
import { ProposeRuleButton } from "@/components/policies/propose-rule-button";
import { LocalTime } from "@/components/ui/local-time";

type Proposal = inferRouterOutputs<AppRouter>["policies"]["proposals"]["items"][number];

export function RulesPanel({ projectId, canReview, currentUserId }: { projectId: string; canReview: boolean; currentUserId: string }) {
  return (
    <div className="space-y-8">
      <Proposals projectId={projectId} canReview={canReview} currentUserId={currentUserId} />
      <Candidates projectId={projectId} canReview={canReview} />
      {canReview ? <RecentApprovals projectId={projectId} /> : null}
      <TrackRecord projectId={projectId} />
    </div>
  );
}

function TrackRecord({ projectId }: { projectId: string }) {
  const trpc = useTRPC();
  const records = useQuery(trpc.policies.trackRecord.queryOptions({ projectId }));
  const [showUnused, setShowUnused] = useState(false);
  if (records.isPending) return <SkeletonRows rows={5} label="Loading track records…" />;
  if (records.isError) return <InlineAlert title="Track records could not be loaded">{errorMessage(records.error)}</InlineAlert>;
  const rows = showUnused ? records.data.rules : records.data.rules.filter((r) => r.matched > 0 || r.provenance);
  return (
    <section aria-labelledby="track-title" className="space-y-3">
      <div className="flex flex-wrap items-end justify-between gap-2">
        <div>
          <h3 id="track-title" className="text-base font-semibold">
            Track record
          </h3>
          <p className="text-sm text-fg-muted">How often each rule decided a call in this project, and how reviewers answered what it asked.</p>
        </div>
        <label className="inline-flex items-center gap-1.5 text-xs text-fg-muted">
          <input type="checkbox" checked={showUnused} onChange={(e) => setShowUnused(e.target.checked)} /> Show rules that never matched
        </label>
      </div>
      {rows.length === 0 ? (
        <p className="rounded-lg border border-dashed border-border-strong px-4 py-6 text-center text-sm text-fg-muted">
          No rule has decided a call in this project yet.
        </p>
      ) : (
        <div className={rt.wrapper}>
          <table className={rt.table}>
            <caption className="sr-only">Rule track records</caption>
            <thead className={rt.thead}>
              <tr>
                <th scope="col" className={rt.th}>
                  Rule
                </th>
                <th scope="col" className={rt.th}>
                  Matched
                </th>
                <th scope="col" className={rt.th}>
                  Allowed / asked / denied
                </th>
                <th scope="col" className={rt.th}>
                  Approved / denied by reviewers
                </th>
                <th scope="col" className={rt.th}>
                  Provenance
                </th>
              </tr>
            </thead>
            <tbody className={rt.tbody}>
              {rows.map((r) => (
                <tr key={r.id} className={rt.row} data-testid="rule-record">
                  <td className={`${rt.bareCell} min-w-0`}>
                    <div className="flex flex-wrap items-center gap-1.5">
                      <code className="font-mono text-[12px] font-medium break-all">{r.id}</code>
                      {r.outcome !== "fallback" ? <VerdictBadge verdict={r.outcome} short /> : null}
                      {r.kind !== "policy" ? <Badge>{r.kind}</Badge> : null}
                    </div>
                    <p className="mt-0.5 text-xs text-fg-muted">{r.description}</p>
                  </td>
                  <td data-label="Matched" className={rt.cell}>
                    {r.matched}
                    {r.lastMatchedAt ? (
                      <span className="block text-xs text-fg-muted">
                        last <LocalTime date={r.lastMatchedAt} format="date" />
                      </span>
                    ) : null}
                  </td>
                  <td data-label="Allowed / asked / denied" className={rt.cell}>
                    {r.allowed} / {r.asked} / {r.denied}
                  </td>
                  <td data-label="Approved / denied" className={rt.cell}>
                    {r.approved} / {r.rejected}
                    {r.expired ? <span className="text-xs text-fg-muted"> ({r.expired} expired)</span> : null}
                  </td>
                  <td data-label="Provenance" className={`${rt.cell} text-xs`}>
                    {r.provenance ? (
                      <span>
                        Promoted from {r.provenance.approvals.length} approval{r.provenance.approvals.length === 1 ? "" : "s"}, proposed by{" "}
                        {r.provenance.proposedBy}, accepted by {r.provenance.acceptedBy.join(", ") || "an admin"} on{" "}
                        <LocalTime date={new Date(r.provenance.acceptedAt)} format="date" />
                      </span>
                    ) : (
                      <span className="text-fg-muted">—</span>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function Candidates({ projectId, canReview }: { projectId: string; canReview: boolean }) {
  const trpc = useTRPC();
  const candidates = useQuery(trpc.policies.candidates.queryOptions({ projectId }));
  return (
    <section aria-labelledby="candidates-title" className="space-y-3">
      <div>
        <h3 id="candidates-title" className="text-base font-semibold">
          Candidates for promotion
        </h3>
        <p className="text-sm text-fg-muted">The same call approved again and again. Airlock only suggests; a reviewer proposes and others accept.</p>
      </div>
      {candidates.isPending ? (
        <SkeletonRows rows={2} label="Loading candidates…" />
      ) : candidates.isError ? (
        <InlineAlert>{errorMessage(candidates.error)}</InlineAlert>
      ) : candidates.data.items.length === 0 ? (
        <p className="rounded-lg border border-dashed border-border-strong px-4 py-6 text-center text-sm text-fg-muted">
          No call has been approved three times or more without a rule for it yet.
        </p>
      ) : (
        <ul className="space-y-2">
          {candidates.data.items.map((c) => (
            <li
              key={c.key}
              className="flex flex-wrap items-center justify-between gap-2 rounded-xl border border-border bg-surface p-3"
              data-testid="candidate"
            >
              <div className="min-w-0">
                <code className="font-mono text-[13px] break-all">{c.pattern}</code>
                <p className="text-xs text-fg-muted">
                  approved {c.approvals} times{c.denied ? `, denied ${c.denied} times` : ""} · by {c.reviewers.join(", ") || "reviewers"} · last{" "}
                  <LocalTime date={c.lastApprovedAt} />
                </p>
              </div>
              {canReview ? <ProposeRuleButton approvalId={c.latestApprovalId} /> : null}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

/** Approved tool calls of this project's recent runs: any of them may be proposed as a rule. */
function RecentApprovals({ projectId }: { projectId: string }) {
  const trpc = useTRPC();
  const decided = useQuery(trpc.approvals.list.queryOptions({ state: "decided" }));
  const runs = useQuery(trpc.runs.list.queryOptions({ limit: 200 }));
  if (decided.isPending || runs.isPending) return <SkeletonRows rows={2} label="Loading recent approvals…" />;
  if (decided.isError || runs.isError) return <InlineAlert>{errorMessage(decided.error ?? runs.error)}</InlineAlert>;
  const inProject = new Set(runs.data.items.filter((r) => r.projectId === projectId).map((r) => r.id));
  const items = decided.data.items.filter((a) => a.kind === "tool" && a.state === "approved" && inProject.has(a.runId)).slice(0, 10);
  return (
    <section aria-labelledby="recent-title" className="space-y-3">
      <div>
        <h3 id="recent-title" className="text-base font-semibold">
          Recently approved calls
        </h3>
        <p className="text-sm text-fg-muted">
          Propose &ldquo;allow this pattern in this project&rdquo; from any of them. The rule covers this exact program and subcommand (or file, host, secret),
          never more.
        </p>
      </div>
      {items.length === 0 ? (
        <p className="rounded-lg border border-dashed border-border-strong px-4 py-6 text-center text-sm text-fg-muted">
          No approved tool calls in this project&apos;s recent runs.
        </p>
      ) : (
        <ul className="space-y-2">
          {items.map((a) => (
            <li key={a.id} className="flex flex-wrap items-center justify-between gap-2 rounded-xl border border-border bg-surface p-3">
              <div className="min-w-0">
                <code className="font-mono text-[13px] break-all">
                  {a.tool}{" "}
                  {typeof a.args.command === "string"
                    ? a.args.command
                    : typeof a.args.path === "string"
                      ? a.args.path
                      : typeof a.args.url === "string"
                        ? a.args.url
                        : ""}
                </code>
                <p className="text-xs text-fg-muted">
                  asked by <code className="font-mono">{a.rule ?? "default"}</code> · {a.runTitle} · {a.decidedAt ? <LocalTime date={a.decidedAt} /> : ""}
                </p>
              </div>
              <ProposeRuleButton approvalId={a.id} />
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function Proposals({ projectId, canReview, currentUserId }: { projectId: string; canReview: boolean; currentUserId: string }) {
  const trpc = useTRPC();
  const proposals = useQuery(trpc.policies.proposals.queryOptions({ projectId }));
  return (
    <section aria-labelledby="proposals-title" className="space-y-3">
      <div>
        <h3 id="proposals-title" className="text-base font-semibold">
          Rule proposals
        </h3>
        <p className="text-sm text-fg-muted">
          &ldquo;Allow this pattern in this project&rdquo;, proposed by a reviewer from an approval. It becomes a rule when an admin, or enough other reviewers,
          accept it.
        </p>
      </div>
      {proposals.isPending ? (
        <SkeletonRows rows={2} label="Loading proposals…" />
      ) : proposals.isError ? (
        <InlineAlert>{errorMessage(proposals.error)}</InlineAlert>
      ) : proposals.data.items.length === 0 ? (
        <p className="rounded-lg border border-dashed border-border-strong px-4 py-6 text-center text-sm text-fg-muted">
          No proposals yet. Reviewers propose rules from approvals (or from the candidates above).
        </p>
      ) : (
        <ul className="space-y-2">
          {proposals.data.items.map((p) => (
            <ProposalItem key={p.id} proposal={p} canReview={canReview} currentUserId={currentUserId} />
          ))}
        </ul>
      )}
    </section>
  );
}

function ProposalItem({ proposal: p, canReview, currentUserId }: { proposal: Proposal; canReview: boolean; currentUserId: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [rejecting, setRejecting] = useState(false);
  const [reason, setReason] = useState("");
  const vote = useMutation(
    trpc.policies.voteProposal.mutationOptions({
      onSuccess: () => void queryClient.invalidateQueries({ queryKey: trpc.policies.pathKey() }),
    }),
  );
  const accepts = p.votes.filter((v) => v.decision === "accept").length;
  const voted = p.votes.some((v) => v.userId === currentUserId);
  const tone = p.state === "accepted" ? "success" : p.state === "rejected" ? "danger" : "warning";
  return (
    <li className="space-y-2 rounded-xl border border-border bg-surface p-3" data-testid="proposal">
      <div className="flex flex-wrap items-center gap-2">
        <Badge tone={tone}>{p.state}</Badge>
        <code className="font-mono text-[13px] break-all">{p.pattern}</code>
      </div>
      <p className="text-xs text-fg-muted">
        Rule <code className="font-mono">{p.ruleId}</code> · proposed by {p.proposedByEmail} on <LocalTime date={p.createdAt} /> · from {p.approvalIds.length}{" "}
        approval{p.approvalIds.length === 1 ? "" : "s"}
        {p.rule.overrides?.length ? ` · overrides ${p.rule.overrides.join(", ")}` : ""}
        {p.state === "pending" ? ` · ${accepts} of ${p.requiredReviewers} reviewers accepted (or one admin)` : ""}
        {p.policyVersion ? ` · in policy v${p.policyVersion}` : ""}
      </p>
      {p.comment ? <p className="text-sm">{p.comment}</p> : null}
      {p.decisionReason ? <p className="text-sm text-danger">Rejected: {p.decisionReason}</p> : null}
      {p.votes.length ? (
        <ul className="text-xs text-fg-muted">
          {p.votes.map((v) => (
            <li key={v.userId}>
              {v.email} {v.decision === "accept" ? "accepted" : "rejected"}
              {v.reason ? `: ${v.reason}` : ""}
            </li>
          ))}
        </ul>
      ) : null}
      {vote.error ? <InlineAlert>{errorMessage(vote.error)}</InlineAlert> : null}
      {p.state === "pending" && canReview && !voted ? (
        rejecting ? (
          <form
            className="flex flex-wrap items-end gap-2"
            onSubmit={(e) => {
              e.preventDefault();
              vote.mutate({ id: p.id, decision: "reject", reason });
            }}
          >
            <TextField label="Why reject it?" value={reason} onChange={(e) => setReason(e.target.value)} required fieldClassName="min-w-56 flex-1" />
            <Button type="submit" variant="danger-outline" loading={vote.isPending}>
              Reject
            </Button>
            <Button variant="ghost" onClick={() => setRejecting(false)}>
              Cancel
            </Button>
          </form>
        ) : (
          <div className="flex flex-wrap gap-2">
            <Button size="sm" loading={vote.isPending} onClick={() => vote.mutate({ id: p.id, decision: "accept" })}>
              Accept
            </Button>
            <Button size="sm" variant="secondary" onClick={() => setRejecting(true)}>
              Reject…
            </Button>
          </div>
        )
      ) : null}
    </li>
  );
}
