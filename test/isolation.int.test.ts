// Isolation tiers (issue 13) against the real engine: the gVisor probe
// (including whether gVisor breaks coreutils' stat, as Debian's 2022 runsc
// does), a built-in run of a project that requires gVisor isolated by it
// (runs.get, the container's HostConfig, the kernel seen inside, the audit
// event of its start), auto keeping runs on runc where gVisor breaks tools,
// and a project that requires gVisor where gVisor is unavailable.
// "Unavailable" is injected through the supervisor's gvisorProbe seam: the
// engine's real gVisor is shared with every other suite and is never broken.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { and, eq } from "drizzle-orm";
import { auditEvents } from "@/db/schema";
import { appRouter } from "@/server/api/root";
import { createCallerFactory } from "@/server/api/trpc";
import { config } from "@/server/config/env";
import { presetYaml } from "@/server/policy/presets";
import { createProject } from "@/server/projects/projects";
import { runRedteam } from "@/server/redteam/runner";
import { SCENARIOS } from "@/server/redteam/scenarios";
import { createRun } from "@/server/runs/runs";
import { docker } from "@/server/sandbox/docker";
import { sandboxImageName } from "@/server/sandbox/image";
import { DEFAULT_LIMITS, dockerRuntime } from "@/server/sandbox/runtime";
import { GVISOR_STATX_PROBLEM, probeGvisor, runGvisorProbe, type GvisorStatus } from "@/server/sandbox/runtimes";
import { prepareWorkspace } from "@/server/sandbox/workspace";
import type { PublicUser } from "@/server/users/users";
import { startScriptedModelServer, type ScriptedModelServer } from "@/test/helpers/model-server";
import { getRun, registerModel, setUpSupervisedWorld, stopSupervisor, waitForState, type SupervisedWorld } from "@/test/helpers/runs";
import { actorOf, identityOfToken, issueToken } from "@/test/helpers/users";

const servers: ScriptedModelServer[] = [];
let auto: SupervisedWorld;
let noGvisor: SupervisedWorld;
let brokenTools: SupervisedWorld;

const UNAVAILABLE: GvisorStatus = {
  offered: false,
  works: false,
  problem: "the Docker engine does not offer the runsc runtime",
  kernel: null,
  engineRuntimes: ["runc"],
  checkedAt: new Date(),
  durationMs: 0,
};

/** gVisor that starts but breaks `ls -l` (what Debian's 2022 runsc does), injected for the auto rule. */
const BREAKS_TOOLS: GvisorStatus = {
  offered: true,
  works: true,
  problem: null,
  toolsProblem: GVISOR_STATX_PROBLEM,
  kernel: "Linux version 4.4.0",
  engineRuntimes: ["runc", "runsc"],
  checkedAt: new Date(),
  durationMs: 0,
};

/** A model that submits a plan and then waits: the run sits in awaiting_plan_approval with its sandbox up. */
async function waitingModel(world: SupervisedWorld): Promise<string> {
  const server = await startScriptedModelServer([
    { type: "tool_calls", calls: [{ name: "submit_plan", arguments: { steps: [{ title: "look", risk: "low", risk_note: "reads only" }] } }] },
    { type: "hang" },
  ]);
  servers.push(server);
  return registerModel(world.t.db, world.admin, server.baseUrl);
}

const callerAs = async (world: SupervisedWorld, user: PublicUser) =>
  createCallerFactory(appRouter)({ db: world.t.db, identity: await identityOfToken(world.t.db, issueToken(world.t.db, user.id).token), sourceIp: null });

function startTransitions(world: SupervisedWorld, runId: string) {
  return world.t.db
    .select()
    .from(auditEvents)
    .where(and(eq(auditEvents.action, "run.transition"), eq(auditEvents.targetId, runId)))
    .all()
    .map((e) => JSON.parse(e.details) as { from?: string; to?: string; runtime?: string; runtimeWhy?: string; reason?: string });
}

beforeAll(async () => {
  auto = await setUpSupervisedWorld({ supervisor: { runtimeSetting: "auto" } });
  noGvisor = await setUpSupervisedWorld({ supervisor: { runtimeSetting: "auto", gvisorProbe: () => Promise.resolve(UNAVAILABLE) } });
  brokenTools = await setUpSupervisedWorld({ supervisor: { runtimeSetting: "auto", gvisorProbe: () => Promise.resolve(BREAKS_TOOLS) } });
});

afterAll(async () => {
  await stopSupervisor(auto?.supervisor);
  await stopSupervisor(noGvisor?.supervisor);
  await stopSupervisor(brokenTools?.supervisor);
  await Promise.all(servers.map((s) => s.close()));
  auto?.t.close();
  noGvisor?.t.close();
  brokenTools?.t.close();
});

describe("the gVisor probe", () => {
  it("says runsc is offered and starts a hardened sandbox of the image on this engine, and keeps the answer for the process", async () => {
    const image = sandboxImageName();
    const probeContainers = async () => (await docker().listContainers({ all: true, filters: { label: ["airlock.gvisor-probe"] } })).map((c) => c.Id);
    const before = await probeContainers();
    const status = await runGvisorProbe(image);
    expect(status).toMatchObject({ offered: true, works: true, problem: null });
    expect(status.engineRuntimes).toEqual(expect.arrayContaining(["runc", "runsc"]));
    expect(status.kernel).toMatch(/^Linux version 4\.4\.0/); // gVisor's own kernel, not the host's
    const first = await probeGvisor(image);
    const again = await probeGvisor(image);
    expect(first.works).toBe(true);
    expect(again).toBe(first); // cached: no second probe container
    expect((await probeContainers()).filter((id) => !before.includes(id))).toEqual([]); // removed after use
  });

  it("reports that this gVisor breaks coreutils' stat exactly when `stat` fails in a real gVisor sandbox", async () => {
    const status = await probeGvisor(sandboxImageName());
    const runtime = dockerRuntime();
    const workspaceDir = await prepareWorkspace(auto.dataDir, "statx-check");
    const { containerId } = await runtime.createSandbox({
      runId: `statx-check-${Date.now()}`,
      image: sandboxImageName(),
      workspaceDir,
      limits: DEFAULT_LIMITS,
      runtime: "runsc",
    });
    try {
      const stat = await runtime.exec(containerId, { cmd: ["stat", "/workspace"], timeoutS: 30 });
      expect(status.toolsProblem ?? null).toBe(stat.exitCode === 0 ? null : GVISOR_STATX_PROBLEM);
    } finally {
      await runtime.removeSandbox(containerId);
    }
  });
});

describe("a built-in run of a project that requires gVisor", () => {
  it("is isolated by gVisor: runs.get says runsc, its container runs under runsc, /proc/version inside is gVisor's, and the audit event of its start names the runtime", async () => {
    const modelId = await waitingModel(auto);
    const project = createProject(auto.t.db, actorOf(auto.admin), { slug: "isolated", name: "Isolated", runtime: "runsc" });
    const run = createRun(
      auto.t.db,
      { ...actorOf(auto.admin), userId: auto.admin.id },
      { title: "isolated", task: "look around", modelId, projectId: project.id },
    );
    auto.supervisor.launch(run.id);
    const waiting = await waitForState(auto.t.db, run.id, "awaiting_plan_approval", 120_000);

    const view = await (await callerAs(auto, auto.admin)).runs.get({ id: run.id });
    expect(view.runtime).toBe("runsc");
    const listed = await (await callerAs(auto, auto.admin)).runs.list({});
    expect(listed.items.find((r) => r.id === run.id)?.runtime).toBe("runsc");

    const inspected = await docker().getContainer(waiting.containerId!).inspect();
    expect(inspected.HostConfig.Runtime).toBe("runsc");
    const proc = await auto.supervisor.runtime.exec(waiting.containerId!, { cmd: ["cat", "/proc/version"], timeoutS: 30 });
    expect(proc.exitCode).toBe(0);
    expect(proc.stdout).toMatch(/^Linux version 4\.4\.0/);

    const started = startTransitions(auto, run.id).find((d) => d.to === "planning");
    expect(started).toMatchObject({ from: "starting", runtime: "runsc" });
    expect(started?.runtimeWhy).toMatch(/gVisor: project Isolated requires it/);

    await auto.supervisor.killRun(run.id, actorOf(auto.admin), "done looking");
  });
});

describe("where gVisor is unavailable (injected through the gvisorProbe seam)", () => {
  it("a run of a project that requires gVisor fails at start with the plain reason and never gets a runc container", async () => {
    const w = noGvisor;
    const project = createProject(w.t.db, actorOf(w.admin), { slug: "payments", name: "Payments", runtime: "runsc" });
    expect(project.runtime).toBe("runsc");
    const modelId = await waitingModel(w);
    const run = createRun(w.t.db, { ...actorOf(w.admin), userId: w.admin.id }, { title: "must be gVisor", task: "anything", modelId, projectId: project.id });
    w.supervisor.launch(run.id);
    const ended = await waitForState(w.t.db, run.id, ["failed", "killed", "awaiting_plan_approval", "planning", "running"], 60_000);

    expect(ended.state).toBe("failed");
    expect(ended.endedReason).toBe(
      "This run requires gVisor (project Payments requires it) but the Docker engine does not offer the runsc runtime: run scripts/ensure-gvisor.sh as root (npm start does it) to install runsc and register it with the engine, or an admin lifts the gVisor requirement of project Payments on the Projects page.",
    );
    expect(ended.containerId).toBeNull();
    expect(ended.runtime).toBeNull();
    const view = await (await callerAs(w, w.admin)).runs.get({ id: run.id });
    expect(view.runtime).toBeNull();
    const containers = await docker().listContainers({ all: true, filters: { label: [`airlock.run=${run.id}`] } });
    expect(containers).toEqual([]);
    expect(startTransitions(w, run.id).find((d) => d.to === "failed")?.reason).toBe(ended.endedReason);
  });

  it("a run that does not require gVisor falls back to runc under auto, and says so in runs.get, its container and its audit event", async () => {
    const w = noGvisor;
    const modelId = await waitingModel(w);
    const run = createRun(w.t.db, { ...actorOf(w.operator), userId: w.operator.id }, { title: "runc is fine", task: "anything", modelId });
    w.supervisor.launch(run.id);
    const waiting = await waitForState(w.t.db, run.id, "awaiting_plan_approval", 120_000);

    expect((await (await callerAs(w, w.operator)).runs.get({ id: run.id })).runtime).toBe("runc");
    const inspected = await docker().getContainer(waiting.containerId!).inspect();
    expect(inspected.HostConfig.Runtime).toBe("runc");
    const started = startTransitions(w, run.id).find((d) => d.to === "planning");
    expect(started).toMatchObject({ runtime: "runc" });
    expect(started?.runtimeWhy).toMatch(/does not offer the runsc runtime/);
    await w.supervisor.killRun(run.id, actorOf(w.admin), "done");
    expect(getRun(w.t.db, run.id).runtime).toBe("runc"); // kept after the run ends
  });
});

describe("AIRLOCK_RUNTIME=auto where gVisor starts but breaks common tools (injected: what Debian's 2022 runsc does)", () => {
  it("keeps a run on runc and says why in its audit event, so the agent's ls -l keeps working", async () => {
    const w = brokenTools;
    const modelId = await waitingModel(w);
    const run = createRun(w.t.db, { ...actorOf(w.operator), userId: w.operator.id }, { title: "ls must work", task: "anything", modelId });
    w.supervisor.launch(run.id);
    const waiting = await waitForState(w.t.db, run.id, "awaiting_plan_approval", 120_000);
    expect((await (await callerAs(w, w.operator)).runs.get({ id: run.id })).runtime).toBe("runc");
    expect((await docker().getContainer(waiting.containerId!).inspect()).HostConfig.Runtime).toBe("runc");
    const started = startTransitions(w, run.id).find((d) => d.to === "planning");
    expect(started?.runtimeWhy).toMatch(/gVisor starts but this gVisor build breaks common tools .*AIRLOCK_RUNTIME=runsc to use it anyway/);
    await w.supervisor.killRun(run.id, actorOf(w.admin), "done");
  });
});

describe("projects.create / projects.update runtime", () => {
  it("an admin can require gVisor for a project and lift it again; any other value is refused with what to send", async () => {
    const admin = await callerAs(noGvisor, noGvisor.admin);
    const { id } = await admin.projects.create({ slug: "sandboxed", name: "Sandboxed", runtime: "runsc" });
    expect((await admin.projects.get({ id })).runtime).toBe("runsc");
    expect((await admin.projects.update({ id, runtime: null })).runtime).toBeNull();
    await expect(admin.projects.update({ id, runtime: "runc" as never })).rejects.toThrow(
      /runtime must be "runsc" \(the project's runs require gVisor\) or null/,
    );
    const operator = await callerAs(noGvisor, noGvisor.operator);
    await expect(operator.projects.update({ id, runtime: "runsc" })).rejects.toThrow();
  });
});

describe("the red team", () => {
  it("runs its lab sandbox under the runtime a run would get, and says which in its summary", async () => {
    const gvisor = await probeGvisor(sandboxImageName());
    // What a run outside a project gets: auto takes gVisor only where it works and keeps tools working.
    const expected = config().runtime === "runsc" || (config().runtime === "auto" && gvisor.works && !gvisor.toolsProblem) ? "runsc" : "runc";
    const outcome = await runRedteam({
      policyYaml: presetYaml("supervised"),
      scenarios: SCENARIOS.filter((s) => s.id === "shadow-dot-ls"),
      policyOnly: true,
    });
    expect(outcome.results).toHaveLength(1);
    expect(outcome.results[0]!.outcome).not.toBe("escaped");
    expect(outcome.summary.runtime).toBe(expected);
  });
});
