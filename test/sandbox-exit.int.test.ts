// A run whose sandbox container disappears under it (killed from outside,
// OOM of its init, an approved command that ends it) must end, with a plain
// reason, instead of saying "running" over nothing. Real engine, real runs.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { and, eq } from "drizzle-orm";
import { auditEvents } from "@/db/schema";
import { docker } from "@/server/sandbox/docker";
import type { Supervisor } from "@/server/supervisor/supervisor";
import type { PublicUser } from "@/server/users/users";
import { type TestDb } from "@/test/helpers/db";
import { startScriptedModelServer, type ScriptedModelServer } from "@/test/helpers/model-server";
import { approveEverything, getRun, registerModel, setUpSupervisedWorld, startRun, stopSupervisor, waitFor, waitForState } from "@/test/helpers/runs";

let t: TestDb;
let supervisor: Supervisor;
let admin: PublicUser;
let operator: PublicUser;
let reviewer: PublicUser;
const servers: ScriptedModelServer[] = [];

beforeAll(async () => {
  ({ t, supervisor, admin, operator, reviewer } = await setUpSupervisedWorld());
});

afterAll(async () => {
  await stopSupervisor(supervisor);
  await Promise.all(servers.map((s) => s.close()));
  t?.close();
});

describe("a run whose sandbox container stops", () => {
  it("kill spellings: a run notices within seconds that its container is gone", async () => {
    // A plan, then a model that never answers again: the run sits in "running".
    const server = await startScriptedModelServer([
      { type: "tool_calls", calls: [{ name: "submit_plan", arguments: { steps: [{ title: "wait", risk: "low", risk_note: "nothing" }] } }] },
      { type: "hang" },
    ]);
    servers.push(server);
    const run = startRun(t.db, supervisor, operator, registerModel(t.db, admin, server.baseUrl));
    const stopApproving = approveEverything(t.db, run.id, reviewer);
    const running = await waitForState(t.db, run.id, "running");
    stopApproving();
    expect(running.containerId).toBeTruthy();

    // From outside Airlock, as `docker kill` would.
    const t0 = performance.now();
    await docker().getContainer(running.containerId!).kill({ signal: "SIGKILL" });
    const ended = await waitForState(t.db, run.id, ["failed", "killed", "succeeded"], 10_000);
    const noticedMs = performance.now() - t0;

    expect(ended.state).toBe("failed");
    expect(ended.endedReason).toBe("The sandbox container stopped unexpectedly (exit code 137).");
    expect(noticedMs).toBeLessThan(5000);
    const audited = await waitFor("the run's failure in the audit trail", () =>
      t.db
        .select()
        .from(auditEvents)
        .where(and(eq(auditEvents.action, "run.transition"), eq(auditEvents.targetId, run.id)))
        .all()
        .map((e) => JSON.parse(e.details) as { to?: string; reason?: string; sandboxExitCode?: number })
        .find((d) => d.to === "failed"),
    );
    expect(audited).toMatchObject({ reason: "The sandbox container stopped unexpectedly (exit code 137).", sandboxExitCode: 137 });
    // Cleaned up like after the stop button: the dead container is removed.
    let removed = false;
    for (let i = 0; i < 50 && !removed; i++) {
      removed = await docker()
        .getContainer(running.containerId!)
        .inspect()
        .then(
          () => false,
          (err: { statusCode?: number }) => err.statusCode === 404,
        );
      if (!removed) await new Promise((r) => setTimeout(r, 100));
    }
    expect(removed).toBe(true);
    expect(getRun(t.db, run.id).state).toBe("failed");
  });
});
