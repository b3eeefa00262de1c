// Container snapshots of a real supervised run (real Docker, real pip): the
// agent installs a Python package into its home, a reviewer snapshots the
// container, the agent then breaks its environment, and the reviewer restarts
// the LIVE run from the snapshot: the package is back, the workspace is back
// at the snapshot's checkpoint, the command that was running is reported as
// interrupted, the new container has the same hardening, and the run's
// snapshots are removed when it ends.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { and, eq } from "drizzle-orm";
import { type TestDb } from "@/test/helpers/db";
import { actorOf, identityOfToken, issueToken } from "@/test/helpers/users";
import { startScriptedModelServer, type ScriptedModelServer, type ScriptStep } from "@/test/helpers/model-server";
import { approveEverything, getRun, registerModel, setUpSupervisedWorld, stopSupervisor, waitFor } from "@/test/helpers/runs";
import { auditEvents, runEvents, toolCalls, workspaces } from "@/db/schema";
import { createRun } from "@/server/runs/runs";
import { appRouter } from "@/server/api/root";
import { createCallerFactory } from "@/server/api/trpc";
import { type Supervisor } from "@/server/supervisor/supervisor";
import { AGENT_USER } from "@/server/sandbox/layout";
import { docker } from "@/server/sandbox/docker";
import { verifyAuditChain } from "@/server/audit/chain";
import type { PublicUser } from "@/server/users/users";

let t: TestDb;
let supervisor: Supervisor;
let admin: PublicUser;
let operator: PublicUser;
let reviewer: PublicUser;
let server: ScriptedModelServer | undefined;
let stopApprover = () => undefined as void;
const images: string[] = [];

const call = (name: string, args: Record<string, unknown>): ScriptStep => ({ type: "tool_calls", calls: [{ name, arguments: args }] });

async function caller(user: PublicUser) {
  return createCallerFactory(appRouter)({ db: t.db, identity: await identityOfToken(t.db, issueToken(t.db, user.id).token), sourceIp: null });
}

beforeAll(async () => {
  ({ t, supervisor, admin, operator, reviewer } = await setUpSupervisedWorld({ global: true }));
});

afterAll(async () => {
  stopApprover();
  await stopSupervisor(supervisor);
  for (const image of images)
    await docker()
      .getImage(image)
      .remove({ force: true })
      .catch(() => undefined);
  await server?.close();
  t?.close();
});

// A wheel is a zip; the agent builds one offline with the stdlib (no network in the sandbox).
const MKWHEEL = `import zipfile
name = "hello_airlock-0.1-py3-none-any.whl"
files = {
    "hello_airlock/__init__.py": "def main():\\n    print('hello from a snapshot')\\n",
    "hello_airlock-0.1.dist-info/METADATA": "Metadata-Version: 2.1\\nName: hello-airlock\\nVersion: 0.1\\n",
    "hello_airlock-0.1.dist-info/WHEEL": "Wheel-Version: 1.0\\nGenerator: airlock-test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
    "hello_airlock-0.1.dist-info/entry_points.txt": "[console_scripts]\\nhello-airlock = hello_airlock:main\\n",
}
with zipfile.ZipFile(name, "w") as z:
    for path, text in files.items():
        z.writestr(path, text)
    z.writestr("hello_airlock-0.1.dist-info/RECORD", "".join(p + ",,\\n" for p in list(files) + ["hello_airlock-0.1.dist-info/RECORD"]))
print(name)
`;

function resultOf(runId: string, n: number) {
  const calls = t.db
    .select()
    .from(toolCalls)
    .where(eq(toolCalls.runId, runId))
    .all()
    .filter((c) => c.tool === "run_command");
  return calls.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime())[n] as (typeof calls)[number] | undefined;
}

const commandCall = (runId: string, n: number) => {
  const c = resultOf(runId, n);
  if (!c) throw new Error(`run_command #${n} of run ${runId} was never called`);
  return c;
};

describe("container snapshots", () => {
  it("keeps what the agent installed: snapshot, break the environment, restart the live run from the snapshot", async () => {
    server = await startScriptedModelServer([
      call("submit_plan", { steps: [{ title: "install and use a tool", risk: "low", risk_note: "sandbox only" }] }),
      call("write_file", { path: "mkwheel.py", content: MKWHEEL }),
      // 0: install into the home directory (pip --user), and a relative symlink that must survive as is
      call("run_command", {
        command:
          "python3 mkwheel.py && pip install --user --no-index ./hello_airlock-0.1-py3-none-any.whl && hello-airlock && ln -s ./.local/bin/hello-airlock ~/link",
      }),
      // 1: held until the test has taken the snapshot
      call("run_command", { command: "while [ ! -e /workspace/go ]; do sleep 0.1; done; echo released" }),
      // 2: the agent wrecks its environment and the workspace
      call("run_command", { command: "pip uninstall -y hello-airlock && rm -f mkwheel.py && echo wrecked > wrecked.txt" }),
      // 3: running when the reviewer restarts the run from the snapshot
      call("run_command", { command: "sleep 300" }),
      // 4: after the restart
      call("run_command", {
        command: "hello-airlock; readlink ~/link; python3 -c 'import os; print(*sorted(os.listdir(\"/workspace\")), sep=chr(10))'; pgrep -c sleep || true",
      }),
      call("finish", { summary: "done", status: "success" }),
    ]);
    const modelId = registerModel(t.db, admin, server.baseUrl);
    const run = createRun(t.db, { ...actorOf(operator), userId: operator.id }, { title: "snapshot test", task: "do it", modelId });
    supervisor.launch(run.id);
    stopApprover = approveEverything(t.db, run.id, reviewer);

    await waitFor("the held command to run", () => resultOf(run.id, 1)?.state === "executing", 60_000);
    const installed = commandCall(run.id, 0);
    expect(installed.state).toBe("succeeded");
    expect(String(installed.result?.output)).toContain("hello from a snapshot");
    const before = getRun(t.db, run.id);
    const oldContainer = before.containerId!;

    // Reviewers only; and a snapshot belongs to the latest checkpoint.
    await expect((await caller(operator)).runs.snapshot({ id: run.id })).rejects.toMatchObject({ code: "FORBIDDEN" });
    const asReviewer = await caller(reviewer);
    const { items: cps } = await asReviewer.runs.checkpoints({ id: run.id });
    await expect(asReviewer.runs.snapshot({ id: run.id, checkpointId: cps[0]!.id })).rejects.toThrow(/latest checkpoint/);
    const snap = await asReviewer.runs.snapshot({ id: run.id });
    images.push(snap.image);
    expect(snap.checkpointId).toBe(cps.at(-1)!.id);
    expect(snap.image).toMatch(/^airlock-snapshot:/);
    expect(snap.sizeBytes).toBeGreaterThan(0);
    const info = await docker().getImage(snap.image).inspect();
    expect(info.Config.User).toBe(AGENT_USER);
    expect(info.Config.WorkingDir).toBe("/workspace");
    expect(info.Config.Entrypoint).toEqual(["/usr/bin/tini", "-g", "--"]);
    expect(info.Config.Labels).toMatchObject({
      "airlock.snapshot": "true",
      "airlock.run": run.id,
      "airlock.managed": "false",
      "airlock.checkpoint": snap.checkpointId,
    });
    expect((await asReviewer.runs.snapshots({ id: run.id })).items.map((s) => s.checkpointId)).toEqual([snap.checkpointId]);
    expect(t.db.select().from(workspaces).where(eq(workspaces.runId, run.id)).get()!.snapshotImage).toBe(snap.image);
    expect(
      t.db
        .select()
        .from(auditEvents)
        .all()
        .some((e) => e.action === "workspace.snapshot" && e.targetId === run.id),
    ).toBe(true);

    // Let the agent go on and wreck things, then restart while it is in the middle of a command.
    fs.writeFileSync(path.join(before.workspaceDir!, "go"), "");
    await waitFor("the last command to run", () => resultOf(run.id, 3)?.state === "executing", 60_000);
    expect(commandCall(run.id, 2).state).toBe("succeeded");
    const wrecked = await supervisor.runtime.exec(oldContainer, { cmd: ["bash", "-c", "command -v hello-airlock || echo missing"], timeoutS: 10 });
    expect(wrecked.stdout).toBe("missing\n");

    await expect((await caller(operator)).runs.restartFromSnapshot({ id: run.id, checkpointId: snap.checkpointId })).rejects.toMatchObject({
      code: "FORBIDDEN",
    });
    const restarted = await asReviewer.runs.restartFromSnapshot({ id: run.id, checkpointId: snap.checkpointId });
    expect(restarted.previousContainerId).toBe(oldContainer);
    expect(restarted.containerId).not.toBe(oldContainer);
    expect(restarted.restoreCheckpointId).not.toBeNull();
    expect(await supervisor.runtime.inspectSandbox(oldContainer)).toBeNull();
    const container = await docker().getContainer(restarted.containerId).inspect();
    expect(container.Config.Image).toBe(snap.image);
    // The restarted sandbox keeps the run's runtime: a gVisor run never lands on runc.
    expect(before.runtime).toMatch(/^(runc|runsc)$/);
    expect(container.HostConfig.Runtime).toBe(before.runtime);
    // The init and the sentinel run as root (only CAP_KILL), out of the agent's reach; commands run as the agent.
    expect(container.Config.User).toBe("0:0");
    expect(container.Config.Labels).toMatchObject({ "airlock.run": run.id, "airlock.managed": "true" });
    expect(container.HostConfig.ReadonlyRootfs).toBe(true);
    expect(container.HostConfig.CapDrop).toEqual(["ALL"]);
    expect(container.HostConfig.NetworkMode).toBe("none");
    expect(container.HostConfig.Tmpfs?.["/home/agent"]).toContain("size=");
    expect(container.Mounts.find((m) => m.Destination === "/workspace")?.Source).toBe(before.workspaceDir);

    // The interrupted command says so; the agent goes on in the new container and finishes.
    await waitFor("the run to finish", () => getRun(t.db, run.id).state === "succeeded", 60_000);
    expect(commandCall(run.id, 3).errorCode).toBe("ROLLED_BACK");
    const after = commandCall(run.id, 4);
    expect(after.state).toBe("succeeded");
    const out = String(after.result?.output);
    expect(out).toContain("hello from a snapshot"); // the package is back
    expect(out).toContain("./.local/bin/hello-airlock"); // the symlink, target untouched
    expect(out).toContain("mkwheel.py"); // the workspace is back at the snapshot's checkpoint
    expect(out).not.toContain("wrecked.txt");
    expect(out).not.toMatch(/^go$/m);

    const notes = t.db
      .select()
      .from(runEvents)
      .where(and(eq(runEvents.runId, run.id), eq(runEvents.type, "note")))
      .all();
    expect(notes.some((n) => String(n.payload.toModel ?? "").includes("restarted your sandbox from the snapshot") && n.payload.inject === true)).toBe(true);
    expect(
      t.db
        .select()
        .from(auditEvents)
        .all()
        .some((e) => e.action === "workspace.snapshot_restart" && e.targetId === run.id),
    ).toBe(true);
    expect(verifyAuditChain(t.db).ok).toBe(true);

    // A finished run's snapshots are removed with it.
    await supervisor.settled(run.id);
    expect(await supervisor.runtime.listSnapshots(run.id)).toEqual([]);
    await expect(docker().getImage(snap.image).inspect()).rejects.toMatchObject({ statusCode: 404 });
    expect(t.db.select().from(workspaces).where(eq(workspaces.runId, run.id)).get()!.snapshotImage).toBeNull();
  }, 180_000);
});
