// What a webhook receiver is sent, built only from the NotifyEvent (never from
// tool arguments, file contents or command output): the Standard Webhooks JSON
// body with its signature headers, and the Slack incoming-webhook message.
import crypto from "node:crypto";
import { Webhook } from "standardwebhooks";
import type { NotifyEvent, NotifyEventType } from "@/server/notify/types";

/** The test event "Send test" delivers; receivers may ignore it. */
export const WEBHOOK_TEST_EVENT = "webhook.test";
export type WebhookEventType = NotifyEventType | typeof WEBHOOK_TEST_EVENT;

/** The event a webhook channel delivers: a NotifyEvent, or the test event. */
export type WebhookEvent = Omit<NotifyEvent, "type"> & { type: WebhookEventType };

/** The body contract (README, "Webhooks"): fields may be added, never renamed. */
export interface WebhookBody {
  type: WebhookEventType;
  timestamp: string;
  data: {
    approvalId?: string;
    runId: string;
    projectId: string | null;
    tool?: string;
    summary: string;
    risk?: "low" | "medium" | "high";
    url: string;
    decision?: NotifyEvent["decision"];
  };
}

/** A new signing secret in the Standard Webhooks form: whsec_ and 32 random bytes in base64. */
export function generateWebhookSecret(): string {
  return `whsec_${crypto.randomBytes(32).toString("base64")}`;
}

export function standardBody(event: WebhookEvent): WebhookBody {
  return {
    type: event.type,
    timestamp: event.timestamp,
    data: {
      ...(event.approvalId ? { approvalId: event.approvalId } : {}),
      runId: event.runId,
      projectId: event.projectId,
      ...(event.tool ? { tool: event.tool } : {}),
      summary: event.summary,
      ...(event.risk ? { risk: event.risk } : {}),
      url: event.url,
      ...(event.decision ? { decision: event.decision } : {}),
    },
  };
}

/** The Standard Webhooks headers for one attempt: signed over `${id}.${timestamp}.${body}`; a fresh timestamp per attempt. */
export function standardHeaders(secret: string, eventId: string, body: string, at: Date = new Date()): Record<string, string> {
  const seconds = new Date(Math.floor(at.getTime() / 1000) * 1000);
  return {
    "webhook-id": eventId,
    "webhook-timestamp": String(seconds.getTime() / 1000),
    "webhook-signature": new Webhook(secret).sign(eventId, seconds, body),
  };
}

// Slack's Block Kit limits (api.slack.com/reference/block-kit): header text 150
// characters, section text 3000, a field 2000, at most 10 fields, a button's
// text 75 and url 3000, at most 50 blocks per message.
export const SLACK_LIMITS = { header: 150, sectionText: 3000, field: 2000, fields: 10, buttonText: 75, buttonUrl: 3000, blocks: 50 } as const;

export interface SlackText {
  type: "plain_text" | "mrkdwn";
  text: string;
  emoji?: boolean;
}
export type SlackBlock =
  | { type: "header"; text: SlackText }
  | { type: "section"; text?: SlackText; fields?: SlackText[] }
  | { type: "actions"; elements: { type: "button"; text: SlackText; url: string; action_id: string }[] }
  | { type: "context"; elements: SlackText[] };
export interface SlackMessage {
  text: string;
  blocks: SlackBlock[];
}

const TITLES: Record<WebhookEventType, string> = {
  "approval.requested": "Approval requested",
  "approval.expiring": "Approval about to expire",
  "approval.escalated": "Approval escalated",
  "approval.decided": "Approval decided",
  "run.finished": "Run finished",
  "run.failed": "Run failed",
  "run.killed": "Run stopped",
  "webhook.test": "Test delivery from Airlock",
};

const RISK_LABEL = { low: "Low risk", medium: "Medium risk", high: ":warning: High risk" } as const;

/** Slack reads <…> as links and mentions (<!channel>): text from a run must not become one. */
export function slackEscape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function mrkdwn(text: string, max: number): SlackText {
  return { type: "mrkdwn", text: cut(text, max) };
}

/**
 * A Slack incoming-webhook message: a header, the one-line summary, the facts a
 * reviewer needs (risk, project, run, who is waiting) and a link button to the
 * request. No approve or deny buttons: deciding happens in Airlock, signed in.
 */
export function slackMessage(event: WebhookEvent, opts: { operator?: string | null } = {}): SlackMessage {
  const title = event.type === "approval.decided" && event.decision ? `Approval ${event.decision}` : TITLES[event.type];
  const isApproval = event.type.startsWith("approval.");
  const fields: SlackText[] = [];
  if (event.risk) fields.push(mrkdwn(`*Risk*\n${RISK_LABEL[event.risk]}`, SLACK_LIMITS.field));
  fields.push(mrkdwn(`*Project*\n${slackEscape(event.projectName ?? event.projectId ?? "Default")}`, SLACK_LIMITS.field));
  fields.push(mrkdwn(`*Run*\n${slackEscape(event.runTitle || event.runId)}`, SLACK_LIMITS.field));
  if (event.tool) fields.push(mrkdwn(`*Tool*\n\`${slackEscape(event.tool)}\``, SLACK_LIMITS.field));
  const who = opts.operator ? slackEscape(opts.operator) : "The run's operator";
  if (isApproval && event.type !== "approval.decided") fields.push(mrkdwn(`*Waiting*\n${who}'s run waits for a reviewer's decision`, SLACK_LIMITS.field));
  else if (opts.operator) fields.push(mrkdwn(`*Started by*\n${who}`, SLACK_LIMITS.field));

  const blocks: SlackBlock[] = [
    { type: "header", text: { type: "plain_text", text: cut(`${title}${event.risk === "high" ? " (high risk)" : ""}`, SLACK_LIMITS.header), emoji: true } },
    { type: "section", text: mrkdwn(slackEscape(event.summary) || "(no summary)", SLACK_LIMITS.sectionText) },
    { type: "section", fields: fields.slice(0, SLACK_LIMITS.fields) },
  ];
  // Slack refuses a button whose url is over the limit; the link is then only in the text.
  if (event.url.length <= SLACK_LIMITS.buttonUrl) {
    blocks.push({
      type: "actions",
      elements: [
        {
          type: "button",
          text: { type: "plain_text", text: isApproval ? "Open the request" : "Open the run", emoji: false },
          url: event.url,
          action_id: "airlock-open",
        },
      ],
    });
  }
  blocks.push({ type: "context", elements: [mrkdwn(`Airlock · ${slackEscape(event.type)} · ${slackEscape(event.timestamp)}`, SLACK_LIMITS.sectionText)] });
  const text = cut(`${title}: ${event.summary} — ${event.url}`, SLACK_LIMITS.sectionText);
  return { text: slackEscape(text), blocks };
}
