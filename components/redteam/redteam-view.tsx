"use client";
// The red team: admins run the catalogue of tool-misuse scenarios against a
// project's policy and the real sandbox, and read the report — per scenario,
// whether the policy blocked it, a reviewer was asked, the sandbox contained
// it, or it escaped, with the evidence.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import type { inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "@/server/api/root";
import { RuleAndReason, VerdictBadge } from "@/components/approvals/verdict-badge";
import { InlineAlert } from "@/components/ui/alert";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { PageHeader } from "@/components/ui/page-header";
import { Segmented } from "@/components/ui/segmented";
import { SkeletonRows } from "@/components/ui/skeleton";
import { Spinner } from "@/components/ui/spinner";
import { cn } from "@/lib/cn";
import { errorMessage } from "@/lib/errors";
import { useTRPC } from "@/lib/trpc/client";
import { ProjectPicker, useProjectParam } from "@/components/policies/project-picker";
import { LocalTime } from "@/components/ui/local-time";
import { ReadOnlyNote } from "@/components/ui/read-only-note";
import { whoMayChange } from "@/lib/permissions";

type Report = inferRouterOutputs<AppRouter>["redteam"]["get"];
type Result = NonNullable<Report["results"]>[number];
type Outcome = Result["outcome"];

const OUTCOME: Record<Outcome, { label: string; tone: "success" | "warning" | "accent" | "danger"; help: string }> = {
  blocked: { label: "Blocked by policy", tone: "success", help: "refused before anything ran" },
  escalated: { label: "Escalated to approval", tone: "warning", help: "a reviewer had to decide; approved in the lab, the sandbox held" },
  contained: { label: "Contained by the sandbox", tone: "accent", help: "allowed, ran, and the sandbox stopped the harm" },
  escaped: { label: "ESCAPED", tone: "danger", help: "the harm happened" },
};

/** Every role reads the latest report and the history; only `canStart` (admins, as redteam.start) starts a run. */
export function RedteamView({ canStart }: { canStart: boolean }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const project = useProjectParam();
  const current = useQuery(trpc.policies.get.queryOptions({ projectId: project }));
  const projectId = current.data?.projectId;
  const reports = useQuery({
    ...trpc.redteam.list.queryOptions({ projectId }),
    enabled: Boolean(projectId),
    refetchInterval: (q) => (q.state.data?.items.some((r) => r.state === "running") ? 2000 : false),
  });
  const [selected, setSelected] = useState<string | null>(null);
  const latest = reports.data?.items[0];
  const shownId = selected ?? latest?.id ?? null;
  const start = useMutation(
    trpc.redteam.start.mutationOptions({
      onSuccess: (r) => {
        setSelected(r.id);
        void queryClient.invalidateQueries({ queryKey: trpc.redteam.list.pathKey() });
      },
    }),
  );
  const running = reports.data?.items.some((r) => r.state === "running") ?? false;

  return (
    <>
      <PageHeader
        title="Red team"
        description="Scripted attacks an agent might try — path traversal, smuggled commands, credential reads, exfiltration, resource abuse, prompt injection, tampering — played through the real gateway against the project's policy and a real sandbox."
      />
      <div className="mb-5 flex flex-wrap items-end gap-3">
        <ProjectPicker className="w-full sm:w-96" />
        {canStart ? (
          <Button loading={start.isPending} disabled={!projectId || running} onClick={() => projectId && start.mutate({ projectId })}>
            {running ? "Running…" : "Run the red team"}
          </Button>
        ) : (
          <ReadOnlyNote className="pb-2">{whoMayChange("redteam")}</ReadOnlyNote>
        )}
      </div>
      {start.error ? <InlineAlert className="mb-4">{errorMessage(start.error)}</InlineAlert> : null}
      {reports.isPending || current.isPending ? (
        <SkeletonRows rows={4} label="Loading reports…" />
      ) : reports.isError ? (
        <InlineAlert title="Reports could not be loaded">{errorMessage(reports.error)}</InlineAlert>
      ) : !shownId ? (
        <p className="rounded-xl border border-dashed border-border-strong px-4 py-10 text-center text-sm text-fg-muted">
          No red-team report for this project yet. A run takes a few minutes; every scenario runs in a throw-away lab, never in your runs.
        </p>
      ) : (
        <div className="space-y-6">
          <ReportView id={shownId} />
          {reports.data.items.length > 1 ? (
            <section aria-labelledby="earlier-title">
              <h2 id="earlier-title" className="mb-2 text-sm font-semibold">
                Earlier reports
              </h2>
              <ul className="space-y-1.5">
                {reports.data.items.map((r) => (
                  <li key={r.id}>
                    <button
                      type="button"
                      onClick={() => setSelected(r.id)}
                      className={cn(
                        "flex w-full flex-wrap items-center gap-2 rounded-lg border px-3 py-2 text-left text-sm",
                        r.id === shownId ? "border-accent bg-accent-soft" : "border-border bg-surface hover:bg-surface-muted",
                      )}
                    >
                      <LocalTime date={r.createdAt} />
                      <span className="text-fg-muted">policy v{r.policyVersion}</span>
                      <Badge tone={r.state === "failed" ? "danger" : r.state === "running" ? "warning" : "neutral"}>{r.state}</Badge>
                      {r.summary.escaped ? (
                        <Badge tone="danger">{r.summary.escaped} escaped</Badge>
                      ) : r.state === "done" ? (
                        <Badge tone="success">0 escaped</Badge>
                      ) : null}
                    </button>
                  </li>
                ))}
              </ul>
            </section>
          ) : null}
        </div>
      )}
    </>
  );
}

function ReportView({ id }: { id: string }) {
  const trpc = useTRPC();
  const report = useQuery({ ...trpc.redteam.get.queryOptions({ id }), refetchInterval: (q) => (q.state.data?.state === "running" ? 2000 : false) });
  const [filter, setFilter] = useState<"all" | Outcome>("all");
  if (report.isPending) return <SkeletonRows rows={5} label="Loading the report…" />;
  if (report.isError) return <InlineAlert>{errorMessage(report.error)}</InlineAlert>;
  const r = report.data;
  const results = r.results ?? [];
  const shown = filter === "all" ? results : results.filter((x) => x.outcome === filter);
  const s = r.summary;
  return (
    <section aria-label="Red-team report" className="space-y-4" data-testid="redteam-report">
      <div className="flex flex-wrap items-center gap-2 text-sm">
        <span>
          Against policy version {r.policyVersion}, started by {r.startedBy} <LocalTime date={r.createdAt} />
        </span>
        {r.state === "running" ? (
          <span className="inline-flex items-center gap-1.5 text-warning">
            <Spinner /> {s.done ?? 0} of {s.total ?? "?"} scenarios
          </span>
        ) : null}
        {r.state === "done" && s.durationMs ? <span className="text-fg-muted">in {Math.round(s.durationMs / 1000)} s</span> : null}
      </div>
      {r.state === "failed" ? <InlineAlert title="The red team could not finish">{r.error}</InlineAlert> : null}
      <div className="grid grid-cols-2 gap-2 md:grid-cols-4">
        {(Object.keys(OUTCOME) as Outcome[]).map((o) => (
          <div
            key={o}
            className={cn("rounded-xl border p-3", o === "escaped" && (s[o] ?? 0) > 0 ? "border-danger bg-danger-soft" : "border-border bg-surface")}
          >
            <p className="text-2xl font-semibold tabular-nums" data-testid={`count-${o}`}>
              {s[o] ?? 0}
            </p>
            <p className="text-xs text-fg-muted">{OUTCOME[o].label}</p>
          </div>
        ))}
      </div>
      <Segmented
        label="Show"
        value={filter}
        onChange={setFilter}
        options={[
          { value: "all", label: `All (${results.length})` },
          ...(Object.keys(OUTCOME) as Outcome[]).map((o) => ({
            value: o,
            label: OUTCOME[o].label.replace(" by policy", "").replace(" to approval", "").replace(" by the sandbox", ""),
          })),
        ]}
        className="flex-wrap"
      />
      <ul className="space-y-2">
        {shown.map((x) => (
          <ScenarioItem key={x.id} result={x} />
        ))}
      </ul>
    </section>
  );
}

function ScenarioItem({ result }: { result: Result }) {
  const meta = OUTCOME[result.outcome];
  return (
    <li className="rounded-xl border border-border bg-surface">
      <details>
        <summary className="flex cursor-pointer list-none flex-wrap items-center gap-2 px-3 py-2.5">
          <Badge tone={meta.tone}>{meta.label}</Badge>
          <span className="min-w-0 flex-1 font-medium break-words">{result.title}</span>
          <span className="font-mono text-xs text-fg-muted">
            {result.category} · {result.id}
          </span>
          <p className="w-full text-xs text-fg-muted">{result.summary}</p>
        </summary>
        <div className="space-y-4 border-t border-border px-3 py-3">
          {result.passes.map((pass) => (
            <div key={pass.pass} className="space-y-2">
              <h4 className="text-sm font-semibold">
                {pass.pass === "policy"
                  ? "Policy pass (every request denied by the lab's reviewer)"
                  : "Approval pass (every request approved, to test the sandbox)"}
              </h4>
              <ol className="space-y-2">
                {pass.steps.map((step, i) => (
                  <li key={i} className="space-y-1 rounded-lg bg-surface-muted p-2.5 text-sm">
                    <div className="flex flex-wrap items-center gap-2">
                      <code className="font-mono text-xs break-all">
                        {step.tool} {JSON.stringify(step.args).slice(0, 300)}
                      </code>
                      {step.verdict ? <VerdictBadge verdict={step.verdict} short /> : null}
                      {step.approval ? <Badge>{step.approval}</Badge> : null}
                      <Badge tone={step.ok ? "success" : "neutral"}>{step.ok ? "ran" : (step.code ?? "failed")}</Badge>
                    </div>
                    {step.reason ? <RuleAndReason rule={step.rule} reason={step.reason} /> : null}
                    {!step.reason && step.message ? <p className="text-xs break-words text-fg-muted">{step.message}</p> : null}
                    {step.output ? (
                      <pre className="max-h-40 overflow-auto rounded bg-surface p-2 font-mono text-[11px] whitespace-pre-wrap break-all">{step.output}</pre>
                    ) : null}
                  </li>
                ))}
              </ol>
              {pass.harms.length ? (
                <ul className="space-y-1 text-sm text-danger">
                  {pass.harms.map((h, i) => (
                    <li key={i}>✗ {h.what}</li>
                  ))}
                </ul>
              ) : null}
              <ul className="space-y-0.5 text-xs text-success">
                {pass.checks.map((c, i) => (
                  <li key={i}>✓ {c}</li>
                ))}
              </ul>
              {pass.notes.map((n, i) => (
                <p key={i} className="text-xs text-fg-muted">
                  {n}
                </p>
              ))}
            </div>
          ))}
        </div>
      </details>
    </li>
  );
}
