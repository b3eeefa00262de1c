// What Airlock tells people outside the dashboard (push, email, webhooks) and
// the shape every channel receives. A notification carries only what it shows:
// never file contents, command output or secret values (issue 11).
import type { Db } from "@/db/client";
import type { Role } from "@/db/schema";

/** Event names are a contract (README, webhooks' `type`, push payloads' `type`). */
export const NOTIFY_EVENT_TYPES = [
  "approval.requested",
  "approval.expiring",
  "approval.escalated",
  "approval.decided",
  "run.finished",
  "run.failed",
  "run.killed",
] as const;
export type NotifyEventType = (typeof NOTIFY_EVENT_TYPES)[number];

export type NotifyChannelName = "push" | "email" | "webhook";

export interface NotifyEvent {
  /** Unique per event: the webhook-id, and the key that makes a channel's delivery idempotent. */
  id: string;
  type: NotifyEventType;
  /** ISO 8601. */
  timestamp: string;
  runId: string;
  runTitle: string;
  /** The run's operator (createdBy). */
  operatorId: string;
  projectId: string | null;
  projectName: string | null;
  approvalId?: string;
  tool?: string;
  /** One line a person understands, already redacted and cut to 200 characters: no file contents, output or secrets. */
  summary: string;
  risk?: "low" | "medium" | "high";
  /** Absolute link to the request (approval events) or the run. */
  url: string;
  /** approval.decided: what was decided. */
  decision?: "approved" | "denied" | "expired" | "cancelled";
}

/** Someone a per-user channel (push, email) may deliver an event to. */
export interface Recipient {
  userId: string;
  email: string;
  role: Role;
  /** Why they get it: they may decide the request, they operate the run, or the project escalated it to them. */
  reason: "may_decide" | "operator" | "escalation";
}

export interface NotifyChannel {
  name: NotifyChannelName;
  /**
   * Delivers one event. Per-user channels (push, email) get the recipients whose
   * preferences chose this channel and event; the webhook channel gets [] and
   * picks its endpoints itself. Must never throw to the caller and never block
   * a run or a decision: slow work is queued inside the channel.
   */
  deliver(db: Db, event: NotifyEvent, recipients: Recipient[]): Promise<void>;
}
