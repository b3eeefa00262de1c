// The world the gateway and file-tool benchmarks call tools in: a fresh data
// directory and database, an operator, a model, a running run with its plan
// approved, its shadow repository and a live sandbox, and a gateway session
// for it (the control calls answer ok). `close` removes all of it.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { eq } from "drizzle-orm";
import { migrateDatabase, openDatabase, type Db } from "@/db/client";
import { models, runs, users } from "@/db/schema";
import { DEFAULT_RUN_LIMITS } from "@/server/runs/limits";
import { sandboxImageName } from "@/server/sandbox/image";
import { dockerRuntime, type SandboxRuntime } from "@/server/sandbox/runtime";
import { prepareWorkspace } from "@/server/sandbox/workspace";
import type { GatewaySession } from "@/server/tools/gateway";
import { prepareRunWorkspace } from "@/server/workspace/hooks";

export interface GatewayWorld {
  dir: string;
  db: Db;
  runtime: SandboxRuntime;
  runId: string;
  workspaceDir: string;
  containerId: string;
  session: GatewaySession;
  close: () => Promise<void>;
}

/** `seed` fills the workspace (files owned by the agent) before the shadow repository is made; `setUp` runs on the database before the sandbox starts. */
export async function gatewayWorld(opts: { prefix: string; seed: (workspaceDir: string) => void; setUp?: (db: Db) => Promise<void> }): Promise<GatewayWorld> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), opts.prefix));
  process.env.AIRLOCK_DATA_DIR = dir; // shadow repositories live under the data directory
  const db = openDatabase(path.join(dir, "airlock.db"));
  migrateDatabase(db);
  const runtime = dockerRuntime();
  const runId = "bench-run";
  const workspaceDir = await prepareWorkspace(dir, runId);
  opts.seed(workspaceDir);
  db.insert(users).values({ id: "u", email: "bench@x", role: "operator" }).run();
  db.insert(models).values({ id: "m", name: "m", baseUrl: "http://127.0.0.1:9/v1", model: "m" }).run();
  db.insert(runs)
    .values({
      id: runId,
      title: "bench",
      task: "bench",
      modelId: "m",
      state: "running",
      createdBy: "u",
      limits: DEFAULT_RUN_LIMITS,
      planApprovedAt: new Date(),
      updatedAt: new Date(),
    })
    .run();
  await opts.setUp?.(db);
  // As in a real run: a shadow repository, so tool calls are checkpointed afterwards.
  await prepareRunWorkspace(db, runId, workspaceDir);
  const { containerId } = await runtime.createSandbox({ runId, image: sandboxImageName(), workspaceDir, limits: DEFAULT_RUN_LIMITS });
  db.update(runs).set({ containerId, workspaceDir }).where(eq(runs.id, runId)).run();
  const session: GatewaySession = {
    db,
    runId,
    runtime,
    containerId,
    signal: new AbortController().signal,
    control: {
      submitPlan: async () => ({ ok: true }),
      completeStep: async () => ({ ok: true }),
      finish: async () => ({ ok: true }),
    },
  };
  const close = async () => {
    await runtime.removeSandbox(containerId).catch(() => undefined);
    db.$client.close();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  return { dir, db, runtime, runId, workspaceDir, containerId, session, close };
}
