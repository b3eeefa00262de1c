// Gateway overhead: one allowed tool call through Airlock's whole gateway
// (validate, resolve paths in the container, parse and judge, record, execute,
// audit) against the raw `docker exec` that does the same work, in one run on
// the same container. Prints figures and the ratio; asserts nothing.
//
//   npx tsx bench/gateway.bench.ts [iterations]
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { migrateDatabase, openDatabase } from "@/db/client";
import { models, runs, users } from "@/db/schema";
import { sandboxImageName } from "@/server/sandbox/image";
import { dockerRuntime } from "@/server/sandbox/runtime";
import { AGENT_GID, AGENT_UID, AGENT_USER } from "@/server/sandbox/layout";
import { prepareWorkspace } from "@/server/sandbox/workspace";
import { handleToolCall, type GatewaySession } from "@/server/tools/gateway";
import { DEFAULT_RUN_LIMITS } from "@/server/runs/limits";
import { eq } from "drizzle-orm";
import { prepareRunWorkspace } from "@/server/workspace/hooks";
import { median, time } from "./support";

const run = promisify(execFile);
const iterations = Number(process.argv[2] ?? 20);

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-gwbench-"));
  process.env.AIRLOCK_DATA_DIR = dir; // shadow repositories live under the data directory
  const db = openDatabase(path.join(dir, "airlock.db"));
  migrateDatabase(db);
  const runtime = dockerRuntime();
  const runId = "bench-run";
  const workspaceDir = await prepareWorkspace(dir, runId);
  fs.writeFileSync(path.join(workspaceDir, "README.md"), "# bench\n".repeat(200));
  fs.chownSync(path.join(workspaceDir, "README.md"), AGENT_UID, AGENT_GID);
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
  // As in a real run: a shadow repository, so commands are checkpointed afterwards (part of the figure).
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
  try {
    const cases: { label: string; gateway: () => Promise<unknown>; raw: () => Promise<unknown> }[] = [
      {
        label: "read_file README.md",
        gateway: () => handleToolCall(session, { tool: "read_file", args: { path: "README.md" } }),
        raw: () => run("docker", ["exec", "-u", AGENT_USER, containerId, "cat", "/workspace/README.md"]),
      },
      {
        label: "run_command `ls -la` (+checkpoint)",
        gateway: () => handleToolCall(session, { tool: "run_command", args: { command: "ls -la" } }),
        raw: () => run("docker", ["exec", "-u", AGENT_USER, "-w", "/workspace", containerId, "bash", "-c", "ls -la"]),
      },
    ];
    console.log(`gateway benchmark: ${iterations} iterations, ${os.cpus().length} CPUs, load ${os.loadavg()[0]!.toFixed(1)}`);
    for (const c of cases) {
      await c.gateway();
      await c.raw();
      const g: number[] = [];
      const r: number[] = [];
      for (let i = 0; i < iterations; i++) {
        g.push(await time(c.gateway));
        r.push(await time(c.raw));
      }
      const gm = median(g);
      const rm = median(r);
      console.log(`${c.label.padEnd(34)} gateway median ${gm.toFixed(1)} ms   raw docker exec median ${rm.toFixed(1)} ms   ratio ${(gm / rm).toFixed(2)}`);
    }
  } finally {
    await runtime.removeSandbox(containerId).catch(() => undefined);
    db.$client.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
