"use client";
// One audit event: a table row on wide screens, a card on phones (the same
// markup restyled, so there is one source of truth for tests and screen readers).
import Link from "next/link";
import { useState } from "react";
import type { inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "@/server/api/root";
import { Badge } from "@/components/ui/badge";
import { ChevronDownIcon } from "@/components/ui/icons";
import { cn } from "@/lib/cn";
import { LocalTime } from "@/components/ui/local-time";

export type AuditEventItem = inferRouterOutputs<AppRouter>["audit"]["list"]["items"][number];

const CELL = cn(
  "align-top md:px-3 md:py-2.5",
  // Phone: label on the left, value on the right.
  "max-md:flex max-md:min-w-0 max-md:items-baseline max-md:justify-between max-md:gap-4 max-md:py-1",
  "max-md:before:shrink-0 max-md:before:text-xs max-md:before:text-fg-muted max-md:before:content-[attr(data-label)]",
);

function actionTone(action: string) {
  if (action.endsWith("_failed") || action.endsWith(".disable") || action.endsWith(".revoke")) return "danger" as const;
  if (action.startsWith("auth.")) return "neutral" as const;
  return "accent" as const;
}

function shortId(id: string) {
  return id.length > 12 ? `${id.slice(0, 8)}…` : id;
}

export function AuditEventRows({
  event,
  filterHref,
  utc = false,
}: {
  event: AuditEventItem;
  filterHref: (key: "actor" | "action" | "target", value: string) => string;
  /** Show the time in UTC instead of the viewer's zone. */
  utc?: boolean;
}) {
  const [open, setOpen] = useState(false);
  const detailsId = `audit-details-${event.seq}`;
  const target = event.targetType ? `${event.targetType}:${event.targetId ?? ""}` : event.targetId;
  const hasDetails = Object.keys(event.details).length > 0;

  return (
    <tbody className="max-md:mb-2.5 max-md:block max-md:rounded-xl max-md:border max-md:border-border max-md:bg-surface max-md:px-3.5 max-md:py-2.5 max-md:shadow-xs">
      <tr className="max-md:flex max-md:flex-col md:border-t md:border-border md:hover:bg-surface-muted/50" data-testid="audit-event">
        <td data-label="Time" className={cn(CELL, "max-md:order-2 md:whitespace-nowrap")}>
          <LocalTime date={event.at} utc={utc} className="text-fg" />
          <LocalTime date={event.at} format="relative" className="block text-xs text-fg-muted max-md:hidden" />
        </td>
        <td data-label="Actor" className={cn(CELL, "max-md:order-3")}>
          <Link
            href={filterHref("actor", event.actorLabel)}
            className="break-all text-fg hover:text-accent hover:underline md:break-words"
            title={`Show events by ${event.actorLabel}`}
          >
            {event.actorLabel}
          </Link>
        </td>
        <td className={cn("align-top md:px-3 md:py-2.5", "max-md:order-1 max-md:flex max-md:items-center max-md:justify-between max-md:gap-2 max-md:pb-1.5")}>
          <span className="sr-only md:hidden">Action: </span>
          <Link href={filterHref("action", event.action)} title={`Show only ${event.action} events`} className="rounded-full">
            <Badge tone={actionTone(event.action)} className="font-mono">
              {event.action}
            </Badge>
          </Link>
          <span className="text-xs text-fg-muted md:hidden">#{event.seq}</span>
        </td>
        <td data-label="Target" className={cn(CELL, "max-md:order-4")}>
          {target ? (
            <Link href={filterHref("target", target)} className="font-mono text-xs break-all text-fg hover:text-accent hover:underline" title={target}>
              {event.targetType ? <span className="text-fg-muted">{event.targetType}:</span> : null}
              {shortId(event.targetId ?? "")}
            </Link>
          ) : (
            <span className="text-fg-muted">—</span>
          )}
        </td>
        <td data-label="Source" className={cn(CELL, "max-md:order-5")}>
          <span className="text-right font-mono text-xs text-fg md:text-left">
            {event.sourceIp ?? <span className="font-sans text-fg-muted">—</span>}
            {event.tokenId ? (
              <span className="block text-fg-muted" title={`API token ${event.tokenId}`}>
                token {shortId(event.tokenId)}
              </span>
            ) : null}
          </span>
        </td>
        <td className="align-top max-md:order-6 max-md:pt-1.5 md:px-3 md:py-2 md:text-right">
          <button
            type="button"
            aria-expanded={open}
            aria-controls={detailsId}
            onClick={() => setOpen((o) => !o)}
            className="inline-flex items-center gap-1 rounded-md px-1.5 py-1 text-xs font-medium text-fg-muted hover:bg-surface-muted hover:text-fg"
          >
            {open ? "Hide details" : "Details"}
            <span className="sr-only"> of event #{event.seq}</span>
            <ChevronDownIcon size={14} className={cn("transition-transform", open && "rotate-180")} />
          </button>
        </td>
      </tr>
      {open ? (
        <tr id={detailsId} className="max-md:block">
          <td colSpan={6} className="max-md:block md:px-3 md:pb-3">
            <div className="rounded-lg border border-border bg-surface-muted p-3 text-xs">
              <dl className="grid gap-x-4 gap-y-1 sm:grid-cols-[auto_1fr]">
                <dt className="text-fg-muted">Event</dt>
                <dd className="font-mono break-all">
                  #{event.seq} · {event.id}
                </dd>
                <dt className="text-fg-muted">Actor id</dt>
                <dd className="font-mono break-all">{event.actorId ?? "— (system or unknown)"}</dd>
                {event.tokenId ? (
                  <>
                    <dt className="text-fg-muted">API token</dt>
                    <dd className="font-mono break-all">{event.tokenId}</dd>
                  </>
                ) : null}
                <dt className="text-fg-muted">Hash</dt>
                <dd className="font-mono break-all">{event.hash}</dd>
              </dl>
              <p className="mt-3 mb-1 text-fg-muted">Details</p>
              {hasDetails ? (
                <pre className="overflow-x-auto rounded-md bg-surface p-2.5 font-mono text-[12px] leading-relaxed whitespace-pre-wrap break-all">
                  {JSON.stringify(event.details, null, 2)}
                </pre>
              ) : (
                <p className="text-fg-muted">No details recorded.</p>
              )}
            </div>
          </td>
        </tr>
      ) : null}
    </tbody>
  );
}
