// The email channel: one mail per recipient over SMTP (AIRLOCK_SMTP_URL),
// with a plain-text and a simple HTML part carrying the summary, risk,
// project, run, who is waiting and a link. Links only: email never carries
// action tokens. The mail server's address follows the notification
// destination rules (resolveNotifyHost), and the connection goes to the
// address that was checked, with TLS still verifying the server's name.
import net from "node:net";
import { eq } from "drizzle-orm";
import nodemailer from "nodemailer";
import type { Db } from "@/db/client";
import { users } from "@/db/schema";
import { config, type SmtpSettings } from "@/server/config/env";
import { DestinationRefused, resolveNotifyHost } from "@/server/notify/destination";
import type { NotifyChannel, NotifyEvent, Recipient } from "@/server/notify/types";
import { countNotificationDelivery } from "@/server/metrics/instruments";

export interface EmailOutcome {
  event: NotifyEvent;
  recipient: Recipient;
  ok: boolean;
  /** Why it failed (the destination rule's reason, or the server's answer). */
  error?: string;
  attempts: number;
}

export interface EmailChannelOptions {
  /** The mail server and sender; default config().smtp (read at each delivery). */
  smtp?: () => SmtpSettings | undefined;
  /** Private or loopback destinations allowed; default config().notifyAllowHosts. */
  allowHosts?: string[];
  /** Wait before the one retry of a failed send (default 5 s). */
  retryDelayMs?: number;
  /** Called once per recipient with the result; default: failures are logged. */
  onOutcome?: (outcome: EmailOutcome) => void;
  /** Per-connection timeouts (default 10 s). */
  timeoutMs?: number;
}

const SUBJECTS: Record<NotifyEvent["type"], string> = {
  "approval.requested": "Approval requested",
  "approval.expiring": "Approval about to expire",
  "approval.escalated": "Approval escalated: still undecided",
  "approval.decided": "Approval decided",
  "run.finished": "Run finished",
  "run.failed": "Run failed",
  "run.killed": "Run stopped",
};

const INTROS: Record<NotifyEvent["type"], string> = {
  "approval.requested": "An agent is waiting for a decision you may make.",
  "approval.expiring": "A request you may decide expires soon; the agent is refused if nobody decides it.",
  "approval.escalated": "A request is still undecided after the time the project allows, so it was escalated to you.",
  "approval.decided": "A request from your run was decided.",
  "run.finished": "Your run finished.",
  "run.failed": "Your run failed.",
  "run.killed": "Your run was stopped.",
};

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/** The mail for one recipient: subject, text and HTML. Exported for tests of the wording. */
export function composeNotificationEmail(event: NotifyEvent, waitingFor: string | null): { subject: string; text: string; html: string } {
  const rows: [string, string][] = [["What", event.summary]];
  if (event.decision) rows.push(["Decision", event.decision]);
  if (event.risk) rows.push(["Risk", event.risk]);
  rows.push(["Project", event.projectName ?? "—"], ["Run", event.runTitle]);
  if (waitingFor && event.type.startsWith("approval.") && event.type !== "approval.decided") rows.push(["Who is waiting", `${waitingFor} (started the run)`]);
  const subject = `[Airlock] ${SUBJECTS[event.type]}: ${event.summary}`.slice(0, 160);
  const open = event.approvalId ? "Open the request" : "Open the run";
  const text = [
    INTROS[event.type],
    "",
    ...rows.map(([k, v]) => `${k}: ${v}`),
    "",
    `${open}: ${event.url}`,
    "",
    "You get this because of your notification settings in Airlock (Settings → Notifications).",
  ].join("\n");
  const html = `<!doctype html><html><body style="font-family:system-ui,sans-serif;line-height:1.5;color:#111">
<p>${escapeHtml(INTROS[event.type])}</p>
<table cellpadding="4" style="border-collapse:collapse">${rows.map(([k, v]) => `<tr><th align="left" style="padding-right:12px">${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join("")}</table>
<p><a href="${escapeHtml(event.url)}">${escapeHtml(open)}</a></p>
<p style="color:#555;font-size:12px">You get this because of your notification settings in Airlock (Settings → Notifications).</p>
</body></html>`;
  return { subject, text, html };
}

/**
 * Sends one mail. Throws DestinationRefused when the mail server's address is
 * not allowed (nothing is dialled then), or the transport's error.
 */
export async function sendNotificationEmail(
  smtp: SmtpSettings,
  message: { to: string; subject: string; text: string; html: string },
  opts: { allowHosts?: string[]; timeoutMs?: number } = {},
): Promise<void> {
  const [checked] = await resolveNotifyHost(smtp.host, opts.allowHosts);
  const timeout = opts.timeoutMs ?? 10_000;
  const servername = net.isIP(smtp.host) ? undefined : smtp.host;
  const transport = nodemailer.createTransport({
    host: checked!.address,
    port: smtp.port,
    secure: smtp.secure,
    // The certificate is checked against the name that was configured, not the address dialled.
    servername,
    tls: servername ? { servername } : undefined,
    auth: smtp.user ? { user: smtp.user, pass: smtp.pass ?? "" } : undefined,
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout,
  } as nodemailer.TransportOptions);
  try {
    await transport.sendMail({ from: smtp.from, ...message });
  } finally {
    transport.close();
  }
}

function emailOf(db: Db, userId: string): string | null {
  return db.select({ email: users.email }).from(users).where(eq(users.id, userId)).get()?.email ?? null;
}

function logOutcome(outcome: EmailOutcome): void {
  if (!outcome.ok)
    console.warn(`airlock: email ${outcome.event.type} to ${outcome.recipient.email} failed after ${outcome.attempts} attempt(s): ${outcome.error}`);
}

export function createEmailChannel(options: EmailChannelOptions = {}): NotifyChannel {
  const settings = options.smtp ?? (() => config().smtp);
  const onOutcome = options.onOutcome ?? logOutcome;
  const report = (outcome: EmailOutcome) => {
    countNotificationDelivery("email", outcome.ok ? "delivered" : "failed");
    try {
      onOutcome(outcome);
    } catch (error) {
      console.error("airlock: reporting an email outcome failed:", error);
    }
  };
  const retryDelayMs = options.retryDelayMs ?? 5_000;
  return {
    name: "email",
    async deliver(db, event, recipients) {
      const smtp = settings();
      if (!smtp || recipients.length === 0) return;
      const waitingFor = emailOf(db, event.operatorId);
      const mail = composeNotificationEmail(event, waitingFor);
      await Promise.all(
        recipients.map(async (recipient) => {
          let attempts = 0;
          for (;;) {
            attempts += 1;
            try {
              await sendNotificationEmail(smtp, { to: recipient.email, ...mail }, { allowHosts: options.allowHosts, timeoutMs: options.timeoutMs });
              report({ event, recipient, ok: true, attempts });
              return;
            } catch (error) {
              // A refused destination stays refused: no retry. Anything else gets one more try.
              if (error instanceof DestinationRefused || attempts >= 2) {
                report({ event, recipient, ok: false, error: (error as Error).message, attempts });
                return;
              }
              await new Promise((r) => setTimeout(r, retryDelayMs));
            }
          }
        }),
      );
    },
  };
}

/** The process's email channel (registered by startNotifications). */
export const emailChannel: NotifyChannel = createEmailChannel();
