// Per-user notification preferences: which channels, which events, which
// projects, and quiet hours in the user's own time zone. The dispatcher asks
// `wantsNotification` for every recipient and channel; the Settings page edits
// them through notifications.preferences / notifications.setPreferences.
import { eq, inArray } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "@/db/client";
import { notificationPreferences, type NotificationPreferencesRow } from "@/db/schema";
import { appendAudit, type Actor } from "@/server/audit/chain";
import { DomainError } from "@/server/errors/domain-error";
import { NOTIFY_EVENT_TYPES, type NotifyChannelName, type NotifyEventType } from "@/server/notify/types";

export interface NotificationPreferences {
  push: boolean;
  /** Off until the user opts in (issue 11: email is per-user opt-in). */
  email: boolean;
  events: NotifyEventType[];
  /** null: every project. */
  projectIds: string[] | null;
  /** "HH:MM" in timeZone; both null when there are no quiet hours. */
  quietStart: string | null;
  quietEnd: string | null;
  /** IANA name, e.g. Europe/Paris. */
  timeZone: string;
}

export const DEFAULT_PREFERENCES: NotificationPreferences = {
  push: true,
  email: false,
  events: [...NOTIFY_EVENT_TYPES],
  projectIds: null,
  quietStart: null,
  quietEnd: null,
  timeZone: "UTC",
};

/** The one event that still goes out during quiet hours: someone must hear about a request nobody decided. */
export const QUIET_HOURS_EXCEPTION: NotifyEventType = "approval.escalated";

const HHMM = /^([01]\d|2[0-3]):[0-5]\d$/;

export function isValidTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

export const setPreferencesInput = z
  .object({
    push: z.boolean(),
    email: z.boolean(),
    events: z.array(z.enum(NOTIFY_EVENT_TYPES)).max(NOTIFY_EVENT_TYPES.length),
    projectIds: z.array(z.string().min(1).max(100)).max(500).nullable(),
    quietStart: z.string().regex(HHMM, "Quiet hours start must be a time like 22:00 (24-hour HH:MM).").nullable(),
    quietEnd: z.string().regex(HHMM, "Quiet hours end must be a time like 07:00 (24-hour HH:MM).").nullable(),
    timeZone: z.string().trim().min(1).max(100).refine(isValidTimeZone, "Unknown time zone: use an IANA name like Europe/Paris or America/New_York."),
  })
  .strict()
  .superRefine((p, ctx) => {
    if ((p.quietStart === null) !== (p.quietEnd === null))
      ctx.addIssue({ code: "custom", path: ["quietEnd"], message: "Give quiet hours both a start and an end, or neither." });
    if (p.quietStart !== null && p.quietStart === p.quietEnd)
      ctx.addIssue({ code: "custom", path: ["quietEnd"], message: "Quiet hours start and end at the same time; pick different times, or turn them off." });
  });

function fromRow(row: NotificationPreferencesRow): NotificationPreferences {
  return {
    push: row.pushEnabled,
    email: row.emailEnabled,
    events: row.events.filter((e): e is NotifyEventType => (NOTIFY_EVENT_TYPES as readonly string[]).includes(e)),
    projectIds: row.projectIds ?? null,
    quietStart: row.quietStart,
    quietEnd: row.quietEnd,
    timeZone: row.timeZone,
  };
}

export function getPreferences(db: Db, userId: string): NotificationPreferences {
  const row = db.select().from(notificationPreferences).where(eq(notificationPreferences.userId, userId)).get();
  return row ? fromRow(row) : { ...DEFAULT_PREFERENCES, events: [...DEFAULT_PREFERENCES.events] };
}

/** Whether the user ever saved preferences (the Settings page then offers the browser's time zone). */
export function hasSavedPreferences(db: Db, userId: string): boolean {
  return Boolean(db.select({ userId: notificationPreferences.userId }).from(notificationPreferences).where(eq(notificationPreferences.userId, userId)).get());
}

/** Preferences of many users at once (the dispatcher's recipients) in one query, defaults for those without a row. */
export function preferencesOf(db: Db, userIds: string[]): Map<string, NotificationPreferences> {
  const ids = [...new Set(userIds)];
  const rows = ids.length ? db.select().from(notificationPreferences).where(inArray(notificationPreferences.userId, ids)).all() : [];
  const found = new Map(rows.map((r) => [r.userId, fromRow(r)]));
  return new Map(ids.map((id) => [id, found.get(id) ?? { ...DEFAULT_PREFERENCES, events: [...DEFAULT_PREFERENCES.events] }]));
}

export function setPreferences(db: Db, actor: Actor & { userId: string }, raw: z.input<typeof setPreferencesInput>): NotificationPreferences {
  const input = setPreferencesInput.parse(raw);
  if (input.projectIds && input.projectIds.length === 0)
    throw new DomainError("INVALID_INPUT", "Choose at least one project, or all projects (to hear about none, turn the channels off).");
  const values = {
    pushEnabled: input.push,
    emailEnabled: input.email,
    events: input.events,
    projectIds: input.projectIds ? [...new Set(input.projectIds)] : null,
    quietStart: input.quietStart,
    quietEnd: input.quietEnd,
    timeZone: input.timeZone,
    updatedAt: new Date(),
  };
  db.transaction(
    (tx) => {
      tx.insert(notificationPreferences)
        .values({ userId: actor.userId, ...values })
        .onConflictDoUpdate({ target: notificationPreferences.userId, set: values })
        .run();
      appendAudit(tx, actor, {
        action: "notifications.preferences",
        targetType: "user",
        targetId: actor.userId,
        details: {
          push: input.push,
          email: input.email,
          events: input.events,
          projects: values.projectIds ?? "all",
          quiet: input.quietStart ? `${input.quietStart}-${input.quietEnd} ${input.timeZone}` : null,
        },
      });
    },
    { behavior: "immediate" },
  );
  return getPreferences(db, actor.userId);
}

/** Minutes since midnight at `at` in `timeZone`. */
function minutesInZone(at: Date, timeZone: string): number {
  const parts = new Intl.DateTimeFormat("en-GB", { timeZone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).formatToParts(at);
  const hour = Number(parts.find((p) => p.type === "hour")?.value ?? 0);
  const minute = Number(parts.find((p) => p.type === "minute")?.value ?? 0);
  return hour * 60 + minute;
}

function toMinutes(hhmm: string): number {
  const [h, m] = hhmm.split(":").map(Number);
  return h! * 60 + m!;
}

/** Whether `at` falls in the user's quiet hours (a window may cross midnight: 22:00–07:00). */
export function inQuietHours(prefs: NotificationPreferences, at: Date): boolean {
  if (!prefs.quietStart || !prefs.quietEnd) return false;
  const zone = isValidTimeZone(prefs.timeZone) ? prefs.timeZone : "UTC";
  const now = minutesInZone(at, zone);
  const start = toMinutes(prefs.quietStart);
  const end = toMinutes(prefs.quietEnd);
  return start < end ? now >= start && now < end : now >= start || now < end;
}

/** Whether a per-user channel should deliver this event to this user now. */
export function wantsNotification(
  prefs: NotificationPreferences,
  channel: Exclude<NotifyChannelName, "webhook">,
  event: { type: NotifyEventType; projectId: string | null },
  at: Date = new Date(),
): boolean {
  if (channel === "push" ? !prefs.push : !prefs.email) return false;
  if (!prefs.events.includes(event.type)) return false;
  if (prefs.projectIds && !(event.projectId && prefs.projectIds.includes(event.projectId))) return false;
  if (event.type !== QUIET_HOURS_EXCEPTION && inQuietHours(prefs, at)) return false;
  return true;
}
