// The run queue: admission control. A run holds a slot from leaving `queued`
// until it is terminal (a run waiting on a reviewer still holds a container
// and its memory). `admitRuns` decides which queued runs may start now and,
// for the others, says why they wait; `RunQueue` applies it to the database.
//
// The order rule: queued runs are considered strictly by creation time. The
// instance-wide resources (slots and memory) are granted in that order: the
// first run that cannot get one holds every run behind it, so a large run is
// never starved by smaller ones that keep slipping past. A run held only by
// its own project's or user's limit steps aside: runs of other projects and
// users behind it may start (runs of the same project or user stay behind it,
// since the same limit holds them).
import { and, asc, eq, inArray, notInArray, sql } from "drizzle-orm";
import type { Db } from "@/db/client";
import { projects, runs, users, type RunEvent } from "@/db/schema";
import { announce, insertRunEvent } from "@/server/events/bus";
import { TERMINAL_STATES } from "@/server/runs/state-machine";
import { queueSettings } from "@/server/runs/queue-settings";
import { DEFAULT_PROJECT_ID } from "@/server/projects/projects";

export interface QueueRun {
  id: string;
  projectId: string;
  userId: string;
  memoryMb: number;
}

export interface QueueLimits {
  /** Runs that may execute at once on the instance. */
  instance: number;
  /** Runs of one user that may execute at once (null: no limit). */
  perUser: number | null;
  /** What the executing runs' memory limits may add up to. */
  memoryBudgetMb: number;
  /** Per project: its limit (null: none) and its name for the reason. */
  projects: ReadonlyMap<string, { name: string; maxConcurrentRuns: number | null }>;
  /** Per user: how the reason names them. */
  userLabels?: ReadonlyMap<string, string>;
}

export interface WaitingRun {
  id: string;
  /** 1-based place among all queued runs, in start order. */
  position: number;
  reason: string;
}

export interface Admission {
  start: string[];
  waiting: WaitingRun[];
}

/** 1536 → "1.5 GiB", 512 → "0.5 GiB". */
export function formatGiB(mb: number): string {
  return `${gib(mb)} GiB`;
}

const gib = (mb: number) => String(Number((mb / 1024).toFixed(2)));

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/**
 * Which of the queued runs (oldest first) start now, given the runs holding
 * slots. Pure: the unit tests drive it with plain values.
 */
export function admitRuns(holding: readonly QueueRun[], queued: readonly QueueRun[], limits: QueueLimits): Admission {
  let executing = holding.length;
  let reservedMb = holding.reduce((sum, r) => sum + r.memoryMb, 0);
  const byProject = new Map<string, number>();
  const byUser = new Map<string, number>();
  const bump = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);
  for (const r of holding) {
    bump(byProject, r.projectId);
    bump(byUser, r.userId);
  }
  const start: string[] = [];
  const waiting: WaitingRun[] = [];
  // Set once an instance-wide resource (a slot or memory) runs out: every run behind waits for it too.
  let heldBehind: string | null = null;

  queued.forEach((run, index) => {
    const wait = (reason: string) => waiting.push({ id: run.id, position: index + 1, reason });
    const project = limits.projects.get(run.projectId);
    const projectMax = project?.maxConcurrentRuns ?? null;
    if (projectMax !== null && (byProject.get(run.projectId) ?? 0) >= projectMax) {
      return wait(`project ${project?.name ?? run.projectId} allows ${plural(projectMax, "run")} at a time (${byProject.get(run.projectId) ?? 0} executing)`);
    }
    if (limits.perUser !== null && (byUser.get(run.userId) ?? 0) >= limits.perUser) {
      const who = limits.userLabels?.get(run.userId) ?? "its user";
      return wait(`${who} may have ${plural(limits.perUser, "run")} executing at a time (${byUser.get(run.userId) ?? 0} executing)`);
    }
    if (heldBehind) return wait(heldBehind);
    if (executing >= limits.instance) {
      heldBehind = `waiting for a slot: ${executing} of ${limits.instance} runs are executing on this instance`;
      return wait(heldBehind);
    }
    if (run.memoryMb > limits.memoryBudgetMb) {
      // It can never fit: holding the line for it would stop the whole instance, so it steps aside.
      return wait(
        `waiting for memory: this run needs ${formatGiB(run.memoryMb)} but runs may reserve at most ${formatGiB(limits.memoryBudgetMb)} on this instance; an admin can raise the memory ratio in Settings, or start the run with a lower memory limit`,
      );
    }
    if (reservedMb + run.memoryMb > limits.memoryBudgetMb) {
      const reason = `waiting for memory: ${gib(reservedMb)} of ${formatGiB(limits.memoryBudgetMb)} reserved by running runs; this run needs ${formatGiB(run.memoryMb)}`;
      heldBehind = `waiting behind an earlier run that needs memory: ${gib(reservedMb)} of ${formatGiB(limits.memoryBudgetMb)} reserved by running runs`;
      return wait(reason);
    }
    executing += 1;
    reservedMb += run.memoryMb;
    bump(byProject, run.projectId);
    bump(byUser, run.userId);
    start.push(run.id);
  });
  return { start, waiting };
}

const HOLDING_EXCLUDES = ["queued", ...TERMINAL_STATES] as const;

function toQueueRun(r: { id: string; projectId: string | null; createdBy: string; limits: { memoryMb: number } }): QueueRun {
  return { id: r.id, projectId: r.projectId ?? DEFAULT_PROJECT_ID, userId: r.createdBy, memoryMb: r.limits.memoryMb };
}

const queueColumns = { id: runs.id, projectId: runs.projectId, createdBy: runs.createdBy, limits: runs.limits, queueReason: runs.queueReason };

/** Start order: creation time, then insertion order (SQLite's rowid) for runs created in the same millisecond. */
const START_ORDER = [asc(runs.createdAt), sql`"runs"."rowid"`];

/** Queued runs in start order. */
function queuedRuns(db: Db) {
  return db
    .select(queueColumns)
    .from(runs)
    .where(eq(runs.state, "queued"))
    .orderBy(...START_ORDER)
    .all();
}

/** 1-based places of queued runs in start order (what runs.get and runs.list show). */
export function queuePositions(db: Db): Map<string, number> {
  const rows = db
    .select({ id: runs.id })
    .from(runs)
    .where(eq(runs.state, "queued"))
    .orderBy(...START_ORDER)
    .all();
  return new Map(rows.map((r, i) => [r.id, i + 1]));
}

/**
 * Applies the admission to the database for one supervisor: plans, records
 * each waiting run's reason, and announces a "queue" run event to a run
 * whose place or reason changed (the run page listens for it).
 */
export class RunQueue {
  /** The last place and reason announced per waiting run, so an unchanged run is not announced again. */
  private readonly announced = new Map<string, string>();

  constructor(private readonly db: Db) {}

  /**
   * Which queued runs start now. `launching` are runs this process is starting
   * that the database may still show as queued: they hold slots.
   */
  admit(launching: ReadonlySet<string> = new Set()): Admission {
    const db = this.db;
    const settings = queueSettings(db);
    const holdingRows = db
      .select(queueColumns)
      .from(runs)
      .where(notInArray(runs.state, [...HOLDING_EXCLUDES]))
      .all();
    const queuedRows = queuedRuns(db);
    const holding = [...holdingRows, ...queuedRows.filter((r) => launching.has(r.id))].map(toQueueRun);
    const candidates = queuedRows.filter((r) => !launching.has(r.id));
    const projectIds = [...new Set([...holding, ...candidates.map(toQueueRun)].map((r) => r.projectId))];
    const projectRows = projectIds.length
      ? db
          .select({ id: projects.id, name: projects.name, maxConcurrentRuns: projects.maxConcurrentRuns })
          .from(projects)
          .where(inArray(projects.id, projectIds))
          .all()
      : [];
    const userIds = [...new Set(candidates.map((r) => r.createdBy))];
    const userRows = userIds.length ? db.select({ id: users.id, email: users.email }).from(users).where(inArray(users.id, userIds)).all() : [];
    const admission = admitRuns(holding, candidates.map(toQueueRun), {
      instance: settings.maxConcurrentRuns,
      perUser: settings.maxConcurrentRunsPerUser,
      memoryBudgetMb: settings.memoryBudgetMb,
      projects: new Map(projectRows.map((p) => [p.id, { name: p.name, maxConcurrentRuns: p.maxConcurrentRuns }])),
      userLabels: new Map(userRows.map((u) => [u.id, u.email])),
    });
    // Places count every queued run, those being launched too, so the page agrees with runs.get.
    const place = new Map(queuedRows.map((r, i) => [r.id, i + 1]));
    const placed = { start: admission.start, waiting: admission.waiting.map((w) => ({ ...w, position: place.get(w.id) ?? w.position })) };
    this.record(placed, new Map(queuedRows.map((r) => [r.id, r.queueReason])));
    return placed;
  }

  private record(admission: Admission, storedReasons: Map<string, string | null>) {
    const clear = admission.start.filter((id) => storedReasons.get(id));
    const changed = admission.waiting.filter((w) => storedReasons.get(w.id) !== w.reason || this.announced.get(w.id) !== `${w.position}|${w.reason}`);
    for (const id of admission.start) this.announced.delete(id);
    const waitingIds = new Set(admission.waiting.map((w) => w.id));
    for (const id of this.announced.keys()) if (!waitingIds.has(id)) this.announced.delete(id);
    // Most looks at the queue change nothing: no write lock then.
    if (clear.length === 0 && changed.length === 0) return;
    const events = this.db.transaction(
      (tx) => {
        for (const id of clear)
          tx.update(runs)
            .set({ queueReason: null })
            .where(and(eq(runs.id, id), eq(runs.state, "queued")))
            .run();
        const out: { event: RunEvent; key: string }[] = [];
        for (const w of changed) {
          // Still queued (not cancelled since the queue was read)?
          const { changes } = tx
            .update(runs)
            .set({ queueReason: w.reason })
            .where(and(eq(runs.id, w.id), eq(runs.state, "queued")))
            .run();
          if (changes === 0) continue;
          out.push({ event: insertRunEvent(tx, w.id, "queue", { position: w.position, reason: w.reason }), key: `${w.position}|${w.reason}` });
        }
        return out;
      },
      { behavior: "immediate" },
    );
    for (const { event, key } of events) {
      this.announced.set(event.runId, key);
      announce(event);
    }
  }
}
