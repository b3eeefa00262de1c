// Approving an install_package with its registry: a reviewer who approves
// "pip install requests" usually also wants it to work, which needs the
// package index. approvals.decide can grant the manager's registry domains to
// the run in the same step (recorded as an ordinary egress grant, with the
// install as its reason). Only for pending install_package approvals of a
// manager with a known registry.
import { eq } from "drizzle-orm";
import type { Db } from "@/db/client";
import { approvals, type Approval, type Role } from "@/db/schema";
import type { Actor } from "@/server/audit/chain";
import { DomainError } from "@/server/errors/domain-error";
import { registryFor } from "@/lib/egress-presets";
import type { EgressController } from "./controller";

/** The registry domains an install approval would grant, or null (not an install, or no known registry). */
export function registryDomainsFor(approval: Pick<Approval, "tool" | "args">): readonly string[] | null {
  if (approval.tool !== "install_package") return null;
  return registryFor(approval.args.manager)?.domains ?? null;
}

/**
 * Grants the registry of a pending install approval to its run, before the
 * approval itself is decided. Returns a function that takes the grant back
 * (when deciding then fails, e.g. another reviewer decided first).
 */
export async function grantRegistryForApproval(
  db: Db,
  controller: EgressController,
  actor: Actor,
  grantor: { userId: string; role: Role },
  approvalId: string,
): Promise<() => Promise<void>> {
  const approval = db.select().from(approvals).where(eq(approvals.id, approvalId)).get();
  if (!approval) throw new DomainError("NOT_FOUND", `No approval with id ${approvalId}.`);
  if (approval.state !== "pending") throw new DomainError("CONFLICT", `This approval is already ${approval.state}.`);
  const domains = registryDomainsFor(approval);
  if (!domains) {
    throw new DomainError(
      "INVALID_INPUT",
      "grantRegistry only applies to install_package requests for pip or npm; grant other domains on the run page (Network access).",
    );
  }
  const packages = ((approval.args.packages as string[] | undefined) ?? []).join(" ");
  await controller.grant(actor, grantor, {
    runId: approval.runId,
    domains: [...domains],
    reason: `to install ${packages} with ${String(approval.args.manager)} (approved install_package)`,
  });
  return async () => {
    await controller
      .revoke(actor, { runId: approval.runId, domains: [...domains], reason: "the install approval it came with was not decided" })
      .catch(() => undefined);
  };
}
