"use client";
// The caller's notification preferences: channels, events, projects and quiet
// hours (in their own time zone, the browser's until they save another). The
// server validates everything; this form only mirrors its rules.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useMemo, useState, type FormEvent } from "react";
import type { inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "@/server/api/root";
import type { NotifyEventType } from "@/server/notify/types";
import { InlineAlert } from "@/components/ui/alert";
import { Button } from "@/components/ui/button";
import { SelectField, TextField } from "@/components/ui/field";
import { SkeletonRows } from "@/components/ui/skeleton";
import { Switch } from "@/components/ui/switch";
import { errorMessage } from "@/lib/errors";
import { useTRPC } from "@/lib/trpc/client";

/** Every event, in the order the contract lists them (typed so a new event must be labelled here). */
const EVENTS: Record<NotifyEventType, { label: string; who: string }> = {
  "approval.requested": { label: "A request you may decide", who: "reviewers and admins" },
  "approval.expiring": { label: "A request is about to expire", who: "reviewers and admins" },
  "approval.escalated": { label: "A request was escalated to you", who: "the project's escalation group" },
  "approval.decided": { label: "A request from your run was decided", who: "the run's operator" },
  "run.finished": { label: "Your run finished", who: "the run's operator" },
  "run.failed": { label: "Your run failed", who: "the run's operator" },
  "run.killed": { label: "Your run was stopped", who: "the run's operator" },
};
const EVENT_NAMES = Object.keys(EVENTS) as NotifyEventType[];

interface Draft {
  push: boolean;
  email: boolean;
  events: NotifyEventType[];
  projectIds: string[] | null;
  quiet: boolean;
  quietStart: string;
  quietEnd: string;
  timeZone: string;
}

function browserTimeZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

function timeZones(current: string): string[] {
  const all = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  return [...new Set([current, "UTC", ...all])].sort();
}

type Loaded = inferRouterOutputs<AppRouter>["notifications"]["preferences"];

export function NotificationPreferences() {
  const trpc = useTRPC();
  const prefs = useQuery(trpc.notifications.preferences.queryOptions());
  if (prefs.isPending) return <SkeletonRows rows={4} label="Loading your notification settings…" />;
  if (prefs.isError) return <InlineAlert title="Could not load your notification settings">{errorMessage(prefs.error)}</InlineAlert>;
  return <PreferencesForm loaded={prefs.data} />;
}

function PreferencesForm({ loaded: p }: { loaded: Loaded }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const projects = useQuery(trpc.projects.list.queryOptions());
  const [draft, setDraft] = useState<Draft>(() => ({
    push: p.push,
    email: p.email,
    events: p.events,
    projectIds: p.projectIds,
    quiet: Boolean(p.quietStart && p.quietEnd),
    quietStart: p.quietStart ?? "22:00",
    quietEnd: p.quietEnd ?? "07:00",
    // Never saved: the browser's zone is the best guess of where the user sleeps.
    timeZone: p.saved ? p.timeZone : browserTimeZone(),
  }));
  const [saved, setSaved] = useState(false);
  const save = useMutation(
    trpc.notifications.setPreferences.mutationOptions({
      onSuccess: () => {
        setSaved(true);
        void queryClient.invalidateQueries({ queryKey: trpc.notifications.preferences.queryKey() });
      },
    }),
  );

  const zones = useMemo(() => timeZones(draft.timeZone), [draft.timeZone]);

  const change = (patch: Partial<Draft>) => {
    setSaved(false);
    setDraft({ ...draft, ...patch });
  };
  const toggleEvent = (name: NotifyEventType, on: boolean) =>
    change({ events: on ? EVENT_NAMES.filter((e) => e === name || draft.events.includes(e)) : draft.events.filter((e) => e !== name) });
  const toggleProject = (id: string, on: boolean) => {
    const current = draft.projectIds ?? [];
    change({ projectIds: on ? [...current, id] : current.filter((p) => p !== id) });
  };

  function submit(e: FormEvent) {
    e.preventDefault();
    save.mutate({
      push: draft.push,
      email: draft.email,
      events: draft.events,
      projectIds: draft.projectIds,
      quietStart: draft.quiet ? draft.quietStart : null,
      quietEnd: draft.quiet ? draft.quietEnd : null,
      timeZone: draft.timeZone,
    });
  }

  return (
    <form onSubmit={submit} aria-label="Notification settings" className="space-y-6" data-testid="notification-preferences">
      <fieldset className="space-y-3">
        <legend className="mb-2 text-sm font-semibold">Channels</legend>
        <Switch
          label="Push notifications"
          description="On the devices where you turned notifications on. Nothing reaches a device until you do."
          checked={draft.push}
          onCheckedChange={(push) => change({ push })}
        />
        <Switch
          label="Email"
          description={
            p.emailConfigured
              ? "To your account's address. Links only: approve or deny on the page the link opens."
              : "This Airlock has no mail server yet (an admin sets AIRLOCK_SMTP_URL); your choice is kept for when it has one."
          }
          checked={draft.email}
          onCheckedChange={(email) => change({ email })}
        />
      </fieldset>

      <fieldset>
        <legend className="mb-2 text-sm font-semibold">Events</legend>
        <ul className="grid gap-2 sm:grid-cols-2">
          {EVENT_NAMES.map((name) => (
            <li key={name}>
              <label className="flex items-start gap-2 text-sm">
                <input type="checkbox" className="mt-1" checked={draft.events.includes(name)} onChange={(e) => toggleEvent(name, e.target.checked)} />
                <span>
                  <span className="block font-medium">{EVENTS[name].label}</span>
                  <span className="block text-xs text-fg-muted">
                    {name} · for {EVENTS[name].who}
                  </span>
                </span>
              </label>
            </li>
          ))}
        </ul>
      </fieldset>

      <fieldset>
        <legend className="mb-2 text-sm font-semibold">Projects</legend>
        <div className="space-y-2 text-sm">
          <label className="flex items-center gap-2">
            <input type="radio" name="notify-projects" checked={draft.projectIds === null} onChange={() => change({ projectIds: null })} />
            All projects, including new ones
          </label>
          <label className="flex items-center gap-2">
            <input
              type="radio"
              name="notify-projects"
              checked={draft.projectIds !== null}
              onChange={() => change({ projectIds: draft.projectIds ?? (projects.data?.items ?? []).map((p) => p.id) })}
            />
            Only the projects I choose
          </label>
          {draft.projectIds !== null ? (
            <ul className="ml-6 grid gap-1.5 sm:grid-cols-2" aria-label="Projects to hear about">
              {(projects.data?.items ?? []).map((p) => (
                <li key={p.id}>
                  <label className="flex items-center gap-2">
                    <input type="checkbox" checked={draft.projectIds?.includes(p.id) ?? false} onChange={(e) => toggleProject(p.id, e.target.checked)} />
                    {p.name}
                  </label>
                </li>
              ))}
            </ul>
          ) : null}
        </div>
      </fieldset>

      <fieldset className="space-y-3">
        <legend className="mb-2 text-sm font-semibold">Quiet hours</legend>
        <Switch
          label="Hold back push and email during quiet hours"
          description="Except escalations: a request still undecided after its project's escalation time reaches you even then. Held-back notifications are not sent later."
          checked={draft.quiet}
          onCheckedChange={(quiet) => change({ quiet })}
        />
        {draft.quiet ? (
          <div className="grid gap-3 sm:grid-cols-3">
            <TextField label="From" type="time" required value={draft.quietStart} onChange={(e) => change({ quietStart: e.target.value })} />
            <TextField label="Until" type="time" required value={draft.quietEnd} onChange={(e) => change({ quietEnd: e.target.value })} />
            <SelectField label="Time zone" value={draft.timeZone} onChange={(e) => change({ timeZone: e.target.value })}>
              {zones.map((z) => (
                <option key={z} value={z}>
                  {z}
                </option>
              ))}
            </SelectField>
          </div>
        ) : null}
      </fieldset>

      {save.error ? <InlineAlert title="Not saved">{errorMessage(save.error)}</InlineAlert> : null}
      {saved ? <InlineAlert tone="success">Saved.</InlineAlert> : null}
      <Button type="submit" loading={save.isPending}>
        Save notification settings
      </Button>
    </form>
  );
}
