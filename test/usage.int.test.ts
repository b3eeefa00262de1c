// Live resource use of a real run's sandbox (real Docker): a command that
// holds 150 MB and a few processes shows up in runs.usage against the run's
// (lowered) limits, through the real router; a finished run has none.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { toolCalls } from "@/db/schema";
import { appRouter } from "@/server/api/root";
import { createCallerFactory } from "@/server/api/trpc";
import { type Supervisor } from "@/server/supervisor/supervisor";
import { type TestDb } from "@/test/helpers/db";
import { startScriptedModelServer, type ScriptedModelServer, type ScriptStep } from "@/test/helpers/model-server";
import { approveEverything, registerModel, setUpSupervisedWorld, startRun, stopSupervisor, waitFor, waitForState } from "@/test/helpers/runs";
import { addUser, identityOfToken, issueToken } from "@/test/helpers/users";
import type { PublicUser } from "@/server/users/users";

let t: TestDb;
let supervisor: Supervisor;
let server: ScriptedModelServer | undefined;
let admin: PublicUser;
let operator: PublicUser;
let reviewer: PublicUser;

const call = (name: string, args: Record<string, unknown>): ScriptStep => ({ type: "tool_calls", calls: [{ name, arguments: args }] });

beforeAll(async () => {
  ({ t, supervisor, admin, operator, reviewer } = await setUpSupervisedWorld({ global: true }));
});

afterAll(async () => {
  await stopSupervisor(supervisor);
  await server?.close();
  t?.close();
});

describe("runs.usage", () => {
  it("shows a running sandbox's memory, CPU and processes against the run's limits, and nothing once it ended", async () => {
    server = await startScriptedModelServer([
      call("submit_plan", { steps: [{ title: "hold memory", risk: "low", risk_note: "sandbox only" }] }),
      call("run_command", {
        command: "python3 -c \"import time; b = bytearray(150 * 1024 * 1024); b[::4096] = b'x' * len(b[::4096]); time.sleep(300)\" & sleep 1; sleep 300",
      }),
      call("finish", { summary: "done", status: "success" }),
    ]);
    const run = startRun(t.db, supervisor, operator, registerModel(t.db, admin, server.baseUrl), { limits: { memoryMb: 512, pids: 128 } });
    const stopApproving = approveEverything(t.db, run.id, reviewer);
    try {
      await waitFor("the command to run", () =>
        t.db
          .select()
          .from(toolCalls)
          .where(eq(toolCalls.runId, run.id))
          .all()
          .find((c) => c.tool === "run_command" && c.state === "executing"),
      );
      const asViewer = createCallerFactory(appRouter)({
        db: t.db,
        identity: await identityOfToken(t.db, issueToken(t.db, (await addUser(t.db, "viewer")).id).token),
        sourceIp: null,
      });
      let usage: Awaited<ReturnType<typeof asViewer.runs.usage>>["items"][number] | undefined;
      for (let i = 0; i < 40; i++) {
        usage = (await asViewer.runs.usage({ ids: [run.id] })).items[0];
        if (usage && usage.memoryBytes > 140 * 1024 * 1024) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      expect(usage).toMatchObject({ runId: run.id, memoryLimitBytes: 512 * 1024 * 1024, cpuLimit: 1, pidsLimit: 128 });
      expect(usage!.memoryBytes).toBeGreaterThan(140 * 1024 * 1024);
      expect(usage!.memoryBytes).toBeLessThan(512 * 1024 * 1024);
      expect(usage!.pids).toBeGreaterThanOrEqual(3); // init, the sentinel, the command's shell, python, sleep
      expect(usage!.cpuPercent).toBeGreaterThanOrEqual(0);
      // Without ids: every live run, this one included.
      expect((await asViewer.runs.usage()).items.map((u) => u.runId)).toContain(run.id);
    } finally {
      stopApproving();
    }
    await supervisor.killRun(run.id, { userId: null, label: "test" }, "done measuring");
    await waitForState(t.db, run.id, "killed");
    const asAdmin = createCallerFactory(appRouter)({ db: t.db, identity: await identityOfToken(t.db, issueToken(t.db, admin.id).token), sourceIp: null });
    expect((await asAdmin.runs.usage({ ids: [run.id] })).items).toEqual([]);
  }, 120_000);
});
