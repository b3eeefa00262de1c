// Issue 17: one SandboxRuntime over every engine of the pool. The supervisor,
// the tools and the workspace code keep talking to "the runtime"; this one
// sends each call to the engine the container lives on. Containers, services
// and snapshot images of a remote engine are known by "@<engine>:<id>"
// (types.ts: engineRef/parseEngineRef); local ones keep their plain ids.
import type Docker from "dockerode";
import type { Db } from "@/db/client";
import { dockerClientFor, engineConfig, engineConfigs } from "./registry";
import { withTimeout } from "@/server/sandbox/docker";
import { dockerRuntime, SNAPSHOT_REPO, type SandboxRuntime, type SandboxSpec, type SandboxStop, type SnapshotSummary } from "@/server/sandbox/runtime";
import { engineRef, LOCAL_ENGINE, parseEngineRef } from "./types";

export interface PooledRuntimeOptions {
  /** The local engine's runtime. */
  local: SandboxRuntime;
  instance?: string;
  /**
   * The client of a remote engine by name (null: no such engine). Asked once
   * per engine; `forget(name)` drops the cached runtime (endpoint or
   * credentials changed, engine deleted).
   */
  remoteClient: (engine: string) => Docker | null;
  /** Makes a remote engine's runtime (tests pass their own); default dockerRuntime(client, { instance, remote }). */
  makeRemote?: (engine: string, client: Docker) => SandboxRuntime;
  /**
   * The remote engines registered now (asked by every look over all engines:
   * listSandboxes, listSnapshots…). Without it only engines used since the
   * pool was made are looked at, and after a restart the reconciliation
   * would not see a remote engine's containers.
   */
  registered?: () => string[];
}

/** How long a look over every engine waits for one remote engine. */
const REMOTE_LOOK_MS = 10_000;

type Watcher = { onStop: (stop: SandboxStop) => void; onResync?: () => void; unwatch: Map<string, () => void> };

export class PooledRuntime implements SandboxRuntime {
  private readonly remotes = new Map<string, SandboxRuntime>();
  private readonly watchers = new Set<Watcher>();

  constructor(private readonly opts: PooledRuntimeOptions) {}

  /** The runtime of one engine; throws naming the engine when it is unknown. */
  engine(name: string): SandboxRuntime {
    if (name === LOCAL_ENGINE) return this.opts.local;
    const known = this.remotes.get(name);
    if (known) return known;
    const client = this.opts.remoteClient(name);
    if (!client) throw new Error(`Engine ${name} is not registered (Settings → Engines).`);
    const rt = this.opts.makeRemote ? this.opts.makeRemote(name, client) : dockerRuntime(client, { instance: this.opts.instance, remote: { engine: name } });
    this.remotes.set(name, rt);
    for (const w of this.watchers) this.attach(w, name, rt);
    return rt;
  }

  /** The local engine, then every registered remote engine and any other one used so far. */
  engines(): string[] {
    const names = new Set<string>([LOCAL_ENGINE, ...(this.opts.registered?.() ?? []), ...this.remotes.keys()]);
    return [...names];
  }

  /** Drops a remote engine's runtime (and its event watch); the next call makes it again. */
  forget(name: string): void {
    this.remotes.delete(name);
    for (const w of this.watchers) {
      w.unwatch.get(name)?.();
      w.unwatch.delete(name);
    }
  }

  private route(ref: string): { rt: SandboxRuntime; engine: string; id: string } {
    const { engine, id } = parseEngineRef(ref);
    return { rt: this.engine(engine), engine, id };
  }

  private attach(w: Watcher, engine: string, rt: SandboxRuntime): void {
    w.unwatch.set(
      engine,
      rt.watchSandboxes((stop) => w.onStop({ ...stop, containerId: engineRef(engine, stop.containerId) }), w.onResync),
    );
  }

  /** Every engine (see engines()); one that does not answer is left out (and logged), never failing the whole look. */
  private async each<T>(fn: (rt: SandboxRuntime, engine: string) => Promise<T[]>): Promise<T[]> {
    const out = await Promise.all(
      this.engines().map(async (name) => {
        if (name === LOCAL_ENGINE) return fn(this.engine(name), name);
        // A remote engine that is gone must not stall the look (reconcile, snapshot pruning): TCP may take minutes to give up.
        try {
          return await withTimeout(fn(this.engine(name), name), REMOTE_LOOK_MS, `engine ${name}`);
        } catch (err) {
          console.error(`airlock: engine ${name} did not answer:`, (err as Error).message);
          return [];
        }
      }),
    );
    return out.flat();
  }

  async createSandbox(spec: SandboxSpec) {
    const engine = spec.engine ?? LOCAL_ENGINE;
    // A snapshot image of a remote engine is "@engine:airlock-snapshot:tag": it can only start there. A plain
    // name (the sandbox image) is on every engine; a plain snapshot name is the local engine's.
    const image = parseEngineRef(spec.image);
    const pinned = image.engine !== LOCAL_ENGINE || spec.image.startsWith(`${SNAPSHOT_REPO}:`);
    if (pinned && image.engine !== engine) throw new Error(`The image ${spec.image} is on engine ${image.engine}, not on ${engine}.`);
    const { containerId } = await this.engine(engine).createSandbox({ ...spec, image: image.id });
    return { containerId: engineRef(engine, containerId) };
  }

  exec(containerId: string, opts: Parameters<SandboxRuntime["exec"]>[1]) {
    const { rt, id } = this.route(containerId);
    return rt.exec(id, opts);
  }

  killProcesses(containerId: string) {
    const { rt, id } = this.route(containerId);
    return rt.killProcesses(id);
  }

  get startResident(): SandboxRuntime["startResident"] {
    // Present when the local runtime has it; a remote engine's runtime may not (then it throws as under gVisor).
    if (!this.opts.local.startResident) return undefined;
    return (containerId, cmd) => {
      const { rt, id } = this.route(containerId);
      if (!rt.startResident) return Promise.reject(new Error("No resident helper on this engine."));
      return rt.startResident(id, cmd);
    };
  }

  async startService(containerId: string, opts: Parameters<SandboxRuntime["startService"]>[1]) {
    const { rt, engine, id } = this.route(containerId);
    const handle = await rt.startService(id, opts);
    return { ...handle, containerId: engineRef(engine, handle.containerId) };
  }

  stopService(serviceContainerId: string) {
    const { rt, id } = this.route(serviceContainerId);
    return rt.stopService(id);
  }

  pauseSandbox(containerId: string) {
    const { rt, id } = this.route(containerId);
    return rt.pauseSandbox(id);
  }

  unpauseSandbox(containerId: string) {
    const { rt, id } = this.route(containerId);
    return rt.unpauseSandbox(id);
  }

  stopSandbox(containerId: string) {
    const { rt, id } = this.route(containerId);
    return rt.stopSandbox(id);
  }

  removeSandbox(containerId: string) {
    const { rt, id } = this.route(containerId);
    return rt.removeSandbox(id);
  }

  inspectSandbox(containerId: string) {
    const { rt, id } = this.route(containerId);
    return rt.inspectSandbox(id);
  }

  listSandboxes() {
    return this.each(async (rt, engine) => (await rt.listSandboxes()).map((s) => ({ ...s, containerId: engineRef(engine, s.containerId) })));
  }

  stats(containerId: string) {
    const { rt, id } = this.route(containerId);
    return rt.stats(id);
  }

  async snapshotSandbox(containerId: string, tag: string, opts?: { checkpointId?: string }): Promise<SnapshotSummary> {
    const { rt, engine, id } = this.route(containerId);
    const snap = await rt.snapshotSandbox(id, tag, opts);
    return { ...snap, image: engineRef(engine, snap.image) };
  }

  listSnapshots(runId?: string) {
    return this.each(async (rt, engine) => (await rt.listSnapshots(runId)).map((s) => ({ ...s, image: engineRef(engine, s.image) })));
  }

  removeSnapshot(image: string) {
    const { rt, id } = this.route(image);
    return rt.removeSnapshot(id);
  }

  async removeSnapshotLeftovers() {
    const counts = await this.each(async (rt) => [await rt.removeSnapshotLeftovers()]);
    return counts.reduce((a, b) => a + b, 0);
  }

  /** A remote engine's sandbox → the host mirror; nothing on the local engine (the mirror is the workspace). */
  async pullWorkspace(containerId: string, hostDir: string): Promise<void> {
    const { rt, id } = this.route(containerId);
    await rt.pullWorkspace?.(id, hostDir);
  }

  /** The host mirror → a remote engine's sandbox; nothing on the local engine. */
  async pushWorkspace(containerId: string, hostDir: string): Promise<void> {
    const { rt, id } = this.route(containerId);
    await rt.pushWorkspace?.(id, hostDir);
  }

  /** A remote sandbox's workspace digest (null on the local engine, whose mirror is the workspace). */
  async workspaceListing(containerId: string): Promise<string | null> {
    const { rt, id } = this.route(containerId);
    return (await rt.workspaceListing?.(id)) ?? null;
  }

  /** Workspace volumes of one remote engine whose run is not in keep (0 on the local engine, which has none). */
  async pruneEngineVolumes(engine: string, keep: ReadonlySet<string>): Promise<number> {
    return (await this.engine(engine).pruneWorkspaceVolumes?.(keep)) ?? 0;
  }

  watchSandboxes(onStop: (stop: SandboxStop) => void, onResync?: () => void): () => void {
    const w: Watcher = { onStop, onResync, unwatch: new Map() };
    this.watchers.add(w);
    this.attach(w, LOCAL_ENGINE, this.opts.local);
    for (const [name, rt] of this.remotes) this.attach(w, name, rt);
    return () => {
      this.watchers.delete(w);
      for (const un of w.unwatch.values()) un();
      w.unwatch.clear();
    };
  }
}

/** The pool as the dashboard runs it: the local engine and every registered one, their clients made from the engines table. */
export function enginePoolRuntime(db: Db, instance: string): PooledRuntime {
  return new PooledRuntime({
    local: dockerRuntime(undefined, { instance }),
    instance,
    remoteClient: (name) => {
      const cfg = engineConfig(db, name);
      return cfg && !cfg.local ? dockerClientFor(cfg) : null;
    },
    registered: () => engineConfigs(db).flatMap((cfg) => (cfg.local ? [] : [cfg.name])),
  });
}
