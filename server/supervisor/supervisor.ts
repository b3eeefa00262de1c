// The supervisor owns live runs in this process: it starts their containers
// and agent loops, enforces run timeouts, stops runs (the red button),
// expires approvals, and after a restart reconciles runs with containers.
import { and, eq, inArray, notInArray } from "drizzle-orm";
import type { Db } from "@/db/client";
import { runServices, runs, toolCalls, type Run, type RunEvent, type RunState } from "@/db/schema";
import { SYSTEM_ACTOR, type Actor } from "@/server/audit/chain";
import { cancelRunApprovalsInTx, afterApprovalCommit, expireOverdueApprovals } from "@/server/approvals/approvals";
import { announce, onSignal, publishRunEvent } from "@/server/events/bus";
import { runBuiltinAgent } from "@/server/agents/builtin-agent";
import { runExternalAgent } from "@/server/agents/mcp-agent";
import { config, type RuntimeSetting } from "@/server/config/env";
import { projectOfRun } from "@/server/projects/projects";
import { decideRuntime, probeGvisor, type GvisorStatus, type RuntimeDecision } from "@/server/sandbox/runtimes";
import { stopRunServices } from "@/server/services/services";
import type { SandboxRuntime, SandboxStop } from "@/server/sandbox/runtime";
import { engineRef, LOCAL_ENGINE, type EngineHealth } from "@/server/engines/types";
import { engineHealth, onEngineHealthChange, remoteGvisorStatus } from "@/server/engines/health";
import { PooledRuntime } from "@/server/engines/pooled-runtime";
import {
  boundedRuntime,
  engineDownSince,
  engineLostReason,
  liveRunsOn,
  LOST_ENGINE_CALL_MS,
  probeEngineDown,
  removeEngineOrphans,
  runEngine,
} from "@/server/engines/loss";
import { prepareWorkspace } from "@/server/sandbox/workspace";
import { pushRunWorkspace } from "@/server/workspace/remote";
import { sandboxImageName } from "@/server/sandbox/image";
import { controlTools, type FinishSignal } from "@/server/supervisor/control";
import { isTerminal, TERMINAL_STATES, transitionRun, transitionRunInTx } from "@/server/runs/state-machine";
import { ShutdownError, type GatewaySession } from "@/server/tools/gateway";
import { pruneSnapshots, removeRunSnapshots } from "@/server/workspace/snapshots";
import { afterRunFailed, checkpointRunStart, prepareRunWorkspace, recoverInterruptedRollback, scheduleWorkspaceCleanup } from "@/server/workspace/hooks";
import { findRun, requireRun } from "@/server/runs/lookup";
import { RunQueue } from "@/server/runs/queue";
import { QUEUE_CHANGED_SIGNAL } from "@/server/runs/queue-settings";
import { clearRestoreMarker, readRestoreMarker, restoredRunReason } from "@/server/backup/restore-marker";
import { isStorageFull, storageFullMessage } from "@/server/errors/storage";
import { failpoint } from "@/server/faults/failpoints";
import { RESOURCE_SAMPLE_MS, startResourceSampler, type ResourceSampler } from "@/server/runs/resource-history";

interface LiveRun {
  controller: AbortController;
  done: Promise<void>;
  timeout: NodeJS.Timeout | null;
  /** The gateway session of the run's agent, once it exists (its containerId is swapped by a restart from a snapshot). */
  session?: GatewaySession;
}

export interface SupervisorOptions {
  db: Db;
  runtime: SandboxRuntime;
  dataDir?: string;
  image?: string;
  /** How often overdue approvals are expired. */
  sweepMs?: number;
  /** External (MCP) runs end after this long without an MCP request; default AIRLOCK_MCP_IDLE_TIMEOUT_S or 30 min. */
  mcpIdleTimeoutMs?: number;
  /** Which runtime isolates runs (auto | runc | runsc); default AIRLOCK_RUNTIME. */
  runtimeSetting?: RuntimeSetting;
  /**
   * Test seam: what the gVisor probe reports, instead of probing the engine
   * (probeGvisor, cached for the process). Tests inject an "unavailable"
   * result here rather than breaking the engine's gVisor for everyone.
   */
  gvisorProbe?: () => Promise<GvisorStatus>;
  /** How often live runs' resource use is recorded (server/runs/resource-history.ts); 0 turns it off. */
  resourceSampleMs?: number;
  /** Issue 17: how long a remote engine may not answer before its runs fail; default AIRLOCK_ENGINE_LOST_AFTER_S. */
  engineLostAfterMs?: number;
}

export class Supervisor {
  private readonly live = new Map<string, LiveRun>();
  private sweeper: NodeJS.Timeout | null = null;
  private workspaceCleanup: NodeJS.Timeout | null = null;
  private resourceSampler: ResourceSampler | null = null;
  private unwatchSandboxes: (() => void) | null = null;
  private stopping = false;
  /** Issue 17: per remote engine that stopped answering, the timer that fails its runs once the grace has passed. */
  private readonly losingEngines = new Map<string, NodeJS.Timeout>();
  private readonly queue: RunQueue;
  /** Runs started by this process whose state may still read `queued` (they hold slots). */
  private readonly launching = new Set<string>();
  private admissionScheduled = false;
  private unwatchQueue: (() => void) | null = null;
  private unwatchEngines: (() => void) | null = null;
  /** Runs whose failure could not be written (a full disk), retried until it can (see failWhenSpaceReturns). */
  private readonly failingLater = new Map<string, NodeJS.Timeout>();

  constructor(private readonly opts: SupervisorOptions) {
    this.queue = new RunQueue(opts.db);
  }

  get db() {
    return this.opts.db;
  }

  get runtime(): SandboxRuntime {
    return this.opts.runtime;
  }

  /** Starts background duties and reconciles runs left by a previous process. */
  async start(): Promise<void> {
    this.sweeper = setInterval(() => {
      try {
        expireOverdueApprovals(this.db);
      } catch (err) {
        console.error("airlock: approval expiry sweep failed:", err);
      }
      this.scheduleAdmission(); // a backstop: the queue also moves on every run's end and every limit change
    }, this.opts.sweepMs ?? 5000);
    this.sweeper.unref();
    this.workspaceCleanup = scheduleWorkspaceCleanup(this.db);
    const sampleMs = this.opts.resourceSampleMs ?? RESOURCE_SAMPLE_MS;
    if (sampleMs > 0) this.resourceSampler = startResourceSampler(this.db, this.runtime, { intervalMs: sampleMs });
    // Before reconciling, so a container that dies meanwhile is not missed.
    this.unwatchSandboxes = this.runtime.watchSandboxes(
      (stop) => void this.sandboxStopped(stop),
      () => void this.failRunsWithoutSandbox().catch((err: unknown) => console.error("airlock: checking the runs' sandboxes failed:", err)),
    );
    this.unwatchQueue = this.watchQueue();
    this.unwatchEngines = onEngineHealthChange((name, health, previous) => this.engineHealthChanged(name, health, previous));
    await this.reconcile();
  }

  /**
   * Every way a run ends (the state machine's transitions, the red button,
   * a failure, the agent finishing) announces a state event: a run that
   * becomes terminal or leaves the queue frees its slot or moves the queue, so
   * the queue is looked at again. So is a change of the limits.
   */
  private watchQueue(): () => void {
    const offRuns = onSignal("run:*", (payload) => {
      const event = payload as RunEvent;
      if (event.type !== "state") return;
      const { from, to } = event.payload as { from: RunState | null; to: RunState };
      if (isTerminal(to) || from === "queued") this.scheduleAdmission();
    });
    const offSettings = onSignal(QUEUE_CHANGED_SIGNAL, () => this.scheduleAdmission());
    return () => {
      offRuns();
      offSettings();
    };
  }

  /**
   * Issue 17: an engine's health changed. Placement looks again (runs may go
   * there now, or not any more); a lost engine's runs fail; a returning
   * engine's leftovers are removed. The local engine's loss is reported by its
   * sandbox watcher (sandboxStopped), as before the pool.
   */
  private engineHealthChanged(name: string, health: EngineHealth, previous: EngineHealth | null): void {
    if (this.stopping) return;
    this.scheduleAdmission();
    if (name === LOCAL_ENGINE) return;
    // Lost: it stops answering (downSince). Answering but not ready (its sandbox image loading or wrong) only keeps new runs away.
    if (!health.healthy && health.downSince) {
      // Its runs fail once it has not answered for the grace (AIRLOCK_ENGINE_LOST_AFTER_S): a blip shorter than that ends no run.
      const since = health.downSince;
      const graceMs = this.opts.engineLostAfterMs ?? config().engineLostAfterMs;
      clearTimeout(this.losingEngines.get(name));
      const timer = setTimeout(
        () => {
          this.losingEngines.delete(name);
          if (this.stopping || engineHealth(name)?.downSince?.getTime() !== since.getTime()) return; // it answered meanwhile
          void this.failRunsOfLostEngine(name, since).catch((err: unknown) => console.error(`airlock: failing the runs of engine ${name} failed:`, err));
        },
        Math.max(0, since.getTime() + graceMs - Date.now()),
      );
      timer.unref();
      this.losingEngines.set(name, timer);
      return;
    }
    if (!health.downSince) {
      clearTimeout(this.losingEngines.get(name));
      this.losingEngines.delete(name);
    }
    if (health.healthy && (!previous || !previous.healthy)) {
      // Back, or seen for the first time by this process (containers left by runs that ended while it was away or Airlock was down).
      void this.engineReturned(name).catch((err: unknown) => console.error(`airlock: cleaning up engine ${name} after its return failed:`, err));
    }
  }

  /** Every run placed on a lost engine fails with the engine's reason; queued runs are not placed there any more. */
  async failRunsOfLostEngine(engine: string, since: Date): Promise<string[]> {
    const reason = engineLostReason(engine, since);
    const lost = liveRunsOn(this.db, engine);
    await Promise.all(lost.map((run) => this.failRun(run.id, reason, { engine, engineLost: true, engineDownSince: since.toISOString() })));
    return lost.map((r) => r.id);
  }

  /** A lost (or newly seen) engine answers: this instance's containers there whose run is not live go, and its orphaned workspace volumes. */
  async engineReturned(engine: string): Promise<{ containers: string[]; volumes: number }> {
    return removeEngineOrphans(this.db, this.runtime, engine, (runId) => this.live.has(runId));
  }

  /** The runtime for calls about a run: bounded when the run's engine is lost, so ending it never hangs on that engine. */
  private runtimeFor(run: Pick<Run, "engine">): SandboxRuntime {
    const engine = runEngine(run);
    if (!engineDownSince(engine)) return this.opts.runtime;
    return boundedRuntime(this.opts.runtime, LOST_ENGINE_CALL_MS, `engine ${engine}`);
  }

  /** Coalesces the ends of several runs into one look at the queue, outside the transaction that announced them. */
  scheduleAdmission(): void {
    if (this.admissionScheduled || this.stopping) return;
    this.admissionScheduled = true;
    setImmediate(() => {
      this.admissionScheduled = false;
      this.admitQueued();
    });
  }

  /** Starts the queued runs the limits allow now, oldest first; the others get their place and reason. */
  admitQueued(): string[] {
    if (this.stopping) return [];
    let started: string[];
    try {
      started = this.queue.admit(this.launching).start;
    } catch (err) {
      console.error("airlock: the run queue could not be read:", err);
      return [];
    }
    for (const runId of started) this.startRun(runId);
    return started;
  }

  /**
   * A run's container stopped and nothing of ours stopped it: every stop of
   * ours (the red button, the run's end, a restart from a snapshot) first
   * ends the run or points it at another container. Ends the run as failed,
   * so it never keeps saying "running" over a container that is gone.
   */
  private async sandboxStopped(stop: SandboxStop): Promise<void> {
    const run = findRun(this.db, stop.runId);
    if (!run || isTerminal(run.state) || run.containerId !== stop.containerId) return;
    const engine = runEngine(run);
    if (stop.engineLost && engine !== LOCAL_ENGINE) {
      const since = engineDownSince(engine) ?? new Date();
      await this.failRun(run.id, engineLostReason(engine, since), { engine, engineLost: true, engineDownSince: since.toISOString() });
      return;
    }
    const exit = stop.exitCode === null ? "exit code unknown" : `exit code ${stop.exitCode}`;
    const reason = stop.stoppedBecause
      ? `The sandbox was stopped: ${stop.stoppedBecause}.`
      : stop.engineLost
        ? `The Docker engine stopped answering (${stop.engineLost}) and stopped the run's sandbox with it; the run cannot continue. Start the engine again, then start a new run.`
        : `The sandbox container stopped unexpectedly (${exit}${stop.oomKilled ? ", out of memory" : ""}).`;
    await this.failRun(run.id, reason, { sandboxExitCode: stop.exitCode, sandboxOomKilled: stop.oomKilled, ...(stop.engineLost ? { engineLost: true } : {}) });
  }

  /** After the engine's event stream was reopened: stops in the gap were missed. */
  private async failRunsWithoutSandbox(): Promise<void> {
    const running = new Set((await this.runtime.listSandboxes()).filter((c) => c.running).map((c) => c.containerId));
    const active = this.db
      .select()
      .from(runs)
      .where(notInArray(runs.state, [...TERMINAL_STATES]))
      .all();
    for (const run of active) {
      if (!run.containerId || run.state === "queued" || run.state === "starting" || running.has(run.containerId)) continue;
      const fresh = findRun(this.db, run.id);
      if (fresh?.containerId !== run.containerId) continue; // restarted from a snapshot meanwhile
      // The pool leaves an engine that does not answer out of the list: its runs fail for the engine, not for a lost container.
      const downSince = await probeEngineDown(this.db, runEngine(run));
      if (downSince) {
        await this.failRun(run.id, engineLostReason(runEngine(run), downSince), { engine: runEngine(run), engineLost: true });
        continue;
      }
      await this.failRun(
        run.id,
        "The sandbox container stopped while the Docker engine was not answering (it was stopped or restarted); the run cannot continue.",
      );
    }
    // Containers of runs that ended while the engine was away (their removal failed then), or that a restarted engine brought back.
    await this.removeContainersWithoutRun(await this.runtime.listSandboxes());
    await pruneSnapshots(this.db, this.runtime).catch((err: unknown) => console.error("airlock: pruning snapshots failed:", err));
  }

  /** Removes this instance's containers whose run is finished or unknown; returns their ids. */
  private async removeContainersWithoutRun(containers: { containerId: string; runId: string }[]): Promise<string[]> {
    const removed: string[] = [];
    for (const c of containers) {
      if (this.live.has(c.runId)) continue;
      const run = findRun(this.db, c.runId);
      if (run && !isTerminal(run.state)) continue;
      await this.runtime.removeSandbox(c.containerId).catch(() => undefined);
      removed.push(c.containerId);
    }
    return removed;
  }

  isLive(runId: string): boolean {
    return this.live.has(runId);
  }

  /**
   * Points a live run's gateway session at another container (a restart
   * from a snapshot replaced it): the agent's next tool call runs there.
   * false when the run is not driven by this process.
   */
  switchContainer(runId: string, containerId: string): boolean {
    const session = this.live.get(runId)?.session;
    if (!session) return false;
    session.containerId = containerId;
    return true;
  }

  /**
   * A run was queued: it starts in the background when the instance's,
   * its project's and its user's limits and the memory budget allow, in
   * order of creation; until then it waits in `queued` with its reason.
   */
  launch(runId: string): void {
    if (this.live.has(runId) || this.stopping) return;
    this.admitQueued();
  }

  /** Starts driving a run the queue admitted. */
  private startRun(runId: string): void {
    if (this.live.has(runId) || this.stopping) return;
    this.launching.add(runId);
    const controller = new AbortController();
    const entry: LiveRun = { controller, done: Promise.resolve(), timeout: null };
    this.live.set(runId, entry);
    entry.done = this.drive(runId, controller, false)
      .catch((err: unknown) => (controller.signal.aborted ? undefined : this.failRun(runId, driveFailure(err, "Internal error"))))
      .finally(() => {
        if (entry.timeout) clearTimeout(entry.timeout);
        this.live.delete(runId);
      });
    // drive() leaves `queued` before its first await; from here the database says the run holds its slot.
    this.launching.delete(runId);
  }

  private armTimeout(runId: string, run: Run) {
    const entry = this.live.get(runId);
    if (!entry) return;
    const started = run.startedAt?.getTime() ?? Date.now();
    const remaining = Math.max(1000, started + run.limits.runTimeoutS * 1000 - Date.now());
    entry.timeout = setTimeout(() => {
      void this.killRun(runId, SYSTEM_ACTOR, `The run exceeded its time limit of ${run.limits.runTimeoutS} s.`, "failed");
    }, remaining);
    entry.timeout.unref();
  }

  private async drive(runId: string, controller: AbortController, resume: boolean): Promise<void> {
    const { db, runtime } = this.opts;
    let run = findRun(db, runId);
    if (!run || isTerminal(run.state)) return;
    if (!resume) {
      run = transitionRun(db, runId, "starting", SYSTEM_ACTOR, {
        from: ["queued"],
        reason: "starting the sandbox",
        details: { engine: run.engine ?? LOCAL_ENGINE },
      });
      let workspaceDir: string;
      // gVisor or runc (issue 13): a run that requires gVisor fails here with the reason, never falls back to runc.
      let isolation: RuntimeDecision;
      try {
        // Issue 17: on a remote engine gVisor is judged from its listed runtimes (remoteGvisorStatus), not by the local probe.
        const remoteEngine = run.engine && run.engine !== LOCAL_ENGINE ? run.engine : null;
        isolation = await decideRuntime(
          { setting: this.opts.runtimeSetting ?? config().runtime, project: projectOfRun(db, run) },
          remoteEngine
            ? () => Promise.resolve(remoteGvisorStatus(remoteEngine))
            : (this.opts.gvisorProbe ?? (() => probeGvisor(this.opts.image ?? sandboxImageName()))),
        );
      } catch (err) {
        isolation = { ok: false, reason: `The sandbox's runtime could not be chosen: ${(err as Error).message}` };
      }
      if (!isolation.ok) {
        await this.failRun(runId, isolation.reason);
        return;
      }
      try {
        workspaceDir = await prepareWorkspace(this.opts.dataDir ?? config().dataDir, runId);
        // Not a change of state: the start checkpoint below needs to know where the workspace is.
        db.update(runs).set({ workspaceDir, updatedAt: new Date() }).where(eq(runs.id, runId)).run();
      } catch (err) {
        await this.failRun(runId, sandboxStartFailure(err));
        return;
      }
      // The engine creates and starts the container while the workspace is
      // filled (source files, shadow repository) and its start checkpoint is
      // taken (run start, issue 14). Until the agent's session exists below,
      // nothing but Airlock's own sentinel runs in the container and nothing
      // in it touches /workspace, so the workspace cannot change under either,
      // and the sandbox need not be frozen for the checkpoint (the run has no
      // containerId yet, so checkpointWorkspace does not freeze it).
      const [created, prepared] = await Promise.allSettled([
        runtime.createSandbox({
          runId,
          // The image by name on the engine it was placed on (a plain name would mean the local engine's).
          image: engineRef(run.engine ?? LOCAL_ENGINE, this.opts.image ?? sandboxImageName()),
          workspaceDir,
          limits: run.limits,
          runtime: isolation.runtime,
          // Issue 17: where the queue placed it (null: the local engine).
          engine: run.engine ?? LOCAL_ENGINE,
        }),
        (async () => {
          await prepareRunWorkspace(db, runId, workspaceDir); // source files + shadow repository
          await checkpointRunStart(db, runtime, runId);
        })(),
      ]);
      if (created.status === "rejected" || prepared.status === "rejected") {
        if (created.status === "fulfilled") await runtime.removeSandbox(created.value.containerId).catch(() => undefined);
        const failure = (created.status === "rejected" ? created.reason : (prepared as PromiseRejectedResult).reason) as Error;
        await this.failRun(runId, sandboxStartFailure(failure));
        return;
      }
      const containerId = created.value.containerId;
      // Issue 17: on a remote engine the sandbox's /workspace is a volume there: the filled mirror goes in before any agent code runs.
      try {
        await pushRunWorkspace(runtime, { id: runId, engine: run.engine, containerId }, workspaceDir);
      } catch (err) {
        await runtime.removeSandbox(containerId).catch(() => undefined);
        await this.failRun(runId, sandboxStartFailure(err));
        return;
      }
      failpoint("sandbox-started");
      if (controller.signal.aborted) {
        await runtime.removeSandbox(containerId).catch(() => undefined);
        return;
      }
      run = transitionRun(db, runId, "planning", SYSTEM_ACTOR, {
        from: ["starting"],
        reason: "sandbox ready",
        fields: { containerId, workspaceDir, startedAt: new Date(), runtime: isolation.runtime },
        details: { runtime: isolation.runtime, runtimeWhy: isolation.why, engine: run.engine ?? LOCAL_ENGINE },
      });
    } else {
      run = recoverInterruptedRollback(db, run);
    }
    this.armTimeout(runId, run);
    const finish: FinishSignal = { finished: null };
    const session: GatewaySession = {
      db,
      runId,
      runtime,
      containerId: run.containerId!,
      signal: controller.signal,
      control: controlTools(db, runId, controller.signal, finish),
    };
    const liveEntry = this.live.get(runId);
    if (liveEntry) liveEntry.session = session;
    // An external agent (MCP) calls the same gateway session through /api/mcp; its run waits for it here.
    const outcome =
      run.agent === "external"
        ? await runExternalAgent(db, session, finish, { idleTimeoutMs: this.opts.mcpIdleTimeoutMs ?? config().mcpIdleTimeoutMs, resume })
        : await runBuiltinAgent(db, session, finish);
    if (controller.signal.aborted) return; // killRun (or shutdown) owns the ending
    const current = requireRun(db, runId);
    if (isTerminal(current.state)) return;
    transitionRun(db, runId, outcome.status, SYSTEM_ACTOR, {
      reason: outcome.reason,
      fields: { endedReason: outcome.status === "succeeded" ? null : outcome.reason, summary: outcome.summary ?? null, endedBy: "agent" },
    });
    await this.releaseContainer(current);
    await removeRunSnapshots(runtime, runId, db);
    if (outcome.status === "failed") await afterRunFailed(db, runtime, runId);
  }

  private async releaseContainer(run: Run) {
    if (!run.containerId) return;
    await stopRunServices(this.db, this.opts.runtime, run.id, SYSTEM_ACTOR, "the run ended");
    try {
      await this.opts.runtime.stopSandbox(run.containerId);
      await this.opts.runtime.removeSandbox(run.containerId);
    } catch (err) {
      console.error(`airlock: could not remove container of run ${run.id}:`, err);
    }
  }

  /** Ends a run as failed: same path as the stop button (approvals cancelled, container removed). */
  private async failRun(runId: string, reason: string, details?: Record<string, unknown>) {
    const run = findRun(this.db, runId);
    if (!run || isTerminal(run.state)) return;
    try {
      publishRunEvent(this.db, runId, "error", { source: "supervisor", message: reason });
      await this.killRun(runId, SYSTEM_ACTOR, reason, "failed", details);
    } catch (err) {
      if (isStorageFull(err)) this.failWhenSpaceReturns(runId, reason, details);
      else console.error(`airlock: could not mark run ${runId} failed:`, err);
    }
  }

  /**
   * The disk is full, so the run's failure cannot be written: nothing drives
   * the run any more, and it must not keep saying "running" once space is
   * back. Tries again every few seconds until the write goes through (the
   * transaction that ends it either commits whole or not at all).
   */
  private failWhenSpaceReturns(runId: string, reason: string, details?: Record<string, unknown>) {
    if (this.failingLater.has(runId) || this.stopping) return;
    console.error(`airlock: run ${runId} could not be marked failed because the disk is full; trying again every ${FAIL_RETRY_MS / 1000} s`);
    let busy = false;
    const done = () => {
      clearInterval(timer);
      this.failingLater.delete(runId);
    };
    const timer = setInterval(() => {
      if (busy) return;
      busy = true;
      void (async () => {
        const run = findRun(this.db, runId);
        if (!run || isTerminal(run.state) || this.live.has(runId)) return done();
        try {
          publishRunEvent(this.db, runId, "error", { source: "supervisor", message: reason });
          await this.killRun(runId, SYSTEM_ACTOR, reason, "failed", details);
          done();
        } catch (err) {
          if (!isStorageFull(err)) {
            console.error(`airlock: could not mark run ${runId} failed:`, err);
            done();
          }
        }
      })().finally(() => (busy = false));
    }, FAIL_RETRY_MS);
    timer.unref();
    this.failingLater.set(runId, timer);
  }

  /**
   * The red button: marks the run killed (with who and why) and cancels its
   * approvals in one transaction, aborts the agent loop and any command, and
   * kills the container.
   */
  async killRun(runId: string, actor: Actor, reason: string, finalState: "killed" | "failed" = "killed", details?: Record<string, unknown>): Promise<Run> {
    const db = this.db;
    const run = requireRun(db, runId);
    if (isTerminal(run.state)) return run;
    const { events, cancelled } = db.transaction(
      (tx) => {
        const cancelled = cancelRunApprovalsInTx(tx, runId, actor, "the run was stopped");
        const t = transitionRunInTx(tx, runId, finalState, actor, {
          reason,
          fields: { endedReason: reason, endedBy: actor.label },
          details: { stoppedBy: actor.label, ...details },
        });
        return { events: [...cancelled.map((c) => c.event), t.event], cancelled };
      },
      { behavior: "immediate" },
    );
    for (const e of events) announce(e);
    for (const c of cancelled) afterApprovalCommit(c.approval, c.event);
    const live = this.live.get(runId);
    live?.controller.abort(new Error("run stopped"));
    const runtime = this.runtimeFor(run);
    await stopRunServices(db, runtime, runId, SYSTEM_ACTOR, `the run was ${finalState === "killed" ? "stopped" : "failed"}`);
    if (run.containerId) {
      await runtime.stopSandbox(run.containerId).catch((err: unknown) => console.error("airlock: stop failed:", err));
    }
    // Mark calls that were executing as failed: they were killed.
    db.update(toolCalls)
      .set({ state: "failed", errorCode: "RUN_STOPPED", finishedAt: new Date() })
      .where(and(eq(toolCalls.runId, runId), inArray(toolCalls.state, ["executing", "judging", "awaiting_approval", "approved"])))
      .run();
    if (run.containerId) await runtime.removeSandbox(run.containerId).catch(() => undefined);
    await removeRunSnapshots(runtime, runId, db);
    await afterRunFailed(db, runtime, runId); // automatic rollback, when the run asks for it
    return requireRun(db, runId);
  }

  async stopAll(actor: Actor, reason: string): Promise<number> {
    const active = this.db
      .select()
      .from(runs)
      .where(notInArray(runs.state, [...TERMINAL_STATES]))
      .all();
    await Promise.all(active.map((r) => this.killRun(r.id, actor, reason)));
    return active.length;
  }

  /**
   * After a restart: runs whose container still exists resume (waiting runs
   * keep waiting on the same approvals), runs whose container is gone fail,
   * and containers whose run is finished, failed here or unknown are removed.
   */
  async reconcile(): Promise<{ resumed: string[]; failed: string[]; removed: string[] }> {
    const { db, runtime } = this.opts;
    const result = { resumed: [] as string[], failed: [] as string[], removed: [] as string[] };
    // The pool lists the engines it has talked to: those of runs left by the previous process join first.
    if (runtime instanceof PooledRuntime) {
      const placed = db
        .selectDistinct({ engine: runs.engine })
        .from(runs)
        .where(notInArray(runs.state, [...TERMINAL_STATES]))
        .all();
      for (const { engine } of placed) {
        if (!engine || engine === LOCAL_ENGINE) continue;
        try {
          runtime.engine(engine);
        } catch (err) {
          console.error(`airlock: engine ${engine} of a run left by the previous process:`, (err as Error).message);
        }
      }
    }
    const containers = await runtime.listSandboxes();
    const byRun = new Map(containers.map((c) => [c.runId, c]));
    const active = db
      .select()
      .from(runs)
      .where(notInArray(runs.state, [...TERMINAL_STATES]))
      .all();
    // A data directory restored from a backup: the runs active then lost their sandboxes (see server/backup/restore-marker.ts).
    const dataDir = this.opts.dataDir ?? config().dataDir;
    const restored = readRestoreMarker(dataDir);
    const restoredRuns = new Set(restored?.activeRunIds ?? []);
    for (const run of active) {
      if (this.live.has(run.id)) continue;
      if (restored && restoredRuns.has(run.id)) {
        if (!byRun.has(run.id)) {
          // Its container ids are another instance's (the one the backup was taken from, maybe still running on this
          // engine): ending the run must not stop them.
          db.update(runs).set({ containerId: null }).where(eq(runs.id, run.id)).run();
          db.update(runServices).set({ containerId: null }).where(eq(runServices.runId, run.id)).run();
        }
        await this.failRun(run.id, restoredRunReason(restored));
        result.failed.push(run.id);
        continue;
      }
      // Queued runs keep their place: the queue starts them below, in order, once the resumed runs hold their slots.
      if (run.state === "queued") continue;
      const container = run.containerId ? byRun.get(run.id) : undefined;
      // Airlock died while a checkpoint or a rollback had the sandbox frozen: nothing else thaws it, so thaw it here.
      if (container?.paused && container.containerId === run.containerId) {
        await runtime
          .unpauseSandbox(container.containerId)
          .then(() => (container.running = true))
          .catch((err: unknown) => console.error(`airlock: could not thaw the sandbox of run ${run.id}:`, err));
      }
      if (!container || !container.running) {
        // The pool leaves an engine that does not answer out of its list: the run fails for its engine, not for a lost container.
        const downSince = container ? null : await probeEngineDown(db, runEngine(run));
        if (downSince) {
          await this.failRun(run.id, engineLostReason(runEngine(run), downSince), { engine: runEngine(run), engineLost: true });
          result.failed.push(run.id);
          continue;
        }
        const reason =
          run.state === "starting"
            ? "Airlock restarted while the sandbox was starting."
            : "The run's container was lost (Airlock or Docker restarted and the container is gone).";
        await this.failRun(run.id, reason);
        result.failed.push(run.id);
        continue;
      }
      const controller = new AbortController();
      const entry: LiveRun = { controller, done: Promise.resolve(), timeout: null };
      this.live.set(run.id, entry);
      publishRunEvent(db, run.id, "note", { text: "Airlock restarted; the run continues where it was." });
      entry.done = this.drive(run.id, controller, true)
        .catch((err: unknown) => (controller.signal.aborted ? undefined : this.failRun(run.id, driveFailure(err, "Internal error after restart"))))
        .finally(() => {
          if (entry.timeout) clearTimeout(entry.timeout);
          this.live.delete(run.id);
        });
      result.resumed.push(run.id);
    }
    // Containers of runs that are not driven now go, including a run failed above that still has one (K8: killed while its
    // sandbox was starting, the container exists but the run never named it). A restored run's containers, if any are
    // listed, are the original instance's (see above): never removed from here.
    result.removed.push(...(await this.removeContainersWithoutRun(containers.filter((c) => !restoredRuns.has(c.runId)))));
    if (restored) clearRestoreMarker(dataDir); // after every restored run has ended: a crash before this ends the rest next time
    await pruneSnapshots(db, runtime); // of runs that ended while no supervisor was running
    result.resumed.push(...this.admitQueued());
    return result;
  }

  /** SIGTERM: stop driving runs without changing their state; a restart resumes them. */
  async shutdown(): Promise<void> {
    this.stopping = true;
    this.unwatchSandboxes?.();
    this.unwatchSandboxes = null;
    this.unwatchQueue?.();
    this.unwatchQueue = null;
    this.unwatchEngines?.();
    this.unwatchEngines = null;
    if (this.sweeper) clearInterval(this.sweeper);
    if (this.workspaceCleanup) clearInterval(this.workspaceCleanup);
    this.resourceSampler?.stop();
    this.resourceSampler = null;
    for (const timer of this.failingLater.values()) clearInterval(timer);
    this.failingLater.clear();
    for (const timer of this.losingEngines.values()) clearTimeout(timer);
    this.losingEngines.clear();
    const entries = [...this.live.values()];
    for (const e of entries) {
      if (e.timeout) clearTimeout(e.timeout);
      e.controller.abort(new ShutdownError());
    }
    await Promise.race([Promise.allSettled(entries.map((e) => e.done)), new Promise((r) => setTimeout(r, 5000))]);
  }

  /** Waits for a run's loop to end (tests). */
  async settled(runId: string): Promise<void> {
    await this.live.get(runId)?.done;
  }
}

/** How often a run whose failure could not be written (a full disk) is tried again. */
const FAIL_RETRY_MS = 2000;

/** A run's reason when its sandbox or workspace could not be made: a full disk said as everywhere else. */
function sandboxStartFailure(err: unknown): string {
  if (isStorageFull(err)) return storageFullMessage("the run's sandbox and workspace could not be set up");
  return `The sandbox could not start: ${(err as Error).message}`;
}

/** A run's reason when its loop threw: a full disk said plainly, anything else as an internal error. */
function driveFailure(err: unknown, prefix: string): string {
  if (isStorageFull(err)) return storageFullMessage("the run could not record its work and was stopped");
  return `${prefix}: ${(err as Error).message}`;
}

const g = globalThis as unknown as { __airlockSupervisor?: Supervisor };

export function getSupervisor(): Supervisor | undefined {
  return g.__airlockSupervisor;
}

export function setSupervisor(s: Supervisor | undefined): void {
  g.__airlockSupervisor = s;
}
