// runs.rerun (issue 16): a new run with the same task, settings, model,
// project and workspace source as an earlier one, recording which run it
// re-ran. The caller must be allowed to start runs in that project now.
import type { Db } from "@/db/client";
import { models } from "@/db/schema";
import { eq } from "drizzle-orm";
import type { Actor } from "@/server/audit/chain";
import { DomainError } from "@/server/errors/domain-error";
import { createRunWithToken, requireRun } from "@/server/runs/runs";
import { requireProject } from "@/server/projects/projects";
import { getWorkspace } from "@/server/workspace/checkpoints";
import { resolveRerunSource } from "@/server/workspace/sources";

export async function rerunRun(db: Db, actor: Actor & { userId: string }, dataDir: string, runId: string) {
  const original = requireRun(db, runId);
  const refuse = (what: string) => new DomainError("PRECONDITION_FAILED", `Run ${runId} cannot be re-run: ${what}`);
  if (original.modelId && !db.select({ id: models.id }).from(models).where(eq(models.id, original.modelId)).get())
    throw refuse(`its model endpoint (${original.modelId}) no longer exists. Start a new run and choose another model.`);
  try {
    requireProject(db, original.projectId);
  } catch {
    throw refuse(`its project (${original.projectId}) no longer exists. Start a new run in another project.`);
  }
  const ws = getWorkspace(db, runId);
  const source = await resolveRerunSource(dataDir, runId, ws?.source ?? { type: "empty" });
  return createRunWithToken(
    db,
    actor,
    {
      title: original.title,
      task: original.task,
      modelId: original.modelId ?? undefined,
      projectId: original.projectId ?? undefined,
      agent: original.agent,
      stepMode: original.stepMode,
      testCommand: original.testCommand ?? undefined,
      // The original's resolved limits, checked again against today's maxima.
      limits: original.limits,
      autoRollback: original.autoRollback,
    },
    { source, rerunOf: original.id },
  );
}
