// Run start (issue 14, benchmark 1): from `runs.create` (the tRPC procedure a
// user's click calls, through the supervisor it triggers) until the run's
// container runs and the agent's first model request arrives at the scripted
// model server (real HTTP on loopback), against the raw baseline: create +
// start of the same image through the engine API (dockerode, not the docker
// CLI), under the same runtime, with the sandbox's hardening and limits, whose
// first process makes one HTTP request to a listener on the host (a unix
// socket bind-mounted in, since the sandbox has no network). Both sides end
// when the first request arrives. Rounds alternate Airlock/raw and runc/runsc
// so load that drifts hits every side alike.
//
// The first model request needs no human: the plan is something the agent
// submits later (awaiting_plan_approval comes after its first turns), so this
// is the request a run makes right after the sandbox is ready. Each Airlock
// round also records where its time went (queue admission, workspace and
// shadow repository, engine create/start, the start checkpoint, the agent's
// first request), from the run's state events and the runtime's own calls.
// Asserts nothing about timings.
//
//   npx tsx bench/runstart.bench.ts [iterations]
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import type Docker from "dockerode";
import type { RunEvent, RunState, SandboxRuntimeName } from "@/db/schema";
import { migrateDatabase, openDatabase } from "@/db/client";
import { appRouter } from "@/server/api/root";
import { getRunView } from "@/server/runs/runs";
import { createCallerFactory } from "@/server/api/trpc";
import { onSignal } from "@/server/events/bus";
import { addProjectMember, createProject } from "@/server/projects/projects";
import { docker } from "@/server/sandbox/docker";
import { sandboxImageName } from "@/server/sandbox/image";
import { AGENT_GID, AGENT_UID, AGENT_USER } from "@/server/sandbox/layout";
import { DEFAULT_LIMITS, dockerRuntime, instanceIdForDataDir, type SandboxRuntime } from "@/server/sandbox/runtime";
import { prepareWorkspace } from "@/server/sandbox/workspace";
import { setSupervisor, Supervisor } from "@/server/supervisor/supervisor";
import { startScriptedModelServer } from "@/test/helpers/model-server";
import { registerModel, roomyQueue } from "@/test/helpers/runs";
import { actorOf, addUser, identityOfToken, issueToken } from "@/test/helpers/users";
import { note, numericArgs, params, record, compare } from "./support";

const [iterations] = numericArgs(10);
const WARMUP = 2;
const RUNTIMES: SandboxRuntimeName[] = ["runc", "runsc"];
const SOCKET_DIR_IN_SANDBOX = "/run/airlock-bench";

/**
 * The sandbox's hardening and limits (as bench/sandbox.bench.ts), with a
 * first process that makes one HTTP request over the mounted socket. gVisor
 * refuses connections to host unix sockets (runsc --host-uds=none, the
 * default), so under runsc the first process instead creates a file in the
 * workspace, which the host sees through inotify.
 */
function rawConfig(image: string, workspaceDir: string, socketDir: string, runtime: SandboxRuntimeName, marker: string): Docker.ContainerCreateOptions {
  const limits = DEFAULT_LIMITS;
  const request =
    runtime === "runsc"
      ? `open("/workspace/${marker}", "w").close()\n`
      : "import socket\n" +
        "s = socket.socket(socket.AF_UNIX)\n" +
        `s.connect("${SOCKET_DIR_IN_SANDBOX}/model.sock")\n` +
        'body = b\'{"model":"raw","messages":[]}\'\n' +
        's.sendall(b"POST /v1/chat/completions HTTP/1.1\\r\\nHost: model\\r\\nContent-Type: application/json\\r\\nContent-Length: " + str(len(body)).encode() + b"\\r\\n\\r\\n" + body)\n' +
        "s.recv(64)\n";
  return {
    Image: image,
    Entrypoint: ["python3", "-S", "-c", request],
    Cmd: [],
    User: AGENT_USER,
    WorkingDir: "/workspace",
    Labels: { "airlock.bench": "true" },
    HostConfig: {
      ...(runtime === "runsc" ? { Runtime: "runsc" } : {}),
      Init: true,
      Mounts: [
        { Type: "bind", Source: workspaceDir, Target: "/workspace", ReadOnly: false },
        { Type: "bind", Source: socketDir, Target: SOCKET_DIR_IN_SANDBOX, ReadOnly: true },
      ],
      ReadonlyRootfs: true,
      Tmpfs: { "/tmp": "rw,exec,nosuid,nodev,size=256m", "/home/agent": `rw,nosuid,nodev,size=256m,uid=${AGENT_UID},gid=${AGENT_GID}` },
      CapDrop: ["ALL"],
      SecurityOpt: ["no-new-privileges"],
      NetworkMode: "none",
      IpcMode: "private",
      Memory: limits.memoryMb * 1024 * 1024,
      MemorySwap: limits.memoryMb * 1024 * 1024,
      NanoCpus: Math.round(limits.cpus * 1e9),
      PidsLimit: limits.pids,
      LogConfig: { Type: "none", Config: {} },
    },
  };
}

/** A runtime that notes when each of its calls began and ended (the per-step breakdown); behaviour unchanged. */
function timedRuntime(inner: SandboxRuntime, calls: { method: string; start: number; end: number }[]): SandboxRuntime {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== "function" || prop === "watchSandboxes") return v;
      return (...args: unknown[]) => {
        const start = performance.now();
        const out = (v as (...a: unknown[]) => unknown).apply(target, args);
        if (out instanceof Promise) {
          return out.finally(() => calls.push({ method: String(prop), start, end: performance.now() }));
        }
        return out;
      };
    },
  });
}

function order<T>(items: readonly T[], i: number, every: number): readonly T[] {
  return Math.floor((i + 100) / every) % 2 === 0 ? items : [...items].reverse();
}

async function main(): Promise<void> {
  const image = sandboxImageName();
  const engine = docker();
  const offered = Object.keys(((await engine.info()) as { Runtimes?: Record<string, unknown> }).Runtimes ?? {});
  const runtimes = RUNTIMES.filter((rt) => rt === "runc" || offered.includes(rt));
  if (runtimes.length < RUNTIMES.length) note(`the engine offers no runsc runtime (it offers ${offered.join(", ")}): runc only`);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-runstart-"));
  process.env.AIRLOCK_DATA_DIR = dataDir; // shadow repositories and workspaces live under the data directory
  const db = openDatabase(path.join(dataDir, "airlock.db"));
  migrateDatabase(db);
  roomyQueue(db);
  const socketDir = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-runstart-sock-"));
  fs.chmodSync(socketDir, 0o755);
  const live = new Set<string>();
  const removeContainer = async (id: string) => {
    await engine
      .getContainer(id)
      .remove({ force: true, v: true })
      .catch(() => undefined);
    live.delete(id);
  };

  // The raw side's listener: resolves the round's waiter when the request arrives.
  let rawArrived: (() => void) | null = null;
  const listener = http.createServer((req, res) => {
    rawArrived?.();
    req.resume();
    res.end("{}");
  });
  const socketPath = path.join(socketDir, "model.sock");
  await new Promise<void>((resolve) => listener.listen(socketPath, resolve));
  fs.chmodSync(socketPath, 0o777);

  // Airlock's side: the scripted model server; a request is matched to its round by the task's nonce. It never answers (the run is stopped untimed).
  const arrivals = new Map<string, () => void>();
  const model = await startScriptedModelServer((req) => {
    const text = JSON.stringify(req.body.messages);
    for (const [nonce, arrived] of arrivals) if (text.includes(nonce)) arrived();
    return { type: "hang" };
  });

  const calls: { method: string; start: number; end: number }[] = [];
  const runtime = timedRuntime(dockerRuntime(undefined, { instance: instanceIdForDataDir(dataDir) }), calls);
  const supervisor = new Supervisor({ db, runtime, dataDir, image, runtimeSetting: "runc", sweepMs: 1000 });
  setSupervisor(supervisor);
  const events: { runId: string; type: string; to?: RunState; at: number }[] = [];
  const offEvents = onSignal("run:*", (payload) => {
    const e = payload as RunEvent;
    events.push({ runId: e.runId, type: e.type, to: e.type === "state" ? (e.payload as { to: RunState }).to : undefined, at: performance.now() });
  });

  params({ image, iterations, warmup: WARMUP });
  console.log(`run start benchmark: image ${image}, runtimes ${runtimes.join(" and ")}, ${iterations} rounds per side, ${os.cpus().length} CPUs`);
  try {
    await supervisor.start();
    const admin = await addUser(db, "admin");
    const operator = await addUser(db, "operator");
    const modelId = registerModel(db, admin, model.baseUrl);
    // runc is the instance's setting; a project that requires gVisor gets its runs under runsc.
    const gvisorProject = createProject(db, actorOf(admin), { slug: "bench-gvisor", name: "Bench gVisor", runtime: "runsc" });
    addProjectMember(db, actorOf(admin), { projectId: gvisorProject.id, email: operator.email });
    const identity = await identityOfToken(db, issueToken(db, operator.id).token);
    const caller = createCallerFactory(appRouter)({ db, identity, sourceIp: "127.0.0.1" });
    const rawWorkspace = await prepareWorkspace(dataDir, "raw-bench");

    const airlock: Record<string, number[]> = { runc: [], runsc: [] };
    const raw: Record<string, number[]> = { runc: [], runsc: [] };
    const steps: Record<string, Record<string, { label: string; samples: number[] }>> = { runc: {}, runsc: {} };
    let seq = 0;
    for (let i = -WARMUP; i < iterations; i++) {
      for (const rt of order(runtimes, i, 1)) {
        for (const side of order(["airlock", "raw"] as const, i, 2)) {
          let ms: number;
          if (side === "airlock") {
            const nonce = `round-${process.pid}-${seq++}`;
            const arrived = new Promise<void>((resolve) => arrivals.set(nonce, resolve));
            calls.length = 0;
            events.length = 0;
            const t0 = performance.now();
            const { id } = await caller.runs.create({
              title: "run start bench",
              task: `start and ask the model (${nonce})`,
              modelId,
              ...(rt === "runsc" ? { projectId: gvisorProject.id } : {}),
            });
            await Promise.race([
              arrived,
              new Promise((_, reject) =>
                setTimeout(() => {
                  const run = getRunView(db, id);
                  reject(new Error(`run ${id}: no model request within 60 s; it is ${run.state}: ${run.endedReason ?? ""}`));
                }, 60_000),
              ),
            ]);
            const t1 = performance.now();
            ms = t1 - t0;
            arrivals.delete(nonce);
            // Where the time went (from the run's events and the runtime's calls).
            const at = (type: string, to?: RunState) => events.find((e) => e.runId === id && e.type === type && (to === undefined || e.to === to))?.at;
            const create = calls.find((c) => c.method === "createSandbox");
            const starting = at("state", "starting");
            const planning = at("state", "planning");
            const checkpoint = at("checkpoint");
            if (i >= 0 && starting !== undefined && planning !== undefined && checkpoint !== undefined && create) {
              const add = (key: string, label: string, v: number) => (steps[rt]![key] ??= { label, samples: [] }).samples.push(v);
              add("admission", "runs.create → starting (tRPC, insert, queue admission)", starting - t0);
              add("workspace", "starting → createSandbox called (runtime choice, workspace directory)", create.start - starting);
              add("createSandbox", "createSandbox (image inspect, engine create + start)", create.end - create.start);
              add(
                "checkpoint",
                "createSandbox called → start checkpoint recorded (source files, shadow repository, checkpoint; alongside createSandbox)",
                checkpoint - create.start,
              );
              add("ready", "both done → planning (state transition)", planning - Math.max(create.end, checkpoint));
              add("agent", "planning → first model request (agent start, HTTP)", t1 - planning);
              for (const c of calls.filter((c) => c.start >= create.end && c.end <= t1))
                add(`runtime.${c.method}`, `runtime.${c.method} after the sandbox started`, c.end - c.start);
            }
            await supervisor.killRun(id, { userId: null, label: "bench" }, "bench round over").catch(() => undefined);
            await supervisor.settled(id);
          } else {
            let id = "";
            const marker = `arrived-${seq++}`;
            let watcher: fs.FSWatcher | undefined;
            const arrived = new Promise<void>((resolve) => {
              rawArrived = resolve;
              if (rt === "runsc") watcher = fs.watch(rawWorkspace, (_event, name) => name === marker && resolve());
            });
            const t0 = performance.now();
            const c = await engine.createContainer(rawConfig(image, rawWorkspace, socketDir, rt, marker));
            id = c.id;
            live.add(id);
            await c.start();
            await Promise.race([
              arrived,
              new Promise((_, reject) =>
                setTimeout(() => {
                  void c
                    .inspect()
                    .then((info) => reject(new Error(`raw container (${rt}): no request within 60 s; state ${JSON.stringify(info.State)}`)), reject);
                }, 60_000),
              ),
            ]);
            ms = performance.now() - t0;
            rawArrived = null;
            watcher?.close();
            await removeContainer(id);
          }
          if (i >= 0) (side === "airlock" ? airlock : raw)[rt]!.push(ms);
        }
      }
    }

    const medians: Record<string, number> = {};
    for (const rt of runtimes) {
      const e = record({
        id: `runStart.${rt}`,
        label: "run start: runs.create → first model request",
        runtime: rt,
        samples: airlock[rt]!,
        baseline: { label: "engine API create + start → first process's HTTP request", samples: raw[rt]!, paired: true },
        ...(rt === "runc" ? { target: { metric: "ratio" as const, max: 1.3, source: "issue 14" } } : {}),
      });
      medians[rt] = e.airlock.median;
      if (rt === "runc") {
        record({
          id: `runStart.${rt}.median`,
          label: "run start: runs.create → first model request (median)",
          runtime: rt,
          samples: airlock[rt]!,
          target: { metric: "median", max: 1000, source: "issue 14" },
        });
      }
      for (const [key, { label, samples }] of Object.entries(steps[rt]!)) {
        record({ id: `runStart.${rt}.step.${key}`, label: `  ${label}`, runtime: rt, samples });
      }
    }
    if (medians.runc && medians.runsc) compare("runStart.gvisor", "gVisor cost, run start, Airlock (runsc/runc)", medians.runsc, medians.runc);
    note(
      "Airlock's run goes through the tRPC caller of runs.create as the operator (queue admission, workspace, shadow repository, engine create/start, start checkpoint, agent start) " +
        "and ends when the scripted model server receives the first chat completion; the raw container has the same image, runtime, hardening and limits, " +
        "and its first process (python3 -S) makes one HTTP request to a listener on a bind-mounted unix socket (the sandbox has no network); under runsc, which refuses host unix sockets, it creates a file in the workspace instead, seen by inotify. Stopping and removal are untimed. " +
        "runsc runs belong to a project that requires gVisor (the instance is set to runc).",
    );
  } finally {
    offEvents();
    await supervisor.stopAll({ userId: null, label: "bench-cleanup" }, "bench cleanup").catch(() => undefined);
    await supervisor.shutdown();
    setSupervisor(undefined);
    await Promise.all([...live].map(removeContainer));
    await model.close();
    listener.close();
    db.$client.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(socketDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
