"use client";
// Network access of a run's commands: none by default; the domains a
// reviewer granted (by whom, why) with revoke buttons; a small grant form
// with presets for the usual package registries; hosts the proxy refused.
// Also the timeline line for egress events.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { InlineAlert } from "@/components/ui/alert";
import { TextField } from "@/components/ui/field";
import { errorMessage } from "@/lib/errors";
import { formatBytes, formatDateTime } from "@/lib/format";
import type { SessionUser } from "@/lib/session-user";
import { EGRESS_PRESETS } from "@/lib/egress-presets";
import { useTRPC } from "@/lib/trpc/client";
import { runPermissions } from "@/lib/permissions";
import type { EgressItem } from "@/components/runs/timeline";
import { useMounted } from "@/components/ui/local-time";

const PRESETS = Object.values(EGRESS_PRESETS);

function splitDomains(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((d) => d.trim())
    .filter(Boolean);
}

export function EgressPanel({ run, user, ended }: { run: { id: string; createdBy: string }; user: SessionUser; ended: boolean }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const egress = useQuery(trpc.runs.egress.queryOptions({ id: run.id }));
  const mounted = useMounted(); // the grant time is formatted in the viewer's zone, so only in the browser
  const [domains, setDomains] = useState("");
  const [reason, setReason] = useState("");
  const refresh = () => void queryClient.invalidateQueries({ queryKey: trpc.runs.egress.queryKey({ id: run.id }) });
  const grant = useMutation(
    trpc.runs.grantEgress.mutationOptions({
      onSuccess: () => {
        setDomains("");
        setReason("");
        refresh();
      },
    }),
  );
  const revoke = useMutation(trpc.runs.revokeEgress.mutationOptions({ onSuccess: refresh }));
  const mayGrant = !ended && runPermissions(user, run).canGrantEgress;

  function submit(e: FormEvent) {
    e.preventDefault();
    const list = splitDomains(domains);
    if (list.length && reason.trim()) grant.mutate({ id: run.id, domains: list, reason: reason.trim() });
  }

  const view = egress.data;
  return (
    <section aria-labelledby="run-egress-title" className="rounded-xl border border-border bg-surface px-3 py-3 sm:px-4" data-testid="egress-panel">
      <div className="flex flex-wrap items-center justify-between gap-2">
        <h2 id="run-egress-title" className="text-base font-semibold">
          Network access
        </h2>
        {view ? (
          view.state === "none" ? (
            <Badge>none</Badge>
          ) : (
            <Badge tone="warning">
              {view.domains.length} domain{view.domains.length === 1 ? "" : "s"} granted{view.connected ? "" : " · not connected"}
            </Badge>
          )
        ) : null}
      </div>

      {egress.isPending ? (
        <p className="mt-2 text-sm text-fg-muted">Loading…</p>
      ) : egress.error ? (
        <InlineAlert className="mt-2" title="Network access could not be loaded">
          {errorMessage(egress.error)}
        </InlineAlert>
      ) : view!.state === "none" ? (
        <p className="mt-1 text-sm text-fg-muted">
          Commands have no network (the sandbox has only loopback).{" "}
          {mayGrant ? "Grant domains below to let commands reach them through Airlock's proxy." : ended ? "" : "A reviewer can grant domains."}
        </p>
      ) : (
        <ul className="mt-2 space-y-1.5" aria-label="Granted domains">
          {view!.domains.map((d) => (
            <li key={d.entry} className="flex flex-wrap items-center justify-between gap-2 text-sm">
              <span className="min-w-0">
                <span className="font-mono break-all text-fg">{d.entry}</span>
                <span className="ml-2 text-xs break-words text-fg-muted" title={mounted ? formatDateTime(d.grantedAt) : undefined}>
                  by {d.grantedBy}
                  {d.reason ? ` — ${d.reason}` : ""}
                </span>
              </span>
              {mayGrant ? (
                <Button size="sm" variant="secondary" disabled={revoke.isPending} onClick={() => revoke.mutate({ id: run.id, domains: [d.entry] })}>
                  Revoke
                </Button>
              ) : null}
            </li>
          ))}
          {mayGrant && view!.domains.length > 1 ? (
            <li>
              <Button size="sm" variant="danger-outline" disabled={revoke.isPending} onClick={() => revoke.mutate({ id: run.id })}>
                Revoke all
              </Button>
            </li>
          ) : null}
        </ul>
      )}
      {revoke.error ? <p className="mt-1 text-xs font-medium text-danger">{errorMessage(revoke.error)}</p> : null}

      {mayGrant ? (
        <form onSubmit={submit} className="mt-3 space-y-2 border-t border-border pt-3" aria-label="Grant network access">
          <div className="flex flex-wrap items-center gap-1.5 text-xs text-fg-muted">
            <span>Presets:</span>
            {PRESETS.map((p) => (
              <Button
                key={p.label}
                type="button"
                size="sm"
                variant="ghost"
                onClick={() => setDomains((cur) => [...new Set([...splitDomains(cur), ...p.domains])].join(", "))}
              >
                {p.label}
              </Button>
            ))}
          </div>
          <div className="grid gap-2 sm:grid-cols-2">
            <TextField
              label="Domains"
              hint="Host names, *.suffix for subdomains, host:port for other ports than 80/443."
              placeholder="pypi.org, files.pythonhosted.org"
              value={domains}
              onChange={(e) => setDomains(e.target.value)}
              maxLength={4000}
            />
            <TextField label="Reason" hint="Recorded in the audit trail." value={reason} onChange={(e) => setReason(e.target.value)} maxLength={2000} />
          </div>
          <div className="flex flex-wrap items-center gap-2">
            <Button type="submit" size="sm" disabled={grant.isPending || !splitDomains(domains).length || !reason.trim()}>
              {grant.isPending ? "Granting…" : "Grant"}
            </Button>
            {grant.error ? <p className="text-xs font-medium break-words text-danger">{errorMessage(grant.error)}</p> : null}
          </div>
        </form>
      ) : null}

      {view && view.projectDomains.length ? (
        <p className="mt-2 text-xs break-words text-fg-muted" data-testid="project-egress">
          Allowed for every run of this project:{" "}
          {view.projectDomains.map((d) => `${d.entry} (by ${d.grantedBy}, until ${formatDateTime(d.expiresAt)})`).join(", ")}
        </p>
      ) : null}

      {view && view.refused.length ? (
        <details className="mt-3 border-t border-border pt-2 text-sm">
          <summary className="cursor-pointer text-fg-muted">Refused hosts ({view.refused.length})</summary>
          <ul className="mt-1.5 space-y-1">
            {view.refused.map((r) => (
              <li key={`${r.host}:${r.port}`} className="text-xs break-words">
                <span className="font-mono text-fg">
                  {r.host}:{r.port}
                </span>
                <span className="text-fg-muted">
                  {" "}
                  ×{r.count} — {r.reason}
                </span>
              </li>
            ))}
          </ul>
        </details>
      ) : null}
    </section>
  );
}

/** One line of the run timeline for egress events. */
export function EgressUpdate({ item }: { item: EgressItem }) {
  if (item.event === "granted" || item.event === "revoked") {
    return (
      <p className="rounded-lg bg-warning-soft/50 px-3 py-1.5 text-sm break-words text-fg" data-testid="egress-grant">
        Network access {item.event === "granted" ? "granted" : "revoked"}: <span className="font-mono">{item.domains.join(", ")}</span>
        {item.by ? <span className="text-fg-muted"> — {item.by}</span> : null}
        {item.reason ? <span className="text-fg-muted"> ({item.reason})</span> : null}
      </p>
    );
  }
  if (item.event === "refused") {
    return (
      <p role="status" className="rounded-lg border border-danger/40 bg-danger-soft px-3 py-1.5 text-sm break-words" data-testid="egress-refused">
        <span className="font-medium text-danger">Network refused: </span>
        <span className="font-mono text-fg">
          {item.method} {item.host}:{item.port}
        </span>
        {item.reason ? <span className="text-fg-muted"> — {item.reason}</span> : null}
      </p>
    );
  }
  return (
    <p className="px-1 text-xs break-words text-fg-muted" data-testid="egress-allowed">
      {item.connections} connection{item.connections === 1 ? "" : "s"} through the proxy to <span className="font-mono">{item.hosts.join(", ")}</span> ·{" "}
      {formatBytes(item.bytesUp)} up, {formatBytes(item.bytesDown)} down
    </p>
  );
}
