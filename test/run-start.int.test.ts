// Run start (issue 14): the start checkpoint is taken while the engine
// creates and starts the run's container, instead of after it with the
// sandbox frozen. Nothing of the agent runs before its session exists, so
// the checkpoint must still hold exactly the prepared workspace, come before
// the run leaves `starting`, and a start that fails must still fail cleanly.
// Real Docker, real SQLite, real git, the scripted model server over HTTP.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { docker } from "@/server/sandbox/docker";
import { listRunEvents } from "@/server/events/bus";
import { createRun } from "@/server/runs/runs";
import { dockerRuntime, instanceIdForDataDir, RUN_LABEL, type SandboxRuntime } from "@/server/sandbox/runtime";
import { sandboxImageName } from "@/server/sandbox/image";
import { Supervisor } from "@/server/supervisor/supervisor";
import { diffCheckpoint, listCheckpoints } from "@/server/workspace/checkpoints";
import { overrideWorkspaceSettings } from "@/server/workspace/settings";
import { resolveWorkspaceSource } from "@/server/workspace/sources";
import type { PublicUser } from "@/server/users/users";
import { createTestDb, type TestDb } from "@/test/helpers/db";
import { startScriptedModelServer, type ScriptedModelServer } from "@/test/helpers/model-server";
import { getRun, registerModel, requireDocker, roomyQueue, stopSupervisor, tempDataDir, waitFor, waitForState } from "@/test/helpers/runs";
import { withRuntimeUnderTest } from "@/test/helpers/sandbox-runtime";
import { actorOf, addUser } from "@/test/helpers/users";

let t: TestDb;
let dataDir: string;
let admin: PublicUser;
let operator: PublicUser;
const supervisors: Supervisor[] = [];
const servers: ScriptedModelServer[] = [];
/** Containers the runtime was asked to freeze (pauseSandbox), in order. */
const paused: string[] = [];

/** The real runtime under test, noting every freeze (nothing else changes). */
function notingFreezes(inner: SandboxRuntime): SandboxRuntime {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (prop !== "pauseSandbox" || typeof v !== "function") return v;
      return (containerId: string) => {
        paused.push(containerId);
        return (v as (id: string) => Promise<boolean>).call(target, containerId);
      };
    },
  });
}

function supervisorWith(image: string): Supervisor {
  const s = new Supervisor({
    db: t.db,
    runtime: notingFreezes(withRuntimeUnderTest(dockerRuntime(undefined, { instance: instanceIdForDataDir(dataDir) }))),
    dataDir,
    image,
    sweepMs: 200,
  });
  supervisors.push(s);
  return s;
}

beforeAll(async () => {
  await requireDocker();
  t = createTestDb();
  roomyQueue(t.db);
  dataDir = tempDataDir();
  admin = await addUser(t.db, "admin");
  operator = await addUser(t.db, "operator");
});

afterAll(async () => {
  overrideWorkspaceSettings(null);
  for (const s of supervisors) await stopSupervisor(s);
  for (const s of servers) await s.close();
  t?.close();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

describe("run start", () => {
  it("RS1: the start checkpoint holds the prepared workspace, is recorded before the run leaves starting, and the sandbox is never frozen for it", async () => {
    const supervisor = supervisorWith(sandboxImageName());
    await supervisor.start();
    const repo = fs.mkdtempSync(path.join(dataDir, "repo-"));
    const git = (...args: string[]) =>
      execFileSync("git", ["-c", "user.email=t@example.test", "-c", "user.name=t", ...args], { cwd: repo, env: { ...process.env, GIT_CONFIG_NOSYSTEM: "1" } });
    git("init", "-q", "-b", "main");
    fs.writeFileSync(path.join(repo, "README.md"), "hello from the source\n");
    git("add", "-A");
    git("commit", "-q", "-m", "initial");
    overrideWorkspaceSettings({ repoRoots: [dataDir] });
    const source = await resolveWorkspaceSource(t.db, operator.id, dataDir, { type: "git", path: repo });
    const server = await startScriptedModelServer([{ type: "hang" }]);
    servers.push(server);
    const modelId = registerModel(t.db, admin, server.baseUrl);
    const run = createRun(t.db, { ...actorOf(operator), userId: operator.id }, { title: "start", task: "look around", modelId }, { source });

    supervisor.launch(run.id);
    await waitFor("the agent's first model request", () => server.requests.length > 0);

    const started = getRun(t.db, run.id);
    expect(started.state).toBe("planning");
    const checkpoints = listCheckpoints(t.db, run.id);
    expect(checkpoints.map((c) => c.kind)).toEqual(["start"]);
    const { diff } = await diffCheckpoint(t.db, run.id, checkpoints[0]!.id);
    expect(diff).toContain("README.md");
    expect(diff).toContain("+hello from the source");
    const events = listRunEvents(t.db, run.id);
    const checkpointAt = events.findIndex((e) => e.type === "checkpoint");
    const planningAt = events.findIndex((e) => e.type === "state" && (e.payload as { to: string }).to === "planning");
    expect(checkpointAt).toBeGreaterThanOrEqual(0);
    expect(checkpointAt).toBeLessThan(planningAt);
    expect(paused).not.toContain(started.containerId);
    await stopSupervisor(supervisor); // one supervisor per database at a time: the next test starts its own
  });

  it("RS2: a run whose sandbox cannot start fails saying why, with no container left, while its start checkpoint ran alongside", async () => {
    const supervisor = supervisorWith("airlock-no-such-image:missing");
    await supervisor.start();
    const server = await startScriptedModelServer([{ type: "hang" }]);
    servers.push(server);
    const modelId = registerModel(t.db, admin, server.baseUrl);
    const run = createRun(t.db, { ...actorOf(operator), userId: operator.id }, { title: "no image", task: "anything", modelId });

    supervisor.launch(run.id);
    const failed = await waitForState(t.db, run.id, "failed");

    expect(failed.endedReason).toMatch(/The sandbox could not start: sandbox image airlock-no-such-image:missing is not present/);
    expect(server.requests).toHaveLength(0);
    const left = await docker().listContainers({ all: true, filters: { label: [`${RUN_LABEL}=${run.id}`] } });
    expect(left).toHaveLength(0);
  });
});
