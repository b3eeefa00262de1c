// Reconciliation of a run cut off while its sandbox was starting (issue 15,
// K8 of test/faults/sigkill.fault.test.ts, here without the built dashboard):
// the container exists, the run never named it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { runs } from "@/db/schema";
import { docker } from "@/server/sandbox/docker";
import type { Supervisor } from "@/server/supervisor/supervisor";
import { startScriptedModelServer, type ScriptStep, type ScriptedModelServer } from "@/test/helpers/model-server";
import {
  getRun,
  newSupervisor,
  registerModel,
  setUpSupervisedWorld,
  startRun,
  stopSupervisor,
  waitForPendingApproval,
  type SupervisedWorld,
} from "@/test/helpers/runs";

let world: SupervisedWorld;
let supervisor: Supervisor;
let model: ScriptedModelServer;

beforeAll(async () => {
  world = await setUpSupervisedWorld();
  supervisor = world.supervisor;
  const plan: ScriptStep = {
    type: "tool_calls",
    calls: [{ name: "submit_plan", arguments: { steps: [{ title: "look", risk: "low", risk_note: "reads only" }] } }],
  };
  model = await startScriptedModelServer([plan, plan]);
});

afterAll(async () => {
  await stopSupervisor(supervisor);
  await model?.close();
  world?.t.close();
});

describe("restart while a sandbox starts", () => {
  it("K8: a run whose sandbox was starting when Airlock died is failed with its reason and its container removed", async () => {
    const { t, dataDir, operator, admin } = world;
    const run = startRun(t.db, supervisor, operator, registerModel(t.db, admin, model.baseUrl));
    await waitForPendingApproval(t.db, run.id, "plan");
    const containerId = getRun(t.db, run.id).containerId!;
    await supervisor.shutdown();
    // What a SIGKILL leaves between the container's start and the run's move to planning (kill point sandbox-started):
    // the run still "starting" and naming no container, the container running.
    t.db.update(runs).set({ state: "starting", containerId: null }).where(eq(runs.id, run.id)).run();
    expect((await docker().getContainer(containerId).inspect()).State.Running).toBe(true);

    supervisor = newSupervisor(t.db, dataDir);
    await supervisor.start();

    const failed = getRun(t.db, run.id);
    expect(failed.state).toBe("failed");
    expect(failed.endedReason).toBe("Airlock restarted while the sandbox was starting.");
    await expect(docker().getContainer(containerId).inspect()).rejects.toMatchObject({ statusCode: 404 });
  });

  it("K9: a run whose sandbox a checkpoint had frozen when Airlock died is thawed and resumed, not failed as lost", async () => {
    const { t, dataDir, operator, admin } = world;
    const run = startRun(t.db, supervisor, operator, registerModel(t.db, admin, model.baseUrl));
    await waitForPendingApproval(t.db, run.id, "plan");
    const containerId = getRun(t.db, run.id).containerId!;
    await supervisor.shutdown();
    // What a SIGKILL inside withFrozenSandbox (a checkpoint or a rollback) leaves: the container frozen by the cgroup freezer.
    await docker().getContainer(containerId).pause();

    supervisor = newSupervisor(t.db, dataDir);
    await supervisor.start();

    expect(getRun(t.db, run.id).state).toBe("awaiting_plan_approval");
    expect(supervisor.isLive(run.id)).toBe(true);
    const state = (await docker().getContainer(containerId).inspect()).State;
    expect({ running: state.Running, paused: state.Paused }).toEqual({ running: true, paused: false });
  });
});
