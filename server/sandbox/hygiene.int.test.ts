// No process outlives its command (issue 13): whatever a command leaves
// running is killed when it ends, the run's pids cap answers in plain words,
// and a service (start_service) is the one exception, in a container of its
// own. Real engine, real sandbox image; under the runtime AIRLOCK_RUNTIME
// names (runc unless it says runsc), so the suite runs under gVisor too.
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireDocker } from "@/test/helpers/docker";
import { readRuntimeSetting } from "@/server/config/env";
import { docker } from "./docker";
import { DEFAULT_LIMITS, dockerRuntime, SERVICE_OF_LABEL, type ExecOptions, type RunLimits } from "./runtime";
import { prepareWorkspace } from "./workspace";

const image = await requireDocker();
const sandboxRuntime = readRuntimeSetting() === "runsc" ? "runsc" : "runc";
/** The run's pids cap in these tests. Under gVisor the pids cgroup counts the
 * sandbox kernel's own host threads, and a cap as low as 64 stops it from
 * starting at all. */
const PIDS = sandboxRuntime === "runsc" ? 256 : 64;
const runtime = dockerRuntime();
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-hygiene-int-"));
const created: string[] = [];
const testRunPrefix = `h${randomBytes(4).toString("hex")}`;

async function startSandbox(name: string, limits: Partial<RunLimits> = {}) {
  const runId = `${testRunPrefix}-${name}`;
  const workspaceDir = await prepareWorkspace(dataDir, runId);
  const { containerId } = await runtime.createSandbox({ runId, image, workspaceDir, limits: { ...DEFAULT_LIMITS, ...limits }, runtime: sandboxRuntime });
  created.push(containerId);
  return { containerId, runId, workspaceDir };
}

function sh(containerId: string, script: string, opts: Partial<ExecOptions> = {}) {
  return runtime.exec(containerId, { cmd: ["bash", "-c", script], timeoutS: 30, ...opts });
}

/**
 * Live processes of the container, zombies aside, seen from outside the
 * agent's reach: under runc the engine's listing (ps on the engine's host);
 * under gVisor, whose processes that listing does not show, ps run as root
 * by the engine inside the sandbox (itself not counted).
 */
async function processCount(containerId: string): Promise<number> {
  const container = docker().getContainer(containerId);
  if (sandboxRuntime === "runc") {
    const top = (await container.top({ ps_args: "-eo pid,stat,args" })) as { Processes: string[][] };
    // A service's cgroup nests in the sandbox's, so the sandbox's listing shows its processes too: not the sandbox's.
    const services = await docker().listContainers({ filters: { label: [`${SERVICE_OF_LABEL}=${containerId}`] } });
    const servicePids = new Set<string>();
    for (const s of services) for (const p of ((await docker().getContainer(s.Id).top()) as { Processes: string[][] }).Processes) servicePids.add(p[1]!);
    return top.Processes.filter((p) => !/^[ZX]/.test(p[1] ?? "") && !servicePids.has(p[0]!)).length;
  }
  const exec = await container.exec({ Cmd: ["ps", "-eo", "pid=,stat=,args="], User: "0:0", AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve) => {
    docker().modem.demuxStream(stream, { write: (c: Buffer) => chunks.push(c) } as never, { write: () => undefined } as never);
    stream.on("end", () => resolve());
  });
  const lines = Buffer.concat(chunks).toString("utf8").split("\n").filter(Boolean);
  return lines.filter((l) => !/^\s*\d+\s+[ZX]/.test(l) && !/\bps -eo pid=,stat=,args=/.test(l)).length;
}

afterAll(async () => {
  await Promise.all(created.map((id) => runtime.removeSandbox(id).catch(() => undefined)));
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe(`no process outlives its command (${sandboxRuntime})`, () => {
  let id: string;
  let baseline: number;
  beforeAll(async () => {
    ({ containerId: id } = await startSandbox("hygiene", { memoryMb: 256, pids: PIDS }));
    // Once the sentinel has started its sleep.
    for (let i = 0; i < 50 && (baseline = await processCount(id)) < 3; i++) await new Promise((r) => setTimeout(r, 100));
  });

  async function expectCleanAndWorking() {
    expect(await processCount(id)).toBe(baseline);
    const next = await sh(id, "echo next-works");
    expect(next).toMatchObject({ exitCode: 0, stdout: "next-works\n", leftBehind: 0, pidsExhausted: null });
    expect(await processCount(id)).toBe(baseline);
  }

  it("starts from init, the sentinel and its sleep", () => {
    expect(baseline).toBe(3);
  });

  it("a command that leaves nothing behind is not reaped, and nothing is left", async () => {
    const r = await sh(id, "echo hi");
    expect(r).toMatchObject({ exitCode: 0, stdout: "hi\n", leftBehind: 0, sandboxStopped: false });
    expect(await processCount(id)).toBe(baseline);
  });

  it("a command that leaves a background process (sleep 300 &): killed when the command ends", async () => {
    const r = await sh(id, "sleep 300 & echo started");
    expect(r).toMatchObject({ exitCode: 0, stdout: "started\n", timedOut: false, sandboxStopped: false });
    await expectCleanAndWorking();
  });

  it("a double fork ( (sleep 300 &) & ): killed when the command ends", async () => {
    const r = await sh(id, "( (sleep 300 &) & ); echo started");
    expect(r).toMatchObject({ exitCode: 0, stdout: "started\n", sandboxStopped: false });
    await expectCleanAndWorking();
  });

  it("a setsid'd child (setsid -f sleep 300): killed when the command ends", async () => {
    const r = await sh(id, "setsid -f sleep 300; echo started");
    expect(r).toMatchObject({ exitCode: 0, stdout: "started\n", sandboxStopped: false });
    await expectCleanAndWorking();
  });

  it("a nohup'd child (nohup sleep 300 &): killed when the command ends", async () => {
    const r = await sh(id, "nohup sleep 300 >/dev/null 2>&1 & echo started");
    expect(r).toMatchObject({ exitCode: 0, stdout: "started\n", sandboxStopped: false });
    await expectCleanAndWorking();
  });

  // Known gVisor gap (marked, not skipped: it must keep failing until fixed):
  // the pids cgroup counts the sandbox kernel's own host threads, not the
  // agent's processes, so a bomb is not capped inside gVisor and the sandbox
  // itself dies when its threads reach the cap (exit code 2).
  (sandboxRuntime === "runsc" ? it.fails : it)(
    "a fork bomb: killed when its command ends, reported as the pids cap (N of N), and the next command works",
    async () => {
      // The command returns at once; its bomb fills the pids cgroup behind it.
      const r = await sh(id, ":(){ :|:& };:; sleep 1", { timeoutS: 20 });
      expect(r.sandboxStopped).toBe(false);
      expect(r.timedOut).toBe(false);
      expect(r.pidsExhausted).toEqual({ limit: PIDS });
      await expectCleanAndWorking();
      // The figure is per command: the clean one after it is not blamed.
      expect((await sh(id, "echo calm")).pidsExhausted).toBeNull();
    },
  );
});

describe(`a service outlives its commands (${sandboxRuntime})`, () => {
  it("a service survives the kill after every command, is reached on localhost, and goes with its sandbox", async () => {
    const { containerId: id } = await startSandbox("service", { pids: PIDS });
    let baseline = 0;
    for (let i = 0; i < 50 && (baseline = await processCount(id)) < 3; i++) await new Promise((r) => setTimeout(r, 100));
    const output: string[] = [];
    const service = await runtime.startService(id, {
      name: "web",
      cmd: ["python3", "-m", "http.server", "8130", "--bind", "127.0.0.1"],
      cwd: "/workspace",
      onOutput: (chunk) => output.push(chunk),
    });
    const get =
      "python3 -c \"import urllib.request as u\ntry: print(u.urlopen('http://127.0.0.1:8130/', timeout=5).status)\nexcept OSError: print('refused')\"";
    let first = "";
    for (let i = 0; i < 50 && first !== "200\n"; i++) first = (await sh(id, get)).stdout;
    expect(first).toBe("200\n");
    // Commands come and go (each followed by the kill); the service stays.
    expect(await sh(id, "sleep 300 & echo bg")).toMatchObject({ stdout: "bg\n" });
    expect((await sh(id, get)).stdout).toBe("200\n");
    // Not one of the sandbox's processes: the sandbox is back to its baseline.
    expect(await processCount(id)).toBe(baseline);
    expect(output.join("")).toMatch(/"GET \/ HTTP\/1.1" 200/);

    await runtime.removeSandbox(id);
    expect(await service.exited).not.toBeUndefined();
    const left = await docker().listContainers({ all: true, filters: { label: [`${SERVICE_OF_LABEL}=${id}`] } });
    expect(left).toEqual([]);
  }, 120_000);
});
