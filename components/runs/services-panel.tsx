"use client";
// A run's services (start_service, issue 13): long-running processes the
// agent started, with their state, command and the end of their output, and
// a Stop button for whoever may stop the run (the server checks it again).
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { InlineAlert } from "@/components/ui/alert";
import { errorMessage } from "@/lib/errors";
import { runPermissions } from "@/lib/permissions";
import type { SessionUser } from "@/lib/session-user";
import { useTRPC } from "@/lib/trpc/client";

const STATE_TONE = { running: "success", exited: "neutral", stopped: "neutral", failed: "danger" } as const;

export function ServicesPanel({ run, user }: { run: { id: string; createdBy: string; state: string }; user: SessionUser }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  // Refreshed by the run's service events (run-view.tsx).
  const services = useQuery(trpc.services.list.queryOptions({ runId: run.id }));
  const refresh = () => void queryClient.invalidateQueries({ queryKey: trpc.services.list.queryKey({ runId: run.id }) });
  const stop = useMutation(trpc.services.stop.mutationOptions({ onSuccess: refresh }));
  const mayStop = runPermissions(user, run).canStop;

  const items = services.data?.items ?? [];
  if (!services.error && items.length === 0) return null;
  const running = items.filter((s) => s.state === "running").length;

  return (
    <section aria-labelledby="run-services-title" className="rounded-xl border border-border bg-surface px-3 py-3 sm:px-4" data-testid="services-panel">
      <div className="flex flex-wrap items-center justify-between gap-2">
        <h2 id="run-services-title" className="text-base font-semibold">
          Services
        </h2>
        {running ? <Badge tone="success">{running} running</Badge> : <Badge>none running</Badge>}
      </div>
      <p className="mt-1 text-xs text-fg-muted">
        Processes the agent started with start_service. They keep running between commands, beside the sandbox, until stopped here, by the agent, or when the
        run ends.
      </p>
      {services.error ? (
        <InlineAlert className="mt-2" title="Services could not be loaded">
          {errorMessage(services.error)}
        </InlineAlert>
      ) : null}
      <ul className="mt-2 space-y-3">
        {items.map((s) => (
          <li key={s.id} className="space-y-1.5 text-sm" data-testid="service" data-state={s.state}>
            <div className="flex flex-wrap items-center justify-between gap-2">
              <span className="flex min-w-0 flex-wrap items-center gap-2">
                <span className="font-medium text-fg">{s.name}</span>
                <Badge tone={STATE_TONE[s.state]}>
                  {s.state}
                  {s.state === "exited" && s.exitCode !== null ? ` (exit ${s.exitCode})` : ""}
                </Badge>
                {s.endedBy && s.state !== "running" ? <span className="text-xs text-fg-muted">by {s.endedBy}</span> : null}
              </span>
              {s.state === "running" && mayStop ? (
                <Button size="sm" variant="secondary" disabled={stop.isPending} onClick={() => stop.mutate({ id: s.id })}>
                  Stop
                </Button>
              ) : null}
            </div>
            <code className="block font-mono text-xs break-all text-fg-muted">
              {s.cwd.replace(/^\/workspace\/?/, "") || "."} $ {s.command}
            </code>
            {s.output ? (
              <pre
                className="max-h-48 overflow-auto rounded-lg bg-bg px-2 py-1.5 font-mono text-xs whitespace-pre-wrap text-fg"
                aria-label={`Output of ${s.name}`}
              >
                {s.output.slice(-8192)}
              </pre>
            ) : null}
          </li>
        ))}
      </ul>
      {stop.error ? <p className="mt-1 text-xs font-medium text-danger">{errorMessage(stop.error)}</p> : null}
    </section>
  );
}
