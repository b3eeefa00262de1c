// Runs, approval requests and the NotifyEvents about them for the notification
// tests, made through the domain functions (real SQLite rows).
import crypto from "node:crypto";
import type { Db } from "@/db/client";
import { models, runs, type Approval } from "@/db/schema";
import { createApproval, type NewApproval } from "@/server/approvals/approvals";
import { config } from "@/server/config/env";
import type { NotifyEvent, NotifyEventType } from "@/server/notify/types";
import { DEFAULT_RUN_LIMITS } from "@/server/runs/limits";
import type { PublicUser } from "@/server/users/users";

/** A run of `operator` waiting for approval (no container: the notification paths never touch one). */
export function seedRun(db: Db, operator: PublicUser, title = "Fix the flaky payment test"): string {
  const id = `run-${crypto.randomUUID()}`;
  if (!db.select().from(models).all().length) db.insert(models).values({ id: "m", name: "m", baseUrl: "http://127.0.0.1:9/v1", model: "m" }).run();
  db.insert(runs)
    .values({ id, title, task: "t", modelId: "m", state: "awaiting_approval", createdBy: operator.id, limits: DEFAULT_RUN_LIMITS, updatedAt: new Date() })
    .run();
  return id;
}

export function requestApproval(db: Db, runId: string, operator: PublicUser, extra: Partial<NewApproval> = {}): Approval {
  return createApproval(
    db,
    { userId: null, label: "agent" },
    {
      runId,
      kind: "tool",
      tool: "run_command",
      args: { command: "npm test" },
      verdict: "ask",
      rule: "commands-ask",
      reason: "commands ask",
      risk: "medium",
      requestedBy: operator.id,
      ...extra,
    },
  );
}

/** The event the dispatcher would hand the channels for this request. */
export function approvalEvent(
  approval: Approval,
  operator: PublicUser,
  opts: { type?: NotifyEventType; summary?: string; runTitle?: string } = {},
): NotifyEvent {
  return {
    id: crypto.randomUUID(),
    type: opts.type ?? "approval.requested",
    timestamp: new Date().toISOString(),
    runId: approval.runId,
    runTitle: opts.runTitle ?? "Fix the flaky payment test",
    operatorId: operator.id,
    projectId: null,
    projectName: "Payments",
    approvalId: approval.id,
    tool: approval.tool,
    summary: opts.summary ?? `${approval.tool}: npm test`,
    risk: approval.risk ?? undefined,
    url: `${config().publicUrl}/approvals/${approval.id}`,
  };
}
