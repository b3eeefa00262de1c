"use client";
// Every saved version of a project's policy, newest first: who saved it, why,
// what changed (the diff against the version before), and restore (admins).
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { DiffView } from "@/components/diff/diff-view";
import { InlineAlert } from "@/components/ui/alert";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { SkeletonRows } from "@/components/ui/skeleton";
import { errorMessage } from "@/lib/errors";
import { useTRPC } from "@/lib/trpc/client";
import { createTwoFilesPatch } from "diff";
import { LocalTime } from "@/components/ui/local-time";

function VersionDiff({ projectId, version }: { projectId: string; version: number }) {
  const trpc = useTRPC();
  const current = useQuery(trpc.policies.version.queryOptions({ projectId, version }));
  const previous = useQuery({ ...trpc.policies.version.queryOptions({ projectId, version: version - 1 }), enabled: version > 1 });
  if (current.isPending || (version > 1 && previous.isPending)) return <SkeletonRows rows={2} label="Loading the diff…" />;
  if (current.isError) return <InlineAlert>{errorMessage(current.error)}</InlineAlert>;
  const diff = createTwoFilesPatch(`policy v${version - 1}`, `policy v${version}`, previous.data?.yaml ?? "", current.data.yaml, "", "", { context: 3 });
  return (
    <div className="overflow-x-auto rounded-lg border border-border">
      <DiffView diff={diff} path="policy.yaml" mode="unified" wrap={false} />
    </div>
  );
}

export function PolicyHistory({ projectId, canRestore }: { projectId: string; canRestore: boolean }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const history = useQuery(trpc.policies.history.queryOptions({ projectId }));
  const [open, setOpen] = useState<number | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const restore = useMutation(
    trpc.policies.restore.mutationOptions({
      onSuccess: (r) => {
        setMessage(`Restored as version ${r.version}.`);
        void queryClient.invalidateQueries({ queryKey: trpc.policies.pathKey() });
      },
    }),
  );

  if (history.isPending) return <SkeletonRows rows={4} label="Loading the policy's history…" />;
  if (history.isError) return <InlineAlert title="The history could not be loaded">{errorMessage(history.error)}</InlineAlert>;

  return (
    <div className="space-y-3">
      {message ? <InlineAlert tone="success">{message}</InlineAlert> : null}
      {restore.error ? <InlineAlert>{errorMessage(restore.error)}</InlineAlert> : null}
      <ol className="space-y-2" aria-label="Policy versions">
        {history.data.items.map((v) => (
          <li key={v.version} className="rounded-xl border border-border bg-surface p-3" data-testid="policy-version">
            <div className="flex flex-wrap items-start justify-between gap-2">
              <div className="min-w-0 space-y-1">
                <div className="flex flex-wrap items-center gap-2">
                  <span className="font-semibold">Version {v.version}</span>
                  {v.current ? <Badge tone="accent">In force</Badge> : null}
                  {v.restoredFrom ? <Badge>restores v{v.restoredFrom}</Badge> : null}
                  <span className="text-xs text-success">+{v.added}</span>
                  <span className="text-xs text-danger">−{v.removed}</span>
                </div>
                <p className="text-sm break-words">{v.comment ?? <span className="text-fg-muted">No comment</span>}</p>
                <p className="text-xs text-fg-muted">
                  {v.createdBy} · <LocalTime date={v.createdAt} />
                </p>
              </div>
              <div className="flex flex-wrap gap-2">
                <Button size="sm" variant="secondary" aria-expanded={open === v.version} onClick={() => setOpen(open === v.version ? null : v.version)}>
                  {open === v.version ? "Hide changes" : "Show changes"}
                </Button>
                {canRestore && !v.current ? (
                  <Button
                    size="sm"
                    variant="secondary"
                    loading={restore.isPending && restore.variables?.version === v.version}
                    onClick={() => {
                      if (window.confirm(`Make version ${v.version} the policy in force again? It is saved as a new version; nothing is deleted.`)) {
                        setMessage(null);
                        restore.mutate({ projectId, version: v.version });
                      }
                    }}
                  >
                    Restore
                  </Button>
                ) : null}
              </div>
            </div>
            {open === v.version ? (
              <div className="mt-3">
                <VersionDiff projectId={projectId} version={v.version} />
              </div>
            ) : null}
          </li>
        ))}
      </ol>
    </div>
  );
}
