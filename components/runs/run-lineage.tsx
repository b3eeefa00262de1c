"use client";
// Above a run's page (issue 16): which run it re-ran and which runs re-ran
// it, a Re-run button for people allowed to start runs, and a link to
// compare it with the run it re-ran.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { InlineAlert } from "@/components/ui/alert";
import { Button } from "@/components/ui/button";
import { errorMessage } from "@/lib/errors";
import { atLeast } from "@/lib/permissions";
import type { SessionUser } from "@/lib/session-user";
import { useTRPC } from "@/lib/trpc/client";
import { shortId } from "@/components/runs/format";

/** Starts a new run like `runId` and opens it; the server says why when it cannot (the source is gone, not a project member…). */
export function RerunButton({ runId, size = "sm" }: { runId: string; size?: "sm" | "md" }) {
  const trpc = useTRPC();
  const router = useRouter();
  const queryClient = useQueryClient();
  const rerun = useMutation(
    trpc.runs.rerun.mutationOptions({
      onSuccess: (created) => {
        void queryClient.invalidateQueries({ queryKey: trpc.runs.pathKey() });
        router.push(`/runs/${created.id}`);
      },
    }),
  );
  return (
    <span className="inline-flex flex-col gap-1">
      <Button variant="secondary" size={size} loading={rerun.isPending} onClick={() => rerun.mutate({ id: runId })}>
        Re-run
      </Button>
      {rerun.error ? (
        <InlineAlert title="This run cannot be re-run" className="max-w-md">
          {errorMessage(rerun.error)}
        </InlineAlert>
      ) : null}
    </span>
  );
}

export function RunLineage({ runId, user }: { runId: string; user: SessionUser }) {
  const trpc = useTRPC();
  const run = useQuery(trpc.runs.get.queryOptions({ id: runId }));
  if (!run.data) return null;
  const { rerunOf, reruns = [] } = run.data;
  const canStart = atLeast(user.role, "operator");
  if (!rerunOf && reruns.length === 0 && !canStart) return null;
  return (
    <div className="mb-3 flex flex-wrap items-center gap-x-3 gap-y-2 text-sm text-fg-muted" data-testid="run-lineage">
      {rerunOf ? (
        <span>
          Re-run of{" "}
          <Link href={`/runs/${rerunOf}`} className="font-mono text-accent hover:underline">
            {shortId(rerunOf)}
          </Link>{" "}
          ·{" "}
          <Link href={`/runs/compare?a=${rerunOf}&b=${runId}`} className="text-accent hover:underline">
            compare
          </Link>
        </span>
      ) : null}
      {reruns.length ? (
        <span>
          Re-run as{" "}
          {reruns.map((id, i) => (
            <span key={id}>
              {i ? ", " : ""}
              <Link href={`/runs/${id}`} className="font-mono text-accent hover:underline">
                {shortId(id)}
              </Link>
            </span>
          ))}
        </span>
      ) : null}
      {canStart ? (
        <span className="ml-auto">
          <RerunButton runId={runId} />
        </span>
      ) : null}
    </div>
  );
}
