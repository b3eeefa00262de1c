"use client";
// Getting the result out: downloads (patch, bundle) for everyone who can see
// the run, and — for runs that started from a repository — a request to
// commit the result to a new branch there, which another reviewer decides.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Badge } from "@/components/ui/badge";
import { Button, buttonClasses } from "@/components/ui/button";
import { Card, CardBody, CardHeader } from "@/components/ui/card";
import { InlineAlert } from "@/components/ui/alert";
import { TextField } from "@/components/ui/field";
import { mergeRequestPermissions, runPermissions } from "@/lib/permissions";
import { errorMessage } from "@/lib/errors";
import type { SessionUser } from "@/lib/session-user";
import { useTRPC } from "@/lib/trpc/client";
import { LocalTime } from "@/components/ui/local-time";

const TONE = { pending: "warning", merged: "success", denied: "neutral", failed: "danger" } as const;

export function MergeBackPanel({
  runId,
  user,
  runCreatedBy,
  runEnded,
  source,
  hasCheckpoints,
}: {
  runId: string;
  user: SessionUser;
  runCreatedBy: string;
  runEnded: boolean;
  source: { type: string; path?: string; commit?: string; branch?: string } | null;
  hasCheckpoints: boolean;
}) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const fromRepo = source?.type === "git";
  const requests = useQuery({ ...trpc.runs.mergeRequests.queryOptions({ id: runId }), enabled: fromRepo });
  const [branch, setBranch] = useState("");
  const refresh = () => void queryClient.invalidateQueries({ queryKey: trpc.runs.mergeRequests.queryKey({ id: runId }) });
  const request = useMutation(trpc.runs.mergeBack.mutationOptions({ onSuccess: () => (setBranch(""), refresh()) }));
  const decide = useMutation(trpc.runs.decideMergeBack.mutationOptions({ onSuccess: refresh }));
  const mayRequest = runPermissions(user, { createdBy: runCreatedBy }).canRequestMergeBack;
  const pending = requests.data?.items.some((r) => r.state === "pending");

  return (
    <Card>
      <CardHeader
        title="Result"
        description="Take the run's changes out of the sandbox: as a patch, as a git bundle, or into a new branch of the repository it started from."
      />
      <CardBody className="space-y-4">
        <div className="flex flex-wrap gap-2">
          <a
            href={`/api/runs/${runId}/patch`}
            download
            className={buttonClasses("secondary", "sm", !hasCheckpoints ? "pointer-events-none opacity-55" : undefined)}
            aria-disabled={!hasCheckpoints}
          >
            Download patch
          </a>
          <a
            href={`/api/runs/${runId}/bundle`}
            download
            className={buttonClasses("secondary", "sm", !hasCheckpoints ? "pointer-events-none opacity-55" : undefined)}
            aria-disabled={!hasCheckpoints}
          >
            Download git bundle
          </a>
        </div>
        {fromRepo ? (
          <div className="space-y-3 border-t border-border pt-4">
            <p className="text-sm text-fg-muted">
              Started from <span className="font-mono text-fg">{source?.path}</span>
              {source?.branch ? (
                <>
                  {" "}
                  at <span className="font-mono text-fg">{source.branch}</span>
                </>
              ) : null}
              {source?.commit ? <span className="font-mono"> ({source.commit.slice(0, 10)})</span> : null}. Merge-back creates one commit on a new branch; the
              repository&apos;s current branch and working tree are not touched.
            </p>
            {mayRequest && runEnded && !pending ? (
              <form
                className="flex flex-wrap items-end gap-2"
                onSubmit={(e) => {
                  e.preventDefault();
                  request.mutate({ id: runId, ...(branch.trim() ? { branch: branch.trim() } : {}) });
                }}
              >
                <TextField
                  label="New branch"
                  placeholder={`airlock/run-${runId.slice(0, 8)}`}
                  value={branch}
                  onChange={(e) => setBranch(e.target.value)}
                  fieldClassName="min-w-[14rem] flex-1"
                />
                <Button type="submit" size="md" loading={request.isPending}>
                  Ask to merge back
                </Button>
              </form>
            ) : !runEnded ? (
              <p className="text-sm text-fg-muted">Merge-back becomes available when the run has ended.</p>
            ) : null}
            {request.error ? <InlineAlert title="The request was not made">{errorMessage(request.error)}</InlineAlert> : null}
            {decide.error ? <InlineAlert title="The decision was not recorded">{errorMessage(decide.error)}</InlineAlert> : null}
            {requests.data?.items.length ? (
              <ul className="divide-y divide-border rounded-lg border border-border">
                {requests.data.items.map((r) => (
                  <li key={r.id} className="flex flex-wrap items-center justify-between gap-2 px-3 py-2.5 text-sm">
                    <div className="min-w-0 space-y-0.5">
                      <div className="flex flex-wrap items-center gap-2">
                        <span className="font-mono break-all">{r.branch}</span>
                        <Badge tone={TONE[r.state]}>{r.state}</Badge>
                      </div>
                      <p className="text-xs text-fg-muted">
                        asked by {r.requestedByEmail ?? "someone"} <LocalTime date={r.createdAt} format="relative" />
                        {r.decidedBy ? ` · decided by ${r.decidedBy}` : ""}
                        {r.resultCommit ? ` · commit ${r.resultCommit.slice(0, 10)}` : ""}
                      </p>
                      {r.error ? <p className="text-xs text-danger">{r.error}</p> : null}
                    </div>
                    {mergeRequestPermissions(user, r).canDecide ? (
                      <div className="flex gap-2">
                        <Button
                          size="sm"
                          variant="secondary"
                          disabled={decide.isPending}
                          onClick={() => decide.mutate({ mergeRequestId: r.id, decision: "deny" })}
                        >
                          Deny
                        </Button>
                        <Button size="sm" loading={decide.isPending} onClick={() => decide.mutate({ mergeRequestId: r.id, decision: "approve" })}>
                          Approve and commit
                        </Button>
                      </div>
                    ) : null}
                  </li>
                ))}
              </ul>
            ) : null}
          </div>
        ) : null}
      </CardBody>
    </Card>
  );
}
