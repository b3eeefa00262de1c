"use client";
// Webhooks (admins): endpoints that receive Airlock's notify events, signed
// JSON (Standard Webhooks) or Slack messages. The signing secret is shown once
// after creation; each endpoint has a delivery log, "Send test", and may be
// disabled by Airlock after repeated failures (shown here as a notice).
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import type { inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "@/server/api/root";
import type { NotifyEventType } from "@/server/notify/types";
import { InlineAlert } from "@/components/ui/alert";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardBody, CardHeader } from "@/components/ui/card";
import { CopyField } from "@/components/ui/copy-field";
import { ConfirmDialog } from "@/components/ui/dialog";
import { SelectField, TextField } from "@/components/ui/field";
import { RefreshIcon } from "@/components/ui/icons";
import { rt } from "@/components/ui/responsive-table";
import { SkeletonRows } from "@/components/ui/skeleton";
import { errorMessage } from "@/lib/errors";
import { formatDateTime } from "@/lib/format";
import { useTRPC } from "@/lib/trpc/client";
import { ReadOnlyNote } from "@/components/ui/read-only-note";
import { whoMayChange } from "@/lib/permissions";

type Outputs = inferRouterOutputs<AppRouter>["webhooks"];
type WebhookItem = Outputs["list"]["items"][number];
type Delivery = Outputs["deliveries"]["items"][number];
type TestOutcome = Outputs["test"];

// The server checks the names (NOTIFY_EVENT_TYPES); this map only labels them, and the compiler keeps it complete.
const EVENT_LABELS = {
  "approval.requested": "Approval requested",
  "approval.expiring": "Approval about to expire",
  "approval.escalated": "Approval escalated",
  "approval.decided": "Approval decided",
  "run.finished": "Run finished",
  "run.failed": "Run failed",
  "run.killed": "Run stopped",
} satisfies Record<NotifyEventType, string>;
const EVENTS = Object.keys(EVENT_LABELS) as NotifyEventType[];

const STATE_TONE = { delivered: "success", failed: "warning", gave_up: "danger", pending: "neutral" } as const;
const STATE_LABEL = { delivered: "Delivered", failed: "Failed, will retry", gave_up: "Gave up", pending: "Pending" } as const;

/** What non-admins see: why they cannot manage webhooks here. */
export function WebhooksNotice() {
  return (
    <Card aria-labelledby="webhooks-title" id="webhooks">
      <CardHeader titleId="webhooks-title" title="Webhooks" icon={<RefreshIcon size={18} />} />
      <CardBody>
        <p className="text-sm text-fg-muted">
          Webhooks send approval requests and run outcomes to Slack or your own receivers. Only admins add or change them, because their secrets sign every
          delivery; ask an admin if your team needs one.
        </p>
        <ReadOnlyNote className="mt-2">{whoMayChange("webhooks")}</ReadOnlyNote>
      </CardBody>
    </Card>
  );
}

export function WebhooksSection() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const hooks = useQuery(trpc.webhooks.list.queryOptions(undefined, { refetchInterval: 15_000 }));
  const projects = useQuery(trpc.projects.list.queryOptions());
  const invalidate = () => queryClient.invalidateQueries({ queryKey: trpc.webhooks.list.queryKey() });

  const [url, setUrl] = useState("");
  const [format, setFormat] = useState<"standard" | "slack">("standard");
  const [projectId, setProjectId] = useState("");
  const [events, setEvents] = useState<NotifyEventType[]>(["approval.requested", "approval.escalated"]);
  const [created, setCreated] = useState<{ secret: string; url: string; format: "standard" | "slack" } | null>(null);
  const create = useMutation(
    trpc.webhooks.create.mutationOptions({
      onSuccess: (result) => {
        setCreated({ secret: result.secret, url, format });
        setUrl("");
      },
      onSettled: invalidate,
    }),
  );

  const [deleting, setDeleting] = useState<WebhookItem | null>(null);
  const remove = useMutation(trpc.webhooks.delete.mutationOptions({ onSuccess: () => setDeleting(null), onSettled: invalidate }));

  function submit(e: FormEvent) {
    e.preventDefault();
    create.mutate({ url: url.trim(), events, format, projectId: projectId || undefined });
  }

  const autoDisabled = hooks.data?.items.filter((h) => h.disabledAutomatically) ?? [];

  return (
    <Card aria-labelledby="webhooks-title" id="webhooks">
      <CardHeader
        titleId="webhooks-title"
        title="Webhooks"
        icon={<RefreshIcon size={18} />}
        description="Send approval requests and run outcomes to Slack or your own receiver. Deliveries are retried on 5xx, 429 and network errors, never hold up a run or a decision, and an endpoint that keeps failing is disabled until you enable it again."
      />
      <CardBody className="space-y-5">
        {autoDisabled.length ? (
          <InlineAlert
            tone="warning"
            title={`${autoDisabled.length === 1 ? "A webhook was" : `${autoDisabled.length} webhooks were`} disabled after repeated failures`}
          >
            <ul className="list-disc space-y-1 pl-5">
              {autoDisabled.map((h) => (
                <li key={h.id} className="break-words">
                  <span className="font-mono">{h.url}</span>: {h.disabledReason}
                </li>
              ))}
            </ul>
          </InlineAlert>
        ) : null}

        {created ? (
          <div className="space-y-3 rounded-xl border border-warning/50 bg-warning-soft p-4" data-testid="new-webhook-secret">
            <div>
              <p className="text-sm font-semibold text-fg">Copy the signing secret now</p>
              <p className="mt-0.5 text-sm text-fg-muted">
                This is the only time Airlock shows it.{" "}
                {created.format === "standard"
                  ? "Your receiver verifies each delivery's webhook-signature header with it (any Standard Webhooks library does)."
                  : "Slack does not check signatures, so a Slack endpoint does not need it; keep the Slack URL itself secret."}{" "}
                Lost it? Delete the endpoint and add it again.
              </p>
            </div>
            <CopyField label="Signing secret" value={created.secret} copyLabel="Copy signing secret" />
            <Button variant="secondary" size="sm" onClick={() => setCreated(null)}>
              I have copied it
            </Button>
          </div>
        ) : null}

        <form onSubmit={submit} aria-label="Add webhook" className="grid gap-3 sm:grid-cols-2">
          <TextField
            label="Receiver URL"
            type="url"
            placeholder="https://hooks.slack.com/services/…"
            required
            maxLength={2000}
            value={url}
            onChange={(e) => setUrl(e.target.value)}
            autoComplete="off"
            spellCheck={false}
            fieldClassName="sm:col-span-2"
            hint="https:// (private or loopback receivers only where AIRLOCK_NOTIFY_ALLOW_HOSTS allows them)."
          />
          <SelectField label="Format" value={format} onChange={(e) => setFormat(e.target.value as "standard" | "slack")}>
            <option value="standard">Standard Webhooks (signed JSON)</option>
            <option value="slack">Slack incoming webhook</option>
          </SelectField>
          <SelectField label="Project" value={projectId} onChange={(e) => setProjectId(e.target.value)}>
            <option value="">All projects</option>
            {(projects.data?.items ?? []).map((p) => (
              <option key={p.id} value={p.id}>
                {p.name}
              </option>
            ))}
          </SelectField>
          <fieldset className="sm:col-span-2">
            <legend className="mb-1.5 text-sm font-medium">Events</legend>
            <div className="grid gap-x-4 gap-y-1.5 sm:grid-cols-2">
              {EVENTS.map((ev) => (
                <label key={ev} className="flex min-h-8 items-center gap-2 text-sm">
                  <input
                    type="checkbox"
                    className="size-4 accent-accent"
                    checked={events.includes(ev)}
                    onChange={(e) => setEvents((cur) => (e.target.checked ? [...cur, ev] : cur.filter((x) => x !== ev)))}
                  />
                  <span>
                    {EVENT_LABELS[ev]} <span className="font-mono text-xs text-fg-muted">{ev}</span>
                  </span>
                </label>
              ))}
            </div>
          </fieldset>
          <div className="sm:col-span-2">
            <Button type="submit" loading={create.isPending} disabled={events.length === 0}>
              Add webhook
            </Button>
            {events.length === 0 ? <span className="ml-3 text-sm text-fg-muted">Choose at least one event.</span> : null}
          </div>
          {create.error ? <InlineAlert className="sm:col-span-2">{errorMessage(create.error)}</InlineAlert> : null}
        </form>

        {hooks.isPending ? (
          <SkeletonRows rows={2} label="Loading webhooks…" />
        ) : hooks.isError ? (
          <InlineAlert title="Webhooks could not be loaded">{errorMessage(hooks.error)}</InlineAlert>
        ) : hooks.data.items.length === 0 ? (
          <p className="rounded-lg border border-dashed border-border-strong px-4 py-6 text-center text-sm text-fg-muted">
            No webhooks yet. Add one above to hear about approval requests outside the dashboard.
          </p>
        ) : (
          <ul className="space-y-3" aria-label="Webhooks">
            {hooks.data.items.map((h) => (
              <WebhookRow key={h.id} hook={h} onDelete={() => setDeleting(h)} onChanged={invalidate} />
            ))}
          </ul>
        )}
      </CardBody>

      <ConfirmDialog
        open={deleting !== null}
        onOpenChange={(open) => {
          if (!open) {
            setDeleting(null);
            remove.reset();
          }
        }}
        title="Delete this webhook?"
        description={`${deleting?.url ?? ""} stops receiving events at once; its delivery log is deleted with it. This cannot be undone.`}
        confirmLabel="Delete webhook"
        pending={remove.isPending}
        error={remove.error ? errorMessage(remove.error) : null}
        onConfirm={() => deleting && remove.mutate({ id: deleting.id })}
      />
    </Card>
  );
}

function WebhookRow({ hook, onDelete, onChanged }: { hook: WebhookItem; onDelete: () => void; onChanged: () => void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [showLog, setShowLog] = useState(false);
  const [outcome, setOutcome] = useState<TestOutcome | null>(null);
  const refreshLog = () => queryClient.invalidateQueries({ queryKey: trpc.webhooks.deliveries.queryKey({ id: hook.id }) });
  const test = useMutation(
    trpc.webhooks.test.mutationOptions({
      onSuccess: setOutcome,
      onSettled: () => {
        onChanged();
        void refreshLog();
      },
    }),
  );
  const toggle = useMutation(trpc.webhooks.update.mutationOptions({ onSettled: onChanged }));
  const last = hook.lastDelivery;

  return (
    <li className="rounded-xl border border-border p-4" data-testid="webhook-row">
      <div className="flex flex-wrap items-start justify-between gap-3">
        <div className="min-w-0 space-y-1">
          <p className="font-mono text-sm font-medium break-all">{hook.url}</p>
          <div className="flex flex-wrap items-center gap-2 text-xs">
            {hook.enabled ? <Badge tone="success">Enabled</Badge> : <Badge tone={hook.disabledAutomatically ? "danger" : "neutral"}>Disabled</Badge>}
            <Badge tone="accent">{hook.format === "slack" ? "Slack" : "Standard Webhooks"}</Badge>
            <span className="text-fg-muted">{hook.projectId ? (hook.projectName ?? hook.projectId) : "All projects"}</span>
          </div>
          <p className="text-xs text-fg-muted">{hook.events.map((e) => EVENT_LABELS[e as NotifyEventType] ?? e).join(" · ")}</p>
          {!hook.enabled && hook.disabledReason ? <p className="text-sm text-fg-muted">{hook.disabledReason}</p> : null}
          <p className="text-xs text-fg-muted">
            {last ? (
              <>
                Last delivery: {STATE_LABEL[last.state]}
                {last.statusCode ? ` (${last.statusCode})` : ""} · {last.eventType} · {formatDateTime(last.at)}
                {hook.consecutiveFailures ? ` · ${hook.consecutiveFailures} failed in a row` : ""}
              </>
            ) : (
              "Nothing delivered yet."
            )}
          </p>
        </div>
        <div className="flex flex-wrap gap-2 max-sm:w-full">
          <Button variant="secondary" size="sm" loading={test.isPending} onClick={() => test.mutate({ id: hook.id })} aria-label={`Send a test to ${hook.url}`}>
            Send test
          </Button>
          <Button
            variant="secondary"
            size="sm"
            loading={toggle.isPending}
            onClick={() => toggle.mutate({ id: hook.id, enabled: !hook.enabled })}
            aria-label={`${hook.enabled ? "Disable" : "Enable"} ${hook.url}`}
          >
            {hook.enabled ? "Disable" : "Enable"}
          </Button>
          <Button variant="ghost" size="sm" onClick={() => setShowLog((v) => !v)} aria-expanded={showLog} aria-label={`Delivery log of ${hook.url}`}>
            {showLog ? "Hide log" : "Delivery log"}
          </Button>
          <Button variant="danger-outline" size="sm" onClick={onDelete} aria-label={`Delete ${hook.url}`}>
            Delete
          </Button>
        </div>
      </div>
      {outcome ? (
        <InlineAlert tone={outcome.ok ? "success" : "error"} className="mt-3" title={outcome.ok ? "Test delivered" : "Test failed"}>
          {outcome.ok ? `The receiver answered ${outcome.statusCode} in ${outcome.latencyMs} ms.` : (outcome.error ?? "No answer.")}
        </InlineAlert>
      ) : null}
      {test.error ? (
        <InlineAlert className="mt-3" title="Could not send the test">
          {errorMessage(test.error)}
        </InlineAlert>
      ) : null}
      {toggle.error ? <InlineAlert className="mt-3">{errorMessage(toggle.error)}</InlineAlert> : null}
      {showLog ? <DeliveryLog webhookId={hook.id} /> : null}
    </li>
  );
}

function DeliveryLog({ webhookId }: { webhookId: string }) {
  const trpc = useTRPC();
  const log = useQuery(trpc.webhooks.deliveries.queryOptions({ id: webhookId }, { refetchInterval: 5_000 }));
  if (log.isPending) return <SkeletonRows rows={2} label="Loading the delivery log…" />;
  if (log.isError)
    return (
      <InlineAlert className="mt-3" title="The delivery log could not be loaded">
        {errorMessage(log.error)}
      </InlineAlert>
    );
  if (log.data.items.length === 0) return <p className="mt-3 text-sm text-fg-muted">No deliveries yet. Send a test to check the receiver.</p>;
  return (
    <div className={`${rt.wrapper} mt-3`}>
      <table className={rt.table}>
        <caption className="sr-only">Delivery log (newest first)</caption>
        <thead className={rt.thead}>
          <tr>
            <th scope="col" className={rt.th}>
              Time
            </th>
            <th scope="col" className={rt.th}>
              Event
            </th>
            <th scope="col" className={rt.th}>
              Attempt
            </th>
            <th scope="col" className={rt.th}>
              Result
            </th>
            <th scope="col" className={rt.th}>
              Latency
            </th>
          </tr>
        </thead>
        <tbody className={rt.tbody}>
          {log.data.items.map((d: Delivery) => (
            <tr key={d.id} className={rt.row} data-testid="webhook-delivery">
              <td data-label="Time" className={`${rt.cell} md:whitespace-nowrap`}>
                <time dateTime={d.at.toISOString()}>{formatDateTime(d.at)}</time>
              </td>
              <td data-label="Event" className={`${rt.cell} font-mono text-xs`}>
                {d.eventType}
              </td>
              <td data-label="Attempt" className={rt.cell}>
                {d.attempt}
              </td>
              <td data-label="Result" className={`${rt.cell} break-words`}>
                <Badge tone={STATE_TONE[d.state]}>
                  {STATE_LABEL[d.state]}
                  {d.statusCode ? ` · ${d.statusCode}` : ""}
                </Badge>
                {d.error ? <span className="mt-1 block text-xs text-fg-muted">{d.error}</span> : null}
                {d.state === "failed" && d.nextAttemptAt ? (
                  <span className="mt-1 block text-xs text-fg-muted">Next try {formatDateTime(d.nextAttemptAt)}</span>
                ) : null}
              </td>
              <td data-label="Latency" className={rt.cell}>
                {d.latencyMs === null ? "—" : `${d.latencyMs} ms`}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
