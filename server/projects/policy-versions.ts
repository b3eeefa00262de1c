// Appending a policy version: the one write both a policy save
// (policy-store.ts) and a new project (projects.ts, which policy-store reads
// through) make, kept apart so those two modules do not import each other.
import crypto from "node:crypto";
import { eq } from "drizzle-orm";
import { createTwoFilesPatch } from "diff";
import type { Db } from "@/db/client";
import { policyVersions, projects, type PolicyVersion } from "@/db/schema";
import { appendAudit, type Actor } from "@/server/audit/chain";
import { DomainError } from "@/server/errors/domain-error";

type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];

/** Diffs kept in audit events are capped; the versions themselves keep everything. */
const MAX_AUDITED_DIFF = 64 * 1024;

export function policyDiff(before: string | null, after: string, fromLabel: string, toLabel: string): string {
  return createTwoFilesPatch(fromLabel, toLabel, before ?? "", after, "", "", { context: 3 });
}

export function diffStats(diff: string): { added: number; removed: number } {
  let added = 0;
  let removed = 0;
  for (const line of diff.split("\n")) {
    if (line.startsWith("+") && !line.startsWith("+++")) added++;
    else if (line.startsWith("-") && !line.startsWith("---")) removed++;
  }
  return { added, removed };
}

/** Appends a version and makes it current; the caller's transaction also holds the change that caused it. */
export function insertPolicyVersionInTx(
  tx: Tx,
  actor: Actor,
  input: {
    projectId: string;
    yaml: string;
    comment?: string | null;
    restoredFrom?: number | null;
    previousYaml: string | null;
    details?: Record<string, unknown>;
  },
): PolicyVersion {
  const project = tx.select().from(projects).where(eq(projects.id, input.projectId)).get();
  if (!project) throw new DomainError("NOT_FOUND", `No project ${input.projectId}.`);
  const version = project.policyVersion + 1;
  const row = tx
    .insert(policyVersions)
    .values({
      id: crypto.randomUUID(),
      projectId: project.id,
      version,
      yaml: input.yaml,
      comment: input.comment ?? null,
      restoredFrom: input.restoredFrom ?? null,
      createdBy: actor.userId,
      createdByLabel: actor.label,
    })
    .returning()
    .get();
  tx.update(projects).set({ policyVersion: version, updatedAt: new Date() }).where(eq(projects.id, project.id)).run();
  const diff = policyDiff(input.previousYaml, input.yaml, `policy v${version - 1}`, `policy v${version}`);
  const stats = diffStats(diff);
  appendAudit(tx, actor, {
    action: input.restoredFrom ? "policy.restore" : "policy.update",
    targetType: "project",
    targetId: project.id,
    details: {
      project: project.slug,
      version,
      comment: input.comment ?? null,
      restoredFrom: input.restoredFrom ?? null,
      ...stats,
      diff:
        diff.length > MAX_AUDITED_DIFF
          ? `${diff.slice(0, MAX_AUDITED_DIFF)}\n… (diff truncated at ${MAX_AUDITED_DIFF} bytes; the full text is policy version ${version})`
          : diff,
      ...input.details,
    },
  });
  return row;
}
