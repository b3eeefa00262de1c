// Red-team reports: a run of the catalogue against a project's policy in
// force, recorded with per-scenario evidence and audited. The dashboard starts
// one in the background and polls it; the CLI waits for it.
import crypto from "node:crypto";
import { desc, eq } from "drizzle-orm";
import type { Db } from "@/db/client";
import { redteamReports, type RedteamReport, type SandboxRuntimeName } from "@/db/schema";
import { appendAudit, type Actor } from "@/server/audit/chain";
import { DomainError } from "@/server/errors/domain-error";
import { currentPolicy } from "@/server/projects/policy-store";
import { requireProject } from "@/server/projects/projects";
import { runRedteam, type RedteamSummary, type ScenarioResult } from "@/server/redteam/runner";
import { SCENARIOS } from "@/server/redteam/scenarios";

const g = globalThis as unknown as { __airlockRedteamRunning?: Set<string> };
function running(): Set<string> {
  g.__airlockRedteamRunning ??= new Set();
  return g.__airlockRedteamRunning;
}

export interface RedteamReportView {
  id: string;
  projectId: string;
  policyVersion: number;
  state: RedteamReport["state"];
  startedBy: string;
  createdAt: Date;
  finishedAt: Date | null;
  error: string | null;
  summary: Partial<RedteamSummary> & { done?: number; total?: number };
  results?: ScenarioResult[];
}

function toView(row: RedteamReport, withResults: boolean): RedteamReportView {
  const view: RedteamReportView = {
    id: row.id,
    projectId: row.projectId,
    policyVersion: row.policyVersion,
    state: row.state,
    startedBy: row.startedByLabel,
    createdAt: row.createdAt,
    finishedAt: row.finishedAt,
    error: row.error,
    summary: row.summary as RedteamReportView["summary"],
  };
  if (withResults) view.results = row.results as unknown as ScenarioResult[];
  return view;
}

/** A report left "running" by a process that is gone was interrupted. */
function settle(db: Db, row: RedteamReport): RedteamReport {
  if (row.state !== "running" || running().has(row.id)) return row;
  db.update(redteamReports)
    .set({ state: "failed", error: "Interrupted: Airlock stopped while the red team ran.", finishedAt: new Date() })
    .where(eq(redteamReports.id, row.id))
    .run();
  return db.select().from(redteamReports).where(eq(redteamReports.id, row.id)).get()!;
}

export function listRedteamReports(db: Db, projectId?: string | null): RedteamReportView[] {
  const rows = db
    .select()
    .from(redteamReports)
    .where(projectId ? eq(redteamReports.projectId, projectId) : undefined)
    .orderBy(desc(redteamReports.createdAt))
    .limit(50)
    .all();
  return rows.map((r) => toView(settle(db, r), false));
}

export function getRedteamReport(db: Db, id: string): RedteamReportView {
  const row = db.select().from(redteamReports).where(eq(redteamReports.id, id)).get();
  if (!row) throw new DomainError("NOT_FOUND", `No red-team report ${id}.`);
  return toView(settle(db, row), true);
}

export interface RedteamStart {
  projectId?: string | null;
  /** Run only these scenarios (ids); all of them by default. */
  scenarioIds?: string[];
  policyOnly?: boolean;
}

function beginReport(db: Db, actor: Actor, input: RedteamStart): { report: RedteamReport; yaml: string; scenarios: typeof SCENARIOS } {
  if (running().size > 0) throw new DomainError("CONFLICT", "A red-team run is already in progress; wait for its report.");
  const current = currentPolicy(db, input.projectId);
  const scenarios = input.scenarioIds?.length ? SCENARIOS.filter((s) => input.scenarioIds!.includes(s.id)) : SCENARIOS;
  const unknown = (input.scenarioIds ?? []).filter((id) => !SCENARIOS.some((s) => s.id === id));
  if (unknown.length) throw new DomainError("INVALID_INPUT", `Unknown red-team scenario(s): ${unknown.join(", ")}.`);
  const report = db.transaction(
    (tx) => {
      const row = tx
        .insert(redteamReports)
        .values({
          id: crypto.randomUUID(),
          projectId: current.projectId,
          policyVersion: current.version,
          state: "running",
          startedBy: actor.userId,
          startedByLabel: actor.label,
          summary: { done: 0, total: scenarios.length },
        })
        .returning()
        .get();
      appendAudit(tx, actor, {
        action: "redteam.start",
        targetType: "redteam_report",
        targetId: row.id,
        details: { project: current.projectSlug, policyVersion: current.version, scenarios: scenarios.length },
      });
      return row;
    },
    { behavior: "immediate" },
  );
  running().add(report.id);
  return { report, yaml: current.yaml, scenarios };
}

async function execute(
  db: Db,
  actor: Actor,
  report: RedteamReport,
  yaml: string,
  scenarios: typeof SCENARIOS,
  input: RedteamStart,
  onScenario?: (r: ScenarioResult, done: number, total: number) => void,
  sandboxRuntime?: SandboxRuntimeName,
): Promise<RedteamReportView> {
  const results: ScenarioResult[] = [];
  try {
    const outcome = await runRedteam({
      policyYaml: yaml,
      project: requireProject(db, report.projectId),
      sandboxRuntime,
      scenarios,
      policyOnly: input.policyOnly,
      onScenario: (result, done, total) => {
        results.push(result);
        db.update(redteamReports)
          .set({ summary: { done, total, ...tally(results) }, results: results as unknown as Record<string, unknown>[] })
          .where(eq(redteamReports.id, report.id))
          .run();
        onScenario?.(result, done, total);
      },
    });
    db.transaction(
      (tx) => {
        tx.update(redteamReports)
          .set({
            state: "done",
            summary: { ...outcome.summary, done: outcome.summary.total },
            results: outcome.results as unknown as Record<string, unknown>[],
            finishedAt: new Date(),
          })
          .where(eq(redteamReports.id, report.id))
          .run();
        appendAudit(tx, actor, {
          action: "redteam.run",
          targetType: "redteam_report",
          targetId: report.id,
          details: {
            ...outcome.summary,
            policyVersion: report.policyVersion,
            escaped: outcome.results.filter((r) => r.outcome === "escaped").map((r) => r.id),
          },
        });
      },
      { behavior: "immediate" },
    );
  } catch (err) {
    db.transaction(
      (tx) => {
        tx.update(redteamReports)
          .set({ state: "failed", error: (err as Error).message, finishedAt: new Date() })
          .where(eq(redteamReports.id, report.id))
          .run();
        appendAudit(tx, actor, { action: "redteam.failed", targetType: "redteam_report", targetId: report.id, details: { error: (err as Error).message } });
      },
      { behavior: "immediate" },
    );
  } finally {
    running().delete(report.id);
  }
  return getRedteamReport(db, report.id);
}

function tally(results: ScenarioResult[]): Omit<RedteamSummary, "durationMs" | "total" | "runtime"> {
  const count = (o: ScenarioResult["outcome"]) => results.filter((r) => r.outcome === o).length;
  return { blocked: count("blocked"), escalated: count("escalated"), contained: count("contained"), escaped: count("escaped") };
}

/** Runs the red team and waits for the report (the CLI, tests). */
export async function runRedteamReport(
  db: Db,
  actor: Actor,
  input: RedteamStart,
  onScenario?: (r: ScenarioResult, done: number, total: number) => void,
  opts: { sandboxRuntime?: SandboxRuntimeName } = {},
): Promise<RedteamReportView> {
  const { report, yaml, scenarios } = beginReport(db, actor, input);
  return execute(db, actor, report, yaml, scenarios, input, onScenario, opts.sandboxRuntime);
}

/** Starts the red team in the background and returns the report id at once (the dashboard polls it). */
export function launchRedteam(db: Db, actor: Actor, input: RedteamStart): { id: string } {
  const { report, yaml, scenarios } = beginReport(db, actor, input);
  void execute(db, actor, report, yaml, scenarios, input);
  return { id: report.id };
}

export function redteamCatalogue(): { id: string; category: string; title: string; steps: number }[] {
  return SCENARIOS.map((s) => ({ id: s.id, category: s.category, title: s.title, steps: s.steps.length }));
}
