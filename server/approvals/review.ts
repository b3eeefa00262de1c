// What a reviewer does from the inbox, as one domain step: decide a request
// (approvals.ts) and, with an approved package install, let the run's commands
// reach that package registry too, undoing the grant if the decision fails.
// Also the live feed the inboxes refresh from.
import type { Db } from "@/db/client";
import type { Approval, Role } from "@/db/schema";
import type { Actor } from "@/server/audit/chain";
import type { EgressController } from "@/server/egress/controller";
import { grantRegistryForApproval } from "@/server/egress/install-registry";
import { streamSignal } from "@/server/events/bus";
import { EGRESS_ASK_TOOL } from "@/server/egress/ask";
import { DomainError } from "@/server/errors/domain-error";
import { decideApproval, getApproval, type DecideInput } from "./approvals";

export interface ReviewInput extends DecideInput {
  /** With an approved install_package (pip, npm): also let the run's commands reach that registry. */
  grantRegistry?: boolean;
}

export async function reviewApproval(
  db: Db,
  egress: () => EgressController,
  actor: Actor & { userId: string },
  reviewer: { userId: string; role: Role },
  input: ReviewInput,
): Promise<Approval> {
  const { grantRegistry, ...decision } = input;
  assertEditFitsRequest(getApproval(db, input.id), decision.edit);
  // Granted first: if the grant is refused the request stays pending; if the decision then fails, the grant is taken back.
  const undo = grantRegistry && decision.decision === "approve" ? await grantRegistryForApproval(db, egress(), actor, reviewer, input.id) : null;
  try {
    return decideApproval(db, actor, { ...decision, edit: decision.edit && Object.keys(decision.edit).length ? decision.edit : null });
  } catch (err) {
    await undo?.();
    throw err;
  }
}

/** A held network connection takes only a scope; a scope belongs to nothing else (the gateway would merge it into a tool's arguments). */
function assertEditFitsRequest(approval: Approval, edit: Record<string, unknown> | null | undefined): void {
  if (!edit || Object.keys(edit).length === 0) return;
  const network = approval.kind === "tool" && approval.tool === EGRESS_ASK_TOOL;
  const keys = Object.keys(edit);
  if (network && keys.some((k) => k !== "scope"))
    throw new DomainError("INVALID_INPUT", 'A held network connection cannot be edited; choose its scope ("run" or "project") or deny it.');
  if (!network && "scope" in edit) throw new DomainError("INVALID_INPUT", "scope only applies to a held network connection (tool network).");
}

/** "ready", then "changed" whenever an approval is created or decided (afterApprovalCommit signals it). */
export async function* streamApprovalChanges(signal: AbortSignal): AsyncGenerator<{ type: "ready" | "changed" }> {
  for await (const tick of streamSignal("approvals:changed", signal)) yield { type: tick };
}
