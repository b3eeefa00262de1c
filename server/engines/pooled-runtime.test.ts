// The pool's routing: which engine's runtime each call reaches, and how ids,
// snapshot images and stop events are named on the way out. The engines'
// runtimes here are recorders (the routing is what is tested; the Docker side
// of a remote engine is tested against a real second engine in
// test/engines/remote-run.int.test.ts).
import type Docker from "dockerode";
import { describe, expect, it } from "vitest";
import type { SandboxRuntime, SandboxSpec, SandboxStop } from "@/server/sandbox/runtime";
import { PooledRuntime } from "./pooled-runtime";

interface Recorder {
  rt: SandboxRuntime;
  calls: [string, ...unknown[]][];
  stop: (s: SandboxStop) => void;
  unwatched: number;
}

function recorder(name: string, opts: { remote?: boolean; failList?: boolean } = {}): Recorder {
  const r: Recorder = { calls: [], stop: () => undefined, unwatched: 0, rt: undefined as unknown as SandboxRuntime };
  const note =
    (method: string, answer: unknown = undefined) =>
    (...args: unknown[]) => {
      r.calls.push([method, ...args]);
      return Promise.resolve(typeof answer === "function" ? (answer as (...a: unknown[]) => unknown)(...args) : answer);
    };
  r.rt = {
    createSandbox: note("createSandbox", { containerId: `${name}-c1` }),
    exec: note("exec", { exitCode: 0 }),
    killProcesses: note("killProcesses"),
    startService: note("startService", { containerId: `${name}-svc`, name: "web" }),
    stopService: note("stopService"),
    pauseSandbox: note("pauseSandbox", true),
    unpauseSandbox: note("unpauseSandbox"),
    stopSandbox: note("stopSandbox"),
    removeSandbox: note("removeSandbox"),
    inspectSandbox: note("inspectSandbox", null),
    listSandboxes: opts.failList
      ? () => Promise.reject(new Error("connect ECONNREFUSED"))
      : note("listSandboxes", [{ containerId: `${name}-c1`, runId: `run-${name}`, running: true, paused: false }]),
    stats: note("stats", null),
    snapshotSandbox: note("snapshotSandbox", (_id: unknown, tag: unknown) => ({ image: `airlock-snapshot:${String(tag)}`, runId: "r", checkpointId: null })),
    listSnapshots: note("listSnapshots", [{ image: "airlock-snapshot:r-1", runId: "r", checkpointId: "1" }]),
    removeSnapshot: note("removeSnapshot"),
    removeSnapshotLeftovers: note("removeSnapshotLeftovers", 1),
    watchSandboxes: (onStop: (s: SandboxStop) => void) => {
      r.stop = onStop;
      return () => {
        r.unwatched += 1;
      };
    },
    ...(opts.remote
      ? { pullWorkspace: note("pullWorkspace"), pushWorkspace: note("pushWorkspace"), pruneWorkspaceVolumes: note("pruneWorkspaceVolumes", 2) }
      : {}),
  } as unknown as SandboxRuntime;
  return r;
}

function pool(remotes: Record<string, Recorder>) {
  const local = recorder("local");
  const made: string[] = [];
  const p = new PooledRuntime({
    local: local.rt,
    remoteClient: (name) => (remotes[name] ? ({} as Docker) : null),
    makeRemote: (name) => {
      made.push(name);
      return remotes[name]!.rt;
    },
  });
  return { p, local, made };
}

const spec = (over: Partial<SandboxSpec> = {}): SandboxSpec =>
  ({ runId: "r1", image: "airlock-sandbox:abc", workspaceDir: "/data/workspaces/r1", ...over }) as SandboxSpec;

describe("PooledRuntime", () => {
  it("creates a sandbox on the engine the spec names and gives a remote one an '@engine:' id that later calls route by", async () => {
    const rb1 = recorder("rb1", { remote: true });
    const { p, local } = pool({ rb1 });
    const { containerId } = await p.createSandbox(spec({ engine: "rb1" }));
    expect(containerId).toBe("@rb1:rb1-c1");
    expect(rb1.calls[0]).toEqual(["createSandbox", expect.objectContaining({ image: "airlock-sandbox:abc" })]);
    await p.exec(containerId, { cmd: ["true"], timeoutS: 5 });
    await p.pauseSandbox(containerId);
    await p.removeSandbox(containerId);
    expect(rb1.calls.slice(1).map((c) => [c[0], c[1]])).toEqual([
      ["exec", "rb1-c1"],
      ["pauseSandbox", "rb1-c1"],
      ["removeSandbox", "rb1-c1"],
    ]);
    expect((await p.createSandbox(spec())).containerId).toBe("local-c1");
    await p.exec("local-c1", { cmd: ["true"], timeoutS: 5 });
    expect(local.calls.map((c) => [c[0], c[1]])).toEqual([
      ["createSandbox", expect.objectContaining({ runId: "r1" })],
      ["exec", "local-c1"],
    ]);
  });

  it("keeps snapshot images on their engine: a remote snapshot starts only there, a local one only locally", async () => {
    const rb1 = recorder("rb1", { remote: true });
    const { p } = pool({ rb1 });
    const snap = await p.snapshotSandbox("@rb1:rb1-c1", "r1-7");
    expect(snap.image).toBe("@rb1:airlock-snapshot:r1-7");
    await expect(p.createSandbox(spec({ image: snap.image }))).rejects.toThrow(/on engine rb1, not on local/);
    await expect(p.createSandbox(spec({ image: "airlock-snapshot:r1-2", engine: "rb1" }))).rejects.toThrow(/on engine local, not on rb1/);
    expect((await p.createSandbox(spec({ image: snap.image, engine: "rb1" }))).containerId).toBe("@rb1:rb1-c1");
    expect(rb1.calls.at(-1)).toEqual(["createSandbox", expect.objectContaining({ image: "airlock-snapshot:r1-7" })]);
    expect((await p.listSnapshots()).map((s) => s.image)).toEqual(["airlock-snapshot:r-1", "@rb1:airlock-snapshot:r-1"]);
  });

  it("lists every engine's sandboxes with their refs, leaving out an engine that does not answer", async () => {
    const rb1 = recorder("rb1");
    const rb2 = recorder("rb2", { failList: true });
    const { p } = pool({ rb1, rb2 });
    p.engine("rb1");
    p.engine("rb2");
    const listed = await p.listSandboxes();
    expect(listed.map((s) => s.containerId)).toEqual(["local-c1", "@rb1:rb1-c1"]);
    expect(() => p.engine("nope")).toThrow(/Engine nope is not registered/);
  });

  it("looks at every registered engine, not only those used since it was made (a restart's reconciliation sees remote containers)", async () => {
    const rb1 = recorder("rb1");
    const local = recorder("local");
    const p = new PooledRuntime({ local: local.rt, remoteClient: () => ({}) as Docker, makeRemote: () => rb1.rt, registered: () => ["rb1"] });
    expect((await p.listSandboxes()).map((s) => s.containerId)).toEqual(["local-c1", "@rb1:rb1-c1"]);
  });

  it("names a remote engine's stop events by ref, watches engines made later, and stops watching a forgotten one", async () => {
    const rb1 = recorder("rb1");
    const { p, local } = pool({ rb1 });
    const seen: string[] = [];
    const unwatch = p.watchSandboxes((s) => seen.push(s.containerId));
    p.engine("rb1"); // made after the watch began
    const stopped = (containerId: string): SandboxStop => ({ containerId, runId: "r1", exitCode: 0, oomKilled: false, stoppedBecause: null });
    rb1.stop(stopped("rb1-c1"));
    local.stop(stopped("local-c1"));
    expect(seen).toEqual(["@rb1:rb1-c1", "local-c1"]);
    p.forget("rb1");
    expect(rb1.unwatched).toBe(1);
    unwatch();
    expect(local.unwatched).toBe(1);
  });

  it("moves workspaces only for remote sandboxes (nothing on the local engine) and prunes one engine's volumes", async () => {
    const rb1 = recorder("rb1", { remote: true });
    const { p, local } = pool({ rb1 });
    await p.pullWorkspace("local-c1", "/data/workspaces/r1");
    await p.pushWorkspace("local-c1", "/data/workspaces/r1");
    expect(local.calls).toEqual([]);
    await p.pullWorkspace("@rb1:rb1-c1", "/data/workspaces/r1");
    await p.pushWorkspace("@rb1:rb1-c1", "/data/workspaces/r1");
    expect(await p.pruneEngineVolumes("rb1", new Set(["r1"]))).toBe(2);
    expect(await p.pruneEngineVolumes("local", new Set())).toBe(0);
    expect(rb1.calls).toEqual([
      ["pullWorkspace", "rb1-c1", "/data/workspaces/r1"],
      ["pushWorkspace", "rb1-c1", "/data/workspaces/r1"],
      ["pruneWorkspaceVolumes", new Set(["r1"])],
    ]);
  });
});
