// Services (issue 13): long-running processes an agent starts with
// start_service (a dev server for the tests, say). No process outlives its
// command inside the sandbox, so a service runs in a container of its own
// beside it (server/sandbox/runtime.ts, startService); this module records
// services per run (run_services), keeps the tail of their output, streams
// it as run events, and stops them on request, at run end and on rollback.
import crypto from "node:crypto";
import { and, asc, eq } from "drizzle-orm";
import type { Db } from "@/db/client";
import { runServices, type RunService } from "@/db/schema";
import { appendAudit, type Actor } from "@/server/audit/chain";
import { announce, insertRunEvent, publishRunEvent } from "@/server/events/bus";
import { DomainError } from "@/server/errors/domain-error";
import { egressExecEnv } from "@/server/egress/controller";
import { secretsForRun } from "@/server/secrets/secrets";
import type { SandboxRuntime } from "@/server/sandbox/runtime";
import { OutputBuffer } from "@/server/tools/output";
import { workspaceQuotaBytes } from "@/server/workspace/quota";

/** How many services one run may have running at once. */
export const MAX_RUNNING_SERVICES = 5;
/** The tail of a service's output that is kept (and shown on the run page). */
export const SERVICE_OUTPUT_TAIL = 64 * 1024;
/** The tail of the output that start_service/list_services give the agent. */
const AGENT_OUTPUT_TAIL = 4 * 1024;
/** How long start_service watches a new service before answering (it may fail at once). */
const START_WATCH_MS = 1500;

export interface ServiceView {
  id: string;
  runId: string;
  name: string;
  command: string;
  cwd: string;
  state: RunService["state"];
  exitCode: number | null;
  output: string;
  outputBytes: number;
  endedBy: string | null;
  startedAt: Date;
  endedAt: Date | null;
}

function view(row: RunService): ServiceView {
  return {
    id: row.id,
    runId: row.runId,
    name: row.name,
    command: row.command,
    cwd: row.cwd,
    state: row.state,
    exitCode: row.exitCode,
    output: row.output,
    outputBytes: row.outputBytes,
    endedBy: row.endedBy,
    startedAt: row.startedAt,
    endedAt: row.endedAt,
  };
}

export function listServices(db: Db, runId: string): ServiceView[] {
  // Output still waiting for its debounced write is written first, so a list
  // right after a service printed (the agent's next call) shows it.
  for (const output of liveOutputs().values()) if (output.runId === runId) output.flush();
  return db.select().from(runServices).where(eq(runServices.runId, runId)).orderBy(asc(runServices.startedAt)).all().map(view);
}

/** What the agent sees of its services (short output tails). */
export function servicesForAgent(db: Db, runId: string) {
  return listServices(db, runId).map((s) => ({
    name: s.name,
    state: s.state,
    command: s.command,
    cwd: s.cwd,
    exit_code: s.exitCode,
    output_tail: s.output.slice(-AGENT_OUTPUT_TAIL),
  }));
}

/** Output kept per live service, written to its row as it comes (bounded). */
class ServiceOutput {
  private tail = "";
  private bytes = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly db: Db,
    private readonly serviceId: string,
    readonly runId: string,
  ) {}

  /** Writes what is waiting for the debounced write, if anything. */
  flush() {
    if (this.timer) this.save();
  }

  push(text: string) {
    this.bytes += Buffer.byteLength(text);
    this.tail = (this.tail + text).slice(-SERVICE_OUTPUT_TAIL);
    this.timer ??= setTimeout(() => this.save(), 250);
  }

  save() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.db.update(runServices).set({ output: this.tail, outputBytes: this.bytes }).where(eq(runServices.id, this.serviceId)).run();
  }
}

/** The live services' output buffers in this process, by service id (one map across module instances). */
const gOutputs = globalThis as unknown as { __airlockServiceOutputs?: Map<string, ServiceOutput> };
const liveOutputs = () => (gOutputs.__airlockServiceOutputs ??= new Map());

function publishState(db: Db, row: RunService) {
  publishRunEvent(db, row.runId, "service", { serviceId: row.id, name: row.name, state: row.state, exitCode: row.exitCode, endedBy: row.endedBy });
}

/**
 * Starts a service for the run (the call is already judged and, by default,
 * approved by a reviewer). Answers once it has run for a moment: a service
 * that exits at once (a typo, a port in use) says so with its output.
 */
export async function startService(
  db: Db,
  runtime: SandboxRuntime,
  containerId: string,
  runId: string,
  input: { name: string; command: string; cwd: string; toolCallId: string | null },
): Promise<ServiceView> {
  const running = db
    .select()
    .from(runServices)
    .where(and(eq(runServices.runId, runId), eq(runServices.state, "running")))
    .all();
  if (running.some((s) => s.name === input.name)) {
    throw new DomainError("CONFLICT", `A service named ${input.name} is already running; stop it with stop_service first or pick another name.`);
  }
  if (running.length >= MAX_RUNNING_SERVICES) {
    throw new DomainError("CONFLICT", `This run already has ${MAX_RUNNING_SERVICES} services running (the most it may); stop one with stop_service first.`);
  }
  const id = crypto.randomUUID();
  const row = db
    .insert(runServices)
    .values({ id, runId, name: input.name, command: input.command, cwd: input.cwd, state: "running", toolCallId: input.toolCallId, startedAt: new Date() })
    .returning()
    .get();
  const output = new ServiceOutput(db, id, runId);
  liveOutputs().set(id, output);
  // Granted secrets and the egress proxy, as for a command; output redacted as it streams.
  const { env, redactor } = secretsForRun(db, runId);
  const proxyEnv = await egressExecEnv(db, runId, containerId);
  const live = { stdout: redactor.stream(), stderr: redactor.stream() };
  const buffer = new OutputBuffer((text, stream) => publishRunEvent(db, runId, "service_output", { serviceId: id, name: input.name, stream, text }));
  let handle;
  try {
    handle = await runtime.startService(containerId, {
      name: input.name,
      // The workspace quota as for commands (RLIMIT_FSIZE), then the command as judged.
      cmd: ["bash", "-c", `ulimit -f ${Math.floor(workspaceQuotaBytes() / 1024)} && exec bash -c "$1"`, "bash", input.command],
      cwd: input.cwd,
      env: { ...env, ...proxyEnv },
      onOutput: (chunk, stream) => {
        const safe = live[stream].push(chunk);
        if (safe) {
          output.push(safe);
          buffer.push(safe, stream);
        }
      },
    });
  } catch (err) {
    const failed = db
      .update(runServices)
      .set({ state: "failed", endedAt: new Date(), endedBy: "airlock", output: (err as Error).message })
      .where(eq(runServices.id, id))
      .returning()
      .get();
    liveOutputs().delete(id);
    publishState(db, failed);
    throw err;
  }
  db.update(runServices).set({ containerId: handle.containerId }).where(eq(runServices.id, id)).run();
  publishState(db, { ...row, containerId: handle.containerId });
  const ended = handle.exited.then((exitCode) => {
    for (const stream of ["stdout", "stderr"] as const) {
      const rest = live[stream].end();
      if (rest) {
        output.push(rest);
        buffer.push(rest, stream);
      }
    }
    buffer.flush();
    output.save();
    liveOutputs().delete(id);
    // Being stopped by someone (stopService wrote who first, in the database:
    // the page's request and the run may live in different module instances)
    // is recorded there; otherwise it exited by itself.
    const current = db.select().from(runServices).where(eq(runServices.id, id)).get();
    if (!current || current.state !== "running" || current.endedBy !== null) return;
    const now = db
      .update(runServices)
      .set({ state: "exited", exitCode, endedAt: new Date(), endedBy: "itself" })
      .where(and(eq(runServices.id, id), eq(runServices.state, "running")))
      .returning()
      .get();
    if (now) publishState(db, now);
  });
  await Promise.race([ended, new Promise((resolve) => setTimeout(resolve, START_WATCH_MS))]);
  output.save();
  return view(db.select().from(runServices).where(eq(runServices.id, id)).get()!);
}

/** Stops one service (by id); `endedBy` says who. Already ended: nothing to do. */
export async function stopService(db: Db, runtime: SandboxRuntime, serviceId: string, actor: Actor, endedBy: string): Promise<ServiceView> {
  const row = db.select().from(runServices).where(eq(runServices.id, serviceId)).get();
  if (!row) throw new DomainError("NOT_FOUND", `No service with id ${serviceId}.`);
  if (row.state !== "running") return view(row);
  // Who stops it, before it exits: its exit is then this stop, not its own.
  db.update(runServices)
    .set({ endedBy })
    .where(and(eq(runServices.id, serviceId), eq(runServices.state, "running")))
    .run();
  try {
    if (row.containerId) await runtime.stopService(row.containerId);
  } catch (err) {
    db.update(runServices)
      .set({ endedBy: null })
      .where(and(eq(runServices.id, serviceId), eq(runServices.state, "running")))
      .run();
    throw err;
  }
  const result = db.transaction(
    (tx) => {
      const now = tx
        .update(runServices)
        .set({ state: "stopped", endedAt: new Date(), endedBy })
        .where(and(eq(runServices.id, serviceId), eq(runServices.state, "running")))
        .returning()
        .get();
      if (!now) return null;
      appendAudit(tx, actor, { action: "service.stop", targetType: "run_service", targetId: serviceId, details: { runId: row.runId, name: row.name } });
      const event = insertRunEvent(tx, row.runId, "service", { serviceId, name: row.name, state: "stopped", exitCode: null, endedBy });
      return { row: now, event };
    },
    { behavior: "immediate" },
  );
  if (result) announce(result.event);
  return view(result?.row ?? db.select().from(runServices).where(eq(runServices.id, serviceId)).get()!);
}

/** The running service of the run with this name (what the agent's stop_service names). */
export function runningServiceByName(db: Db, runId: string, name: string): RunService | undefined {
  return db
    .select()
    .from(runServices)
    .where(and(eq(runServices.runId, runId), eq(runServices.name, name), eq(runServices.state, "running")))
    .get();
}

/** Every running service of the run stops (run end, rollback); `why` is recorded as who ended them. */
export async function stopRunServices(db: Db, runtime: SandboxRuntime, runId: string, actor: Actor, why: string): Promise<number> {
  const running = db
    .select()
    .from(runServices)
    .where(and(eq(runServices.runId, runId), eq(runServices.state, "running")))
    .all();
  await Promise.all(
    running.map((s) => stopService(db, runtime, s.id, actor, why).catch((err: unknown) => console.error(`airlock: could not stop service ${s.id}:`, err))),
  );
  return running.length;
}
