// The run queue: admission control and placement. A run holds a slot from
// leaving `queued` until it is terminal (a run waiting on a reviewer still
// holds a container and its memory). `admitRuns` decides which queued runs may
// start now, on which engine, and, for the others, says why they wait;
// `RunQueue` applies it to the database (and writes `runs.engine`).
//
// The order rule: queued runs are considered strictly by creation time. The
// instance-wide slots are granted in that order: the first run that cannot
// get one holds every run behind it, so a large run is never starved by
// smaller ones that keep slipping past. A run held only by its own project's
// or user's limit steps aside: runs of other projects and users behind it may
// start (runs of the same project or user stay behind it, since the same
// limit holds them).
//
// Placement (issue 17): a run may go to an engine that answers its health
// check, is not draining, carries every label its project requires, offers
// gVisor when the run requires it, and has room for it (runs, CPUs and
// memory reserved by the runs it holds). Among those, the engine with the
// most free reserved capacity wins: the smallest of its free fractions
// (runs, CPUs, memory; a dimension without a limit counts as all free), ties
// by name. A run that finds every engine it may use full holds those engines:
// runs behind it are not placed on them, so it is not starved by smaller runs,
// but runs that may use other engines go there. A run no engine can ever take
// (no engine has its labels, or all that have them are draining or down, or
// it needs more than an engine's whole capacity) steps aside and holds
// nothing: a run needing a rare label never blocks the runs behind it.
import { and, asc, eq, inArray, notInArray, sql } from "drizzle-orm";
import type { Db } from "@/db/client";
import { engines, projects, runs, users, type RunEvent } from "@/db/schema";
import { announce, insertRunEvent } from "@/server/events/bus";
import { TERMINAL_STATES } from "@/server/runs/state-machine";
import { defaultMaxConcurrentRuns, queueSettings, type QueueSettingsView } from "@/server/runs/queue-settings";
import { config } from "@/server/config/env";
import { engineHealth } from "@/server/engines/health";
import { DEFAULT_PROJECT_ID } from "@/server/projects/projects";
import { LOCAL_ENGINE } from "@/server/engines/types";

export interface QueueRun {
  id: string;
  projectId: string;
  userId: string;
  memoryMb: number;
  /** CPUs its limits reserve (absent: 0). */
  cpus?: number;
  /** Engine labels its project requires (absent: none). */
  labels?: readonly string[];
  /** It must run under gVisor (its project's runtime or AIRLOCK_RUNTIME is runsc). */
  needsRunsc?: boolean;
  /** A holding run: the engine it runs on (absent: the local engine). */
  engine?: string;
}

/** An engine as placement sees it: what it offers and whether it takes runs now. */
export interface QueueEngine {
  name: string;
  labels: readonly string[];
  draining: boolean;
  /** Why it takes no runs now, said after its name ("is down since …"); null: it answers. */
  down: string | null;
  /** Runtimes it offers; null: not judged here (the local engine: the run's start decides gVisor, with its reason). */
  runtimes: readonly string[] | null;
  /** What its runs may reserve in all (null: no limit of its own). */
  capacity: { runs: number | null; cpus: number | null; memoryMb: number | null };
}

export interface QueueLimits {
  /** Runs that may execute at once on the instance. */
  instance: number;
  /** Runs of one user that may execute at once (null: no limit). */
  perUser: number | null;
  /** What the executing runs' memory limits may add up to on the local engine (when `engines` is absent). */
  memoryBudgetMb: number;
  /** Per project: its limit (null: none) and its name for the reason. */
  projects: ReadonlyMap<string, { name: string; maxConcurrentRuns: number | null }>;
  /** Per user: how the reason names them. */
  userLabels?: ReadonlyMap<string, string>;
  /** The engines runs may go to (absent: only the local engine, with the memory budget). */
  engines?: readonly QueueEngine[];
}

export interface WaitingRun {
  id: string;
  /** 1-based place among all queued runs, in start order. */
  position: number;
  reason: string;
}

export interface Admission {
  start: string[];
  /** Where each started run goes: run id → engine name. */
  placement: Record<string, string>;
  waiting: WaitingRun[];
}

/** 1536 → "1.5 GiB", 512 → "0.5 GiB". */
export function formatGiB(mb: number): string {
  return `${gib(mb)} GiB`;
}

const gib = (mb: number) => String(Number((mb / 1024).toFixed(2)));

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

const cpuCount = (n: number) => `${Number(n.toFixed(2))} CPU${n === 1 ? "" : "s"}`;

interface Reserved {
  runs: number;
  cpus: number;
  memoryMb: number;
}

/** Free share of one dimension (no limit: all free). */
const freeShare = (cap: number | null, used: number) => (cap === null ? 1 : cap <= 0 ? 0 : (cap - used) / cap);

/** The most free reserved capacity: the smallest free share among runs, CPUs and memory. */
function freeFraction(e: QueueEngine, used: Reserved): number {
  return Math.min(freeShare(e.capacity.runs, used.runs), freeShare(e.capacity.cpus, used.cpus), freeShare(e.capacity.memoryMb, used.memoryMb));
}

/** What the run needs beyond the engine's whole capacity (it could never start there); null: it fits an empty engine. */
function neverFits(e: QueueEngine, run: QueueRun): string | null {
  const cpus = run.cpus ?? 0;
  if (e.capacity.runs !== null && e.capacity.runs < 1) return `${e.name} takes no runs (capacity 0)`;
  if (e.capacity.cpus !== null && cpus > e.capacity.cpus) return `${e.name} allows at most ${cpuCount(e.capacity.cpus)}`;
  if (e.capacity.memoryMb !== null && run.memoryMb > e.capacity.memoryMb) return `${e.name} allows at most ${formatGiB(e.capacity.memoryMb)}`;
  return null;
}

/** Which of the engine's capacities the run does not fit in now, as "e1 2 of 2 runs"; null: it fits. */
function shortOf(e: QueueEngine, used: Reserved, run: QueueRun): string | null {
  const c = e.capacity;
  if (c.runs !== null && used.runs + 1 > c.runs) return `${e.name} ${used.runs} of ${plural(c.runs, "run")}`;
  if (c.cpus !== null && used.cpus + (run.cpus ?? 0) > c.cpus) return `${e.name} ${Number(used.cpus.toFixed(2))} of ${cpuCount(c.cpus)}`;
  if (c.memoryMb !== null && used.memoryMb + run.memoryMb > c.memoryMb) return `${e.name} ${gib(used.memoryMb)} of ${formatGiB(c.memoryMb)} memory`;
  return null;
}

/**
 * Which of the queued runs (oldest first) start now and where, given the runs
 * holding slots. Pure: the unit tests drive it with plain values.
 */
export function admitRuns(holding: readonly QueueRun[], queued: readonly QueueRun[], limits: QueueLimits): Admission {
  const engines: readonly QueueEngine[] = limits.engines ?? [
    { name: LOCAL_ENGINE, labels: [], draining: false, down: null, runtimes: null, capacity: { runs: null, cpus: null, memoryMb: limits.memoryBudgetMb } },
  ];
  // With only the local engine, reasons speak of "this instance" as they did before the pool.
  const single = engines.length === 1 && engines[0]!.name === LOCAL_ENGINE;
  const used = new Map<string, Reserved>();
  const usedOn = (name: string) => {
    let u = used.get(name);
    if (!u) used.set(name, (u = { runs: 0, cpus: 0, memoryMb: 0 }));
    return u;
  };
  const reserve = (name: string, r: QueueRun) => {
    const u = usedOn(name);
    u.runs += 1;
    u.cpus += r.cpus ?? 0;
    u.memoryMb += r.memoryMb;
  };
  let executing = holding.length;
  const byProject = new Map<string, number>();
  const byUser = new Map<string, number>();
  const bump = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);
  for (const r of holding) {
    bump(byProject, r.projectId);
    bump(byUser, r.userId);
    reserve(r.engine ?? LOCAL_ENGINE, r);
  }
  const start: string[] = [];
  const placement: Record<string, string> = {};
  const waiting: WaitingRun[] = [];
  // Set once the instance's slots run out: every run behind waits for them too.
  let heldBehind: string | null = null;
  // Engines an earlier run waits for (full for it): runs behind are not placed there. Engine → the reason they read.
  const held = new Map<string, string>();

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
    const labels = run.labels ?? [];
    const withLabels = engines.filter((e) => labels.every((l) => e.labels.includes(l)));
    const names = (list: readonly QueueEngine[]) => list.map((e) => e.name).join(", ");
    const which = labels.length ? `engines with labels ${labels.join(", ")}` : "the engines";
    if (withLabels.length === 0) return wait(`no engine has the labels ${labels.join(", ")} (engines: ${names(engines)})`);
    const offering = run.needsRunsc ? withLabels.filter((e) => e.runtimes === null || e.runtimes.includes("runsc")) : withLabels;
    if (offering.length === 0) {
      return wait(`this run requires gVisor (runsc) and none of ${which} offers it (${names(withLabels)}); an admin can install runsc on one`);
    }
    const usable = offering.filter((e) => !e.draining && e.down === null);
    if (usable.length === 0) {
      const why = offering.map((e) => (e.draining ? `${e.name} is draining` : `${e.name} ${e.down}`)).join("; ");
      return wait(labels.length || !single ? `${which} take no new runs now: ${why}` : why);
    }
    if (usable.every((e) => held.has(e.name))) return wait(held.get(usable[0]!.name)!);
    const fitting = usable.filter((e) => neverFits(e, run) === null);
    if (fitting.length === 0) {
      // It can never fit: holding engines for it would stop them, so it steps aside.
      if (single) {
        return wait(
          `waiting for memory: this run needs ${formatGiB(run.memoryMb)} but runs may reserve at most ${formatGiB(limits.memoryBudgetMb)} on this instance; an admin can raise the memory ratio in Settings, or start the run with a lower memory limit`,
        );
      }
      const why = usable.map((e) => neverFits(e, run)).join("; ");
      return wait(
        `waiting for room: this run needs ${formatGiB(run.memoryMb)}${run.cpus ? ` and ${cpuCount(run.cpus)}` : ""}, more than ${which} can ever give it (${why}); start it with lower limits, or an admin can raise an engine's capacity`,
      );
    }
    const open = fitting.filter((e) => !held.has(e.name));
    const roomy = open.filter((e) => shortOf(e, usedOn(e.name), run) === null);
    if (roomy.length === 0) {
      const shortages = open.map((e) => shortOf(e, usedOn(e.name), run)!);
      let reason: string;
      let behind: (e: QueueEngine) => string;
      const local = open.length === 1 && single ? open[0]! : null;
      if (local && local.capacity.memoryMb !== null && shortages[0]!.endsWith(" memory")) {
        const reserved = `${gib(usedOn(local.name).memoryMb)} of ${formatGiB(local.capacity.memoryMb)} reserved by running runs`;
        reason = `waiting for memory: ${reserved}; this run needs ${formatGiB(run.memoryMb)}`;
        behind = () => `waiting behind an earlier run that needs memory: ${reserved}`;
      } else {
        reason = `${which} are full: ${shortages.join("; ")}`;
        behind = (e) => `waiting behind an earlier run that needs room on ${e.name}: ${shortOf(e, usedOn(e.name), run) ?? "full"}`;
      }
      for (const e of open) held.set(e.name, behind(e));
      return wait(reason);
    }
    const chosen = [...roomy].sort((a, b) => freeFraction(b, usedOn(b.name)) - freeFraction(a, usedOn(a.name)) || a.name.localeCompare(b.name))[0]!;
    executing += 1;
    reserve(chosen.name, run);
    bump(byProject, run.projectId);
    bump(byUser, run.userId);
    start.push(run.id);
    placement[run.id] = chosen.name;
  });
  return { start, placement, waiting };
}

const HOLDING_EXCLUDES = ["queued", ...TERMINAL_STATES] as const;

interface ProjectNeeds {
  engineLabels: string[];
  runtime: "runsc" | null;
}

function toQueueRun(
  r: { id: string; projectId: string | null; createdBy: string; limits: { memoryMb: number; cpus: number }; engine: string | null },
  needs?: { projects: ReadonlyMap<string, ProjectNeeds>; runscEverywhere: boolean },
): QueueRun {
  const projectId = r.projectId ?? DEFAULT_PROJECT_ID;
  const project = needs?.projects.get(projectId);
  return {
    id: r.id,
    projectId,
    userId: r.createdBy,
    memoryMb: r.limits.memoryMb,
    cpus: r.limits.cpus,
    labels: project?.engineLabels ?? [],
    needsRunsc: (needs?.runscEverywhere ?? false) || project?.runtime === "runsc",
    engine: r.engine ?? LOCAL_ENGINE,
  };
}

/**
 * The engines as placement sees them now: their rows, and the health monitor's
 * last look. A capacity left empty comes from what the engine reports (its
 * cores and memory, as the instance's defaults come from the host's); the local
 * engine's memory is the instance's memory budget, and its runs and CPUs are
 * bounded by the instance's limits only, as before the pool.
 */
export function placementEngines(db: Db, settings: Pick<QueueSettingsView, "memoryBudgetMb" | "memoryRatio">): QueueEngine[] {
  // Read only (no write lock on a look that changes nothing), and without the credentials, which placement does not need.
  // The local engine's row, when not made yet, is its defaults.
  const configs = db
    .select({
      name: engines.name,
      local: engines.local,
      labels: engines.labels,
      draining: engines.draining,
      capacity: { runs: engines.capacityRuns, cpus: engines.capacityCpus, memoryMb: engines.capacityMemoryMb },
    })
    .from(engines)
    .all()
    .sort((a, b) => (a.local === b.local ? a.name.localeCompare(b.name) : a.local ? -1 : 1));
  if (!configs.some((c) => c.name === LOCAL_ENGINE)) {
    configs.unshift({ name: LOCAL_ENGINE, local: true, labels: [], draining: false, capacity: { runs: null, cpus: null, memoryMb: null } });
  }
  return configs.map((cfg) => {
    const health = engineHealth(cfg.name);
    if (cfg.local) {
      return {
        name: cfg.name,
        labels: cfg.labels,
        draining: cfg.draining,
        down: health?.downSince ? `is down since ${health.downSince.toISOString()}` : null,
        runtimes: null,
        capacity: { runs: cfg.capacity.runs, cpus: cfg.capacity.cpus, memoryMb: cfg.capacity.memoryMb ?? settings.memoryBudgetMb },
      };
    }
    const ncpu = health?.ncpu ?? null;
    const memTotalMb = health?.memTotalMb ?? null;
    return {
      name: cfg.name,
      labels: cfg.labels,
      draining: cfg.draining,
      down: !health
        ? "has not answered a health check yet"
        : health.healthy
          ? null
          : health.downSince
            ? `is down since ${health.downSince.toISOString()}`
            : `is not ready (${health.error ?? "its sandbox image is not verified yet"})`,
      runtimes: health?.runtimes ?? [],
      capacity: {
        runs: cfg.capacity.runs ?? (ncpu !== null && memTotalMb !== null ? defaultMaxConcurrentRuns({ cores: ncpu, memoryMb: memTotalMb }) : null),
        cpus: cfg.capacity.cpus ?? ncpu,
        memoryMb: cfg.capacity.memoryMb ?? (memTotalMb !== null ? Math.floor(settings.memoryRatio * memTotalMb) : null),
      },
    };
  });
}

const queueColumns = {
  id: runs.id,
  projectId: runs.projectId,
  createdBy: runs.createdBy,
  limits: runs.limits,
  engine: runs.engine,
  queueReason: runs.queueReason,
};

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
    const projectIds = [...new Set([...holdingRows, ...queuedRows].map((r) => r.projectId ?? DEFAULT_PROJECT_ID))];
    const projectRows = projectIds.length
      ? db
          .select({
            id: projects.id,
            name: projects.name,
            maxConcurrentRuns: projects.maxConcurrentRuns,
            engineLabels: projects.engineLabels,
            runtime: projects.runtime,
          })
          .from(projects)
          .where(inArray(projects.id, projectIds))
          .all()
      : [];
    const needs = { projects: new Map(projectRows.map((p) => [p.id, p])), runscEverywhere: config().runtime === "runsc" };
    const holding = [...holdingRows, ...queuedRows.filter((r) => launching.has(r.id))].map((r) => toQueueRun(r, needs));
    const candidates = queuedRows.filter((r) => !launching.has(r.id));
    const userIds = [...new Set(candidates.map((r) => r.createdBy))];
    const userRows = userIds.length ? db.select({ id: users.id, email: users.email }).from(users).where(inArray(users.id, userIds)).all() : [];
    const admission = admitRuns(
      holding,
      candidates.map((r) => toQueueRun(r, needs)),
      {
        instance: settings.maxConcurrentRuns,
        perUser: settings.maxConcurrentRunsPerUser,
        memoryBudgetMb: settings.memoryBudgetMb,
        projects: new Map(projectRows.map((p) => [p.id, { name: p.name, maxConcurrentRuns: p.maxConcurrentRuns }])),
        userLabels: new Map(userRows.map((u) => [u.id, u.email])),
        engines: placementEngines(db, settings),
      },
    );
    // Places count every queued run, those being launched too, so the page agrees with runs.get.
    const place = new Map(queuedRows.map((r, i) => [r.id, i + 1]));
    const placed = {
      start: admission.start,
      placement: admission.placement,
      waiting: admission.waiting.map((w) => ({ ...w, position: place.get(w.id) ?? w.position })),
    };
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
    if (admission.start.length === 0 && changed.length === 0) return;
    const events = this.db.transaction(
      (tx) => {
        // Where it goes is written before drive() reads the run (it starts the sandbox there).
        for (const id of admission.start)
          tx.update(runs)
            .set({ engine: admission.placement[id] ?? LOCAL_ENGINE, ...(clear.includes(id) ? { queueReason: null } : {}) })
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
