// Policy work whose cost an untrusted input decides (a draft's YAML and
// regexes, a simulated or agent-supplied shell command) runs in a worker
// thread with a hard time limit: the main thread serves every request and
// stream, and V8 cannot interrupt a running parse or match (issue 9: one
// viewer's draft froze the server for ten minutes). On timeout the worker is
// terminated and a fresh one serves the next task.
//
// The worker is a plain .mjs file found from the working directory, like the
// migrations (db/client.ts), so the same file runs under vitest, tsx and the
// `next build` output (whose bundles do not contain it); it loads the policy
// code through tsx, a runtime dependency.
import path from "node:path";
import { Worker } from "node:worker_threads";
import { DomainError } from "@/server/errors/domain-error";

export const POLICY_WORKER_FILE = path.join(process.cwd(), "server", "policy", "worker", "policy-worker.mjs");

/** How long one draft check, simulation or replay may take. */
export const DRAFT_TIME_LIMIT_MS = 10_000;
/** How long judging one agent call may take; the gateway denies what takes longer. */
export const JUDGE_TIME_LIMIT_MS = 5_000;
/** Tasks that may wait for one lane; more are refused rather than piled up. */
const MAX_QUEUED = 32;

export type PolicyTaskKind = "validateDraft" | "simulate" | "judge";

export class PolicyTaskTimeout extends DomainError {
  constructor(
    readonly limitMs: number,
    message: string,
  ) {
    super("INVALID_INPUT", message);
  }
}

interface Pending {
  id: number;
  kind: PolicyTaskKind;
  payload: unknown;
  limitMs: number;
  timeoutMessage: string;
  resolve(value: unknown): void;
  reject(error: Error): void;
}

type WorkerReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: { message: string; stack?: string } } | { ready: true };

/**
 * One worker and its queue. Drafts and the agent's calls get separate lanes,
 * so a reviewer's slow draft never delays the gateway.
 */
class PolicyLane {
  private worker: Worker | null = null;
  private ready: Promise<void> | null = null;
  private running: Pending | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly queue: Pending[] = [];
  private nextId = 1;

  constructor(private readonly name: string) {}

  run<T>(kind: PolicyTaskKind, payload: unknown, limitMs: number, timeoutMessage: string): Promise<T> {
    if (this.queue.length >= MAX_QUEUED) {
      return Promise.reject(new DomainError("TOO_MANY_ATTEMPTS", `Airlock is already checking ${MAX_QUEUED} ${this.name}; try again in a few seconds.`));
    }
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, kind, payload, limitMs, timeoutMessage, resolve: resolve as (v: unknown) => void, reject });
      void this.pump();
    });
  }

  /** Stops the worker (tests, shutdown); queued tasks fail. */
  async stop(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    this.ready = null;
    for (const task of this.queue.splice(0)) task.reject(new Error("the policy worker was stopped"));
    if (worker) await worker.terminate();
  }

  private start(): Promise<void> {
    if (this.ready) return this.ready;
    // Reflect.construct keeps Next's bundler from following the file: it would
    // bundle the worker and tsx into the server chunks, which then fail to build.
    const worker: Worker = Reflect.construct(Worker, [POLICY_WORKER_FILE, { name: `airlock-policy-${this.name}` }]);
    this.worker = worker;
    this.ready = new Promise<void>((resolve, reject) => {
      worker.on("message", (reply: WorkerReply) => {
        if ("ready" in reply) return resolve();
        this.finish(reply);
      });
      worker.on("error", (error) => {
        reject(error);
        this.crashed(worker, error);
      });
      worker.on("exit", (code) => {
        reject(new Error(`the policy worker exited with code ${code} before it was ready`));
        this.crashed(worker, new Error(`the policy worker exited with code ${code}`));
      });
    });
    return this.ready;
  }

  private async pump(): Promise<void> {
    // An idle worker must not keep a CLI or test process alive.
    if (!this.running && this.queue.length === 0) this.worker?.unref();
    if (this.running || this.queue.length === 0) return;
    this.worker?.ref();
    const task = this.queue.shift()!;
    this.running = task;
    try {
      await this.start();
    } catch (error) {
      this.running = null;
      task.reject(new Error(`the policy worker could not start: ${(error as Error).message}`));
      void this.pump();
      return;
    }
    if (this.running !== task) return; // stopped meanwhile
    // The clock starts when the worker can work, so its start-up never counts against a task.
    this.timer = setTimeout(() => this.timedOut(task), task.limitMs);
    try {
      this.worker!.postMessage({ id: task.id, kind: task.kind, payload: task.payload });
    } catch (error) {
      // A payload the structured clone cannot copy (F2: nested thousands of levels deep) fails this
      // task at once; unguarded it was an unhandled rejection and the lane stalled until the timeout.
      this.settle();
      task.reject(new DomainError("INVALID_INPUT", `This input cannot be checked by the policy worker: ${(error as Error).message}.`));
      void this.pump();
    }
  }

  private finish(reply: Exclude<WorkerReply, { ready: true }>): void {
    const task = this.running;
    if (!task || task.id !== reply.id) return;
    this.settle();
    if (reply.ok) task.resolve(reply.value);
    else task.reject(Object.assign(new Error(reply.error.message), { stack: reply.error.stack }));
    void this.pump();
  }

  private timedOut(task: Pending): void {
    if (this.running !== task) return;
    this.settle();
    const worker = this.worker;
    this.worker = null;
    this.ready = null;
    if (worker) {
      worker.removeAllListeners();
      worker.on("error", () => undefined);
      void worker.terminate();
    }
    task.reject(new PolicyTaskTimeout(task.limitMs, task.timeoutMessage));
    void this.pump();
  }

  private crashed(worker: Worker, error: Error): void {
    if (this.worker !== worker) return;
    this.worker = null;
    this.ready = null;
    const task = this.running;
    this.settle();
    task?.reject(new Error(`the policy worker stopped: ${error.message}`));
    void this.pump();
  }

  private settle(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.running = null;
  }
}

type Lanes = { drafts: PolicyLane; agent: PolicyLane };
const globalLanes = globalThis as unknown as { __airlockPolicyLanes?: Lanes };

function lanes(): Lanes {
  // One pair per process, whichever Next entry asks first (DESIGN.md: singletons on globalThis).
  globalLanes.__airlockPolicyLanes ??= { drafts: new PolicyLane("policy drafts and simulations"), agent: new PolicyLane("agent calls") };
  return globalLanes.__airlockPolicyLanes;
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}

/** Runs a draft check, simulation or replay off the main thread; throws PolicyTaskTimeout past the limit. */
export function runDraftTask<T>(kind: Exclude<PolicyTaskKind, "judge">, payload: unknown, opts: { limitMs?: number; what?: string } = {}): Promise<T> {
  const limitMs = opts.limitMs ?? DRAFT_TIME_LIMIT_MS;
  const what = opts.what ?? "the draft";
  return lanes().drafts.run<T>(
    kind,
    payload,
    limitMs,
    `Checking ${what} took longer than ${seconds(limitMs)}, so Airlock stopped; simplify it (fewer or shorter rules, patterns and commands) and try again.`,
  );
}

/** Judges one agent call off the main thread; throws PolicyTaskTimeout past the limit. */
export function runJudgeTask<T>(payload: unknown, opts: { limitMs?: number } = {}): Promise<T> {
  const limitMs = opts.limitMs ?? JUDGE_TIME_LIMIT_MS;
  return lanes().agent.run<T>(
    "judge",
    payload,
    limitMs,
    `Airlock could not judge this call within ${seconds(limitMs)} (it is too large or too deeply nested to check); split it into smaller commands.`,
  );
}

/** Stops both workers (tests, shutdown). */
export async function stopPolicyWorkers(): Promise<void> {
  const current = globalLanes.__airlockPolicyLanes;
  if (!current) return;
  await Promise.all([current.drafts.stop(), current.agent.stop()]);
}
