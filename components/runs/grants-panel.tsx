"use client";
// Bounded grants of a run (issue 12): what a reviewer let the run do without
// asking, with the time and calls left and a Revoke button; grants that ended
// stay listed below for the record. A reviewer may give a new one here too.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState, type FormEvent } from "react";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { InlineAlert } from "@/components/ui/alert";
import { SelectField, TextField } from "@/components/ui/field";
import { useNow } from "@/components/ui/use-now";
import { errorMessage } from "@/lib/errors";
import { formatDateTime } from "@/lib/format";
import { atLeast, runGrantDenial } from "@/lib/permissions";
import type { SessionUser } from "@/lib/session-user";
import { useTRPC } from "@/lib/trpc/client";

const STATUS_LABEL = { active: "active", expired: "expired", used_up: "all calls used", revoked: "revoked" } as const;

/** "12 min 5 s left", or "ended" once the time is up. */
export function timeLeft(expiresAt: Date, now: number | null): string {
  if (now === null) return `until ${formatDateTime(expiresAt)}`;
  const s = Math.max(0, Math.round((expiresAt.getTime() - now) / 1000));
  if (s === 0) return "time is up";
  const m = Math.floor(s / 60);
  return m ? `${m} min ${s % 60} s left` : `${s} s left`;
}

export function GrantsPanel({ run, user, ended }: { run: { id: string; createdBy: string }; user: SessionUser; ended: boolean }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  // Uses are counted by the gateway as calls arrive: a short poll keeps "calls left" honest without another event type.
  const grants = useQuery({ ...trpc.grants.list.queryOptions({ runId: run.id }), refetchInterval: ended ? false : 5000 });
  const now = useNow(1000);
  // Once the run ends the poll stops; one last fetch shows the final counts.
  const { refetch } = grants;
  useEffect(() => {
    if (ended) void refetch();
  }, [ended, refetch]);
  const refresh = () => void queryClient.invalidateQueries({ queryKey: trpc.grants.list.queryKey({ runId: run.id }) });
  const revoke = useMutation(trpc.grants.revoke.mutationOptions({ onSuccess: refresh }));
  const mayGrant = !ended && runGrantDenial(user, run) === null;
  const mayRevoke = atLeast(user.role, "reviewer");

  const items = grants.data?.items ?? [];
  const live = items.filter((g) => g.status === "active" && (now === null || g.expiresAt.getTime() > now));
  const past = items.filter((g) => !live.includes(g));

  if (!grants.isPending && !grants.error && items.length === 0 && !mayGrant) return null;

  return (
    <section aria-labelledby="run-grants-title" className="rounded-xl border border-border bg-surface px-3 py-3 sm:px-4" data-testid="grants-panel">
      <div className="flex flex-wrap items-center justify-between gap-2">
        <h2 id="run-grants-title" className="text-base font-semibold">
          Grants
        </h2>
        {live.length ? <Badge tone="warning">{live.length} active</Badge> : <Badge>none active</Badge>}
      </div>
      <p className="mt-1 text-xs text-fg-muted">
        A grant lets this run write under a path without asking, for a few minutes or a few calls. It never overrides a deny, and files the policy singles out
        (secrets, CI, configuration that runs code) still ask.
      </p>

      {grants.isPending ? (
        <p className="mt-2 text-sm text-fg-muted">Loading…</p>
      ) : grants.error ? (
        <InlineAlert className="mt-2" title="Grants could not be loaded">
          {errorMessage(grants.error)}
        </InlineAlert>
      ) : live.length ? (
        <ul className="mt-2 space-y-1.5" aria-label="Active grants">
          {live.map((g) => (
            <li key={g.id} className="flex flex-wrap items-center justify-between gap-2 text-sm" data-testid="grant">
              <span className="min-w-0 break-words">
                <span className="font-mono text-fg">{g.tool}</span> under <span className="font-mono text-fg">{g.path}</span>
                <span className="ml-2 text-xs text-fg-muted">
                  {timeLeft(g.expiresAt, now)} · {g.remainingCalls} of {g.maxCalls} calls left · {g.reason}
                </span>
              </span>
              {mayRevoke ? (
                <Button size="sm" variant="secondary" disabled={revoke.isPending} onClick={() => revoke.mutate({ id: g.id })}>
                  Revoke
                </Button>
              ) : null}
            </li>
          ))}
        </ul>
      ) : null}
      {revoke.error ? <p className="mt-1 text-xs font-medium text-danger">{errorMessage(revoke.error)}</p> : null}

      {mayGrant ? <GrantForm runId={run.id} onCreated={refresh} /> : null}

      {past.length ? (
        <details className="mt-3 border-t border-border pt-2 text-sm">
          <summary className="cursor-pointer text-fg-muted">Ended grants ({past.length})</summary>
          <ul className="mt-1.5 space-y-1">
            {past.map((g) => (
              <li key={g.id} className="text-xs break-words text-fg-muted">
                <span className="font-mono text-fg">{g.tool}</span> under <span className="font-mono text-fg">{g.path}</span> — {g.usedCalls} of {g.maxCalls}{" "}
                calls used, {g.status === "active" ? "expired" : STATUS_LABEL[g.status]} · {g.reason}
              </li>
            ))}
          </ul>
        </details>
      ) : null}
    </section>
  );
}

function GrantForm({ runId, onCreated }: { runId: string; onCreated: () => void }) {
  const trpc = useTRPC();
  const [tool, setTool] = useState<"write_file" | "edit_file">("write_file");
  const [path, setPath] = useState("src/");
  const [minutes, setMinutes] = useState("15");
  const [calls, setCalls] = useState("20");
  const create = useMutation(trpc.grants.create.mutationOptions({ onSuccess: onCreated }));

  function submit(e: FormEvent) {
    e.preventDefault();
    create.mutate({ runId, tool, path: path.trim(), minutes: Number(minutes), maxCalls: Number(calls) });
  }

  return (
    <form onSubmit={submit} className="mt-3 space-y-2 border-t border-border pt-3" aria-label="Grant a bounded permission">
      <div className="grid gap-2 sm:grid-cols-4">
        <SelectField label="Tool" value={tool} onChange={(e) => setTool(e.target.value as "write_file" | "edit_file")}>
          <option value="write_file">write_file</option>
          <option value="edit_file">edit_file</option>
        </SelectField>
        <TextField
          label="Under path"
          hint="Relative to /workspace; a directory or a glob."
          value={path}
          onChange={(e) => setPath(e.target.value)}
          maxLength={1024}
        />
        <TextField label="Minutes" type="number" min={1} max={240} value={minutes} onChange={(e) => setMinutes(e.target.value)} />
        <TextField label="Calls" type="number" min={1} max={200} value={calls} onChange={(e) => setCalls(e.target.value)} />
      </div>
      <div className="flex flex-wrap items-center gap-2">
        <Button type="submit" size="sm" variant="secondary" disabled={create.isPending || !path.trim()}>
          {create.isPending ? "Granting…" : "Grant"}
        </Button>
        {create.error ? <p className="text-xs font-medium break-words text-danger">{errorMessage(create.error)}</p> : null}
      </div>
    </form>
  );
}
