// Issue 17: a supervised run on a remote engine (a second dockerd on this
// machine, reached only over loopback TCP with TLS client certificates, its
// own data root): plan, write, command, checkpoint, rollback, diff and
// merge-back, with the workspace a Docker volume on that engine (no bind
// mount), the shadow repository on the Airlock host, and the volume removed
// with the run. Also: what an agent plants in the remote workspace cannot
// reach the host when the workspace is copied back.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import type Docker from "dockerode";
import { toolCalls } from "@/db/schema";
import { appRouter } from "@/server/api/root";
import { createCallerFactory } from "@/server/api/trpc";
import { enginePoolRuntime, type PooledRuntime } from "@/server/engines/pooled-runtime";
import { parseEngineRef } from "@/server/engines/types";
import { createRun } from "@/server/runs/runs";
import { createProject } from "@/server/projects/projects";
import { checkAllEngines } from "@/server/engines/health";
import { dockerRuntime, instanceIdForDataDir, workspaceVolumeName, type SandboxRuntime } from "@/server/sandbox/runtime";
import { sandboxImageName } from "@/server/sandbox/image";
import { AGENT_UID, prepareWorkspace } from "@/server/sandbox/workspace";
import { setSupervisor, Supervisor } from "@/server/supervisor/supervisor";
import { listCheckpoints } from "@/server/workspace/checkpoints";
import { pullRunWorkspace, sandboxListing } from "@/server/workspace/remote";
import { decideMergeBack, requestMergeBack } from "@/server/workspace/merge-back";
import { overrideWorkspaceSettings } from "@/server/workspace/settings";
import { resolveWorkspaceSource } from "@/server/workspace/sources";
import type { PublicUser } from "@/server/users/users";
import { createTestDb, type TestDb } from "@/test/helpers/db";
import { requireDocker } from "@/test/helpers/docker";
import { startScriptedModelServer, type ScriptedModelServer, type ScriptStep } from "@/test/helpers/model-server";
import { approveEverything, getRun, registerModel, roomyQueue, stopSupervisor, tempDataDir, waitFor, waitForState } from "@/test/helpers/runs";
import { actorOf, addUser, identityOfToken, issueToken } from "@/test/helpers/users";
import { startSecondEngine, type SecondEngine } from "@/test/faults/second-engine";
import { registerSecondEngine } from "@/test/helpers/engines";

const ENGINE = "rb1";

let engine: SecondEngine;
let remoteProject: string;
let t: TestDb;
let dataDir: string;
let pool: PooledRuntime;
let supervisor: Supervisor;
let admin: PublicUser;
let operator: PublicUser;
let reviewer: PublicUser;
let source: string;
const servers: ScriptedModelServer[] = [];
const stoppers: (() => void)[] = [];

const call = (name: string, args: Record<string, unknown>): ScriptStep => ({ type: "tool_calls", calls: [{ name, arguments: args }] });
const plan = call("submit_plan", { steps: [{ title: "edit", risk: "low", risk_note: "workspace only" }] });

function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", ["-c", "safe.directory=*", "-c", "user.name=Dev", "-c", "user.email=dev@example.com", ...args], {
    cwd,
    encoding: "utf8",
    env: { ...process.env, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" },
  });
}

/** A command in a sandbox of the remote engine, by its Airlock ref, through the engine's own client (a helper: no reap, no agent env). */
async function inRemote(ref: string, script: string): Promise<{ exitCode: number | null; stdout: string }> {
  const rt = dockerRuntime(engine.docker, { remote: { engine: ENGINE } });
  const r = await rt.exec(parseEngineRef(ref).id, { cmd: ["/bin/sh", "-c", script], timeoutS: 20, helper: true });
  return { exitCode: r.exitCode, stdout: r.stdout + r.stderr };
}

async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function caller(user: PublicUser) {
  return createCallerFactory(appRouter)({ db: t.db, identity: await identityOfToken(t.db, issueToken(t.db, user.id).token), sourceIp: null });
}

async function volumeNames(client: Docker): Promise<string[]> {
  return ((await client.listVolumes()).Volumes ?? []).map((v) => v.Name);
}

beforeAll(async () => {
  await requireDocker();
  engine = await startSecondEngine({ name: ENGINE, images: [sandboxImageName()], tls: true });
  t = createTestDb();
  roomyQueue(t.db);
  dataDir = tempDataDir();
  registerSecondEngine(t.db, engine, { labels: ["remote"] });
  pool = enginePoolRuntime(t.db, instanceIdForDataDir(dataDir));
  supervisor = new Supervisor({ db: t.db, runtime: pool, dataDir, image: sandboxImageName(), sweepMs: 200 });
  setSupervisor(supervisor);
  await supervisor.start();
  admin = await addUser(t.db, "admin");
  operator = await addUser(t.db, "operator");
  reviewer = await addUser(t.db, "reviewer");
  // Placement (issue 17) sends the project's runs to the only engine with its label, once a health check saw it ready.
  remoteProject = createProject(t.db, actorOf(admin), { slug: "on-rb1", name: "On rb1", engineLabels: ["remote"] }).id;
  await checkAllEngines(t.db);
  // A local repository the run starts from (seeding) and merges back into.
  const reposRoot = fs.mkdtempSync(path.join(dataDir, "repos-"));
  source = path.join(reposRoot, "project");
  fs.mkdirSync(source);
  git(source, "init", "-q", "-b", "main");
  fs.writeFileSync(path.join(source, "README.md"), "# project on a remote engine\n");
  git(source, "add", "-A");
  git(source, "commit", "-q", "-m", "initial");
  execFileSync("chown", ["-R", "1000:1000", source]);
  fs.chmodSync(reposRoot, 0o755);
  fs.chmodSync(dataDir, 0o755);
  overrideWorkspaceSettings({ repoRoots: [reposRoot] });
}, 300_000);

afterAll(async () => {
  overrideWorkspaceSettings(null);
  for (const stop of stoppers) stop();
  await stopSupervisor(supervisor);
  await Promise.all(servers.map((s) => s.close()));
  await engine?.destroy();
  t?.close();
}, 120_000);

describe("a run on a remote engine (TCP + TLS, no shared filesystem)", () => {
  it("plans, writes, runs a command, checkpoints, rolls back inside the remote sandbox, diffs and merges back, with no bind mount", async () => {
    const server = await startScriptedModelServer([
      plan,
      call("write_file", { path: "a.txt", content: "v1\n" }),
      call("run_command", { command: "cat README.md && echo made > b.txt" }),
      call("write_file", { path: "a.txt", content: "v2\n" }),
      call("run_command", { command: "echo partial > partial.txt; sleep 300" }),
      call("run_command", { command: "cat a.txt; ls -A; stat -c 'owner %u mode %a' /workspace" }),
      call("finish", { summary: "done", status: "success" }),
    ]);
    servers.push(server);
    const modelId = registerModel(t.db, admin, server.baseUrl);
    const resolved = await resolveWorkspaceSource(t.db, operator.id, dataDir, { type: "git", path: source });
    const run = createRun(
      t.db,
      { ...actorOf(operator), userId: operator.id },
      { title: "remote", task: "edit a.txt", modelId, projectId: remoteProject },
      { source: resolved },
    );
    supervisor.launch(run.id);
    stoppers.push(approveEverything(t.db, run.id, reviewer));

    // The long command runs: everything before it happened in the remote sandbox.
    await waitFor(
      "the long command",
      () =>
        t.db
          .select()
          .from(toolCalls)
          .where(eq(toolCalls.runId, run.id))
          .all()
          .find((c) => c.tool === "run_command" && c.state === "executing" && String(c.args.command).includes("sleep")),
      90_000,
      () => {
        const r = getRun(t.db, run.id);
        const calls = t.db.select().from(toolCalls).where(eq(toolCalls.runId, run.id)).all();
        return JSON.stringify({
          state: r.state,
          endedReason: r.endedReason,
          calls: calls.map((c) => [c.tool, c.state, JSON.stringify(c.result).slice(0, 300)]),
        });
      },
    );
    const live = getRun(t.db, run.id);
    expect(live.containerId).toMatch(new RegExp(`^@${ENGINE}:[0-9a-f]{64}$`));
    const dockerId = parseEngineRef(live.containerId!).id;

    // The container's mounts, as the remote engine reports them: /workspace is its volume, nothing is bound from a host path.
    const info = await engine.docker.getContainer(dockerId).inspect();
    expect(info.Mounts.filter((m) => m.Type === "bind")).toEqual([]);
    expect(info.HostConfig.Binds ?? []).toEqual([]);
    expect(info.Mounts).toEqual([expect.objectContaining({ Type: "volume", Name: workspaceVolumeName(run.id), Destination: "/workspace" })]);
    expect(await volumeNames(engine.docker)).toContain(workspaceVolumeName(run.id));

    // Seeding reached the sandbox, and the command's output came back.
    const commandCall = t.db
      .select()
      .from(toolCalls)
      .where(eq(toolCalls.runId, run.id))
      .all()
      .find((c) => c.tool === "run_command" && String(c.args.command).includes("README"))!;
    expect(JSON.stringify(commandCall.result)).toContain("# project on a remote engine");

    // Checkpoints in the shadow repository on the host hold what the remote sandbox did.
    const labels = listCheckpoints(t.db, run.id).map((c) => c.label);
    expect(labels.slice(0, 4)).toEqual(["start", "write_file: a.txt", "run_command: cat README.md && echo made > b.txt", "write_file: a.txt"]);
    const asOperator = await caller(operator);
    const second = listCheckpoints(t.db, run.id)[2]!;
    expect((await asOperator.runs.diff({ id: run.id, checkpointId: second.id })).diff).toContain("+made");
    expect((await inRemote(live.containerId!, "cat /workspace/a.txt")).stdout).toBe("v2\n");

    // The shadow repository is on the host, never in the sandbox.
    expect(fs.existsSync(path.join(dataDir, "checkpoints", `${run.id}.git`, "HEAD"))).toBe(true);
    expect((await inRemote(live.containerId!, "ls -A /workspace")).stdout.split("\n").sort()).toEqual(["", "README.md", "a.txt", "b.txt", "partial.txt"]);

    // Rollback to the first write: restored inside the remote sandbox (b.txt and partial.txt gone, a.txt back to v1).
    const target = listCheckpoints(t.db, run.id).find((c) => c.label === "write_file: a.txt")!;
    const rolled = await (await caller(reviewer)).runs.rollback({ id: run.id, checkpointId: target.id, reason: "back to v1" });
    expect(rolled.state).toBe("running");

    const done = await waitForState(t.db, run.id, ["succeeded", "failed"]);
    expect(done.state, done.endedReason ?? "").toBe("succeeded");
    // The agent's next command, in the remote sandbox, saw the restored workspace.
    const look = t.db
      .select()
      .from(toolCalls)
      .where(eq(toolCalls.runId, run.id))
      .all()
      .find((c) => c.tool === "run_command" && String(c.args.command).startsWith("cat a.txt"))!;
    expect((look.result as { output?: string }).output).toBe(`v1\nREADME.md\na.txt\nowner ${AGENT_UID} mode 700\n`);

    // The whole run's diff, and merge-back from the host's shadow repository.
    const diff = (await asOperator.runs.diff({ id: run.id })).diff;
    expect(diff).toContain("+v1");
    expect(diff).not.toContain("partial");
    const request = await requestMergeBack(t.db, { ...actorOf(operator), userId: operator.id }, { id: run.id, branch: "airlock/remote" });
    const decided = await decideMergeBack(t.db, { ...actorOf(reviewer), userId: reviewer.id }, { mergeRequestId: request.id, decision: "approve" });
    expect(decided.state, decided.error ?? "").toBe("merged");
    expect(git(source, "show", "airlock/remote:a.txt")).toBe("v1\n");

    // The sandbox and its volume are gone from the remote engine.
    await until("the remote container to go", async () => !(await engine.docker.listContainers({ all: true })).some((c) => c.Id === dockerId));
    await until("the volume to go", async () => !(await volumeNames(engine.docker)).includes(workspaceVolumeName(run.id)));
  }, 240_000);

  it("takes a snapshot on the remote engine and restarts from it there, the new container mounting the same volume", async () => {
    const server = await startScriptedModelServer([
      plan,
      call("write_file", { path: "a.txt", content: "one\n" }),
      call("run_command", { command: "echo later > later.txt; sleep 300" }),
      call("run_command", { command: "cat a.txt; ls -A" }),
      call("finish", { summary: "done", status: "success" }),
    ]);
    servers.push(server);
    const modelId = registerModel(t.db, admin, server.baseUrl);
    const run = createRun(
      t.db,
      { ...actorOf(operator), userId: operator.id },
      { title: "remote snapshot", task: "snapshot", modelId, projectId: remoteProject },
    );
    supervisor.launch(run.id);
    stoppers.push(approveEverything(t.db, run.id, reviewer));
    await waitFor("the held command", () =>
      t.db
        .select()
        .from(toolCalls)
        .where(eq(toolCalls.runId, run.id))
        .all()
        .find((c) => c.tool === "run_command" && c.state === "executing"),
    );
    const asReviewer = await caller(reviewer);
    const snap = await asReviewer.runs.snapshot({ id: run.id });
    expect(snap.image).toMatch(new RegExp(`^@${ENGINE}:airlock-snapshot:`));
    const previous = getRun(t.db, run.id).containerId!;
    const restarted = await asReviewer.runs.restartFromSnapshot({ id: run.id, checkpointId: snap.checkpointId });
    expect(restarted.containerId).toMatch(new RegExp(`^@${ENGINE}:`));
    expect(restarted.containerId).not.toBe(previous);
    const info = await engine.docker.getContainer(parseEngineRef(restarted.containerId).id).inspect();
    expect(info.Config.Image).toBe(parseEngineRef(snap.image).id);
    expect(info.Mounts).toEqual([expect.objectContaining({ Type: "volume", Name: workspaceVolumeName(run.id) })]);

    const done = await waitForState(t.db, run.id, ["succeeded", "failed"]);
    expect(done.state, done.endedReason ?? "").toBe("succeeded");
    const look = t.db
      .select()
      .from(toolCalls)
      .where(eq(toolCalls.runId, run.id))
      .all()
      .find((c) => c.tool === "run_command" && String(c.args.command).startsWith("cat a.txt"))!;
    expect((look.result as { output?: string }).output).toBe("one\na.txt\n");
    await until("the volume to go", async () => !(await volumeNames(engine.docker)).includes(workspaceVolumeName(run.id)));
  }, 240_000);

  it("copies a remote workspace back without letting what the agent planted reach the host", async () => {
    const rt: SandboxRuntime = pool.engine(ENGINE);
    const runId = `plant${Date.now()}`;
    const mirror = await prepareWorkspace(dataDir, runId);
    fs.writeFileSync(path.join(mirror, "seed.txt"), "seed\n");
    fs.chownSync(path.join(mirror, "seed.txt"), AGENT_UID, AGENT_UID);
    const { containerId } = await rt.createSandbox({ runId, image: sandboxImageName(), workspaceDir: mirror, limits: {} as never });
    try {
      await rt.pushWorkspace!(containerId, mirror);
      const planted = await rt.exec(containerId, {
        cmd: [
          "bash",
          "-c",
          "cd /workspace && ln -s /etc x && (echo pwned > x/pwned; true) && ln -s /etc/passwd pw && mkfifo fifo && echo s > suid && chmod 4755 suid && mkdir -p d/e && ln d/../seed.txt hard",
        ],
        timeoutS: 20,
      });
      expect(planted.exitCode, planted.stderr).toBe(0);
      expect(planted.leftBehind).toBe(0);
      // What a command leaves running is found by the engine's listing (no host /proc) and reaped.
      const detached = await rt.exec(containerId, { cmd: ["bash", "-c", "setsid sleep 300 >/dev/null 2>&1 < /dev/null & echo started"], timeoutS: 20 });
      expect(detached.leftBehind).toBe(1);
      const ps = await rt.exec(containerId, { cmd: ["bash", "-c", "ps -eo comm= | grep -c '^sleep$' || true"], timeoutS: 20 });
      expect(ps.stdout.trim()).toBe("1"); // the sentinel's own sleep only
      await rt.pauseSandbox(containerId);
      await rt.pullWorkspace!(containerId, mirror);
      await rt.unpauseSandbox(containerId);
      expect(fs.existsSync("/etc/pwned")).toBe(false);
      expect(fs.readlinkSync(path.join(mirror, "x"))).toBe("/etc");
      expect(fs.lstatSync(path.join(mirror, "x")).isSymbolicLink()).toBe(true);
      expect(fs.readlinkSync(path.join(mirror, "pw"))).toBe("/etc/passwd");
      expect(fs.existsSync(path.join(mirror, "fifo"))).toBe(false);
      const suid = fs.statSync(path.join(mirror, "suid"));
      expect(suid.mode & 0o7777).toBe(0o755);
      expect(suid.uid).toBe(AGENT_UID);
      expect(fs.readFileSync(path.join(mirror, "hard"), "utf8")).toBe("seed\n");
      expect(fs.statSync(path.join(mirror, "hard")).nlink).toBe(1);
      expect(fs.statSync(mirror).mode & 0o777).toBe(0o700);
      expect(fs.existsSync(path.join(mirror, "d", "e"))).toBe(true);

      // Only what changed: with the sandbox's digest unchanged since the last copy, nothing is copied (the mirror is not replaced).
      const place = { id: runId, engine: ENGINE, containerId: `@${ENGINE}:${containerId}` };
      expect(await pullRunWorkspace(pool, place, mirror, await sandboxListing(pool, place))).toBe(true);
      const inode = fs.statSync(mirror).ino;
      expect(await pullRunWorkspace(pool, place, mirror, await sandboxListing(pool, place))).toBe(false);
      expect(fs.statSync(mirror).ino).toBe(inode);
      await rt.exec(containerId, { cmd: ["bash", "-c", "touch /workspace/d/e/new"], timeoutS: 20 });
      expect(await pullRunWorkspace(pool, place, mirror, await sandboxListing(pool, place))).toBe(true);
      expect(fs.existsSync(path.join(mirror, "d", "e", "new"))).toBe(true);
    } finally {
      await rt.removeSandbox(containerId);
    }
    expect(await volumeNames(engine.docker)).not.toContain(workspaceVolumeName(runId));
  }, 120_000);
});
