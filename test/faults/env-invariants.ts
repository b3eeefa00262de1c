// What must hold after an environment fault (engine restart, full disk): the
// audit chain verifies, SQLite finds no corruption, every run is terminal with
// a reason or still live in this process, and no Airlock container of this
// instance is left without a live run. (The lead unifies this with the kill
// suite's checkInvariants at merge.)
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import type Docker from "dockerode";
import { notInArray } from "drizzle-orm";
import type { Db } from "@/db/client";
import { runs } from "@/db/schema";
import { verifyAuditChain } from "@/server/audit/chain";
import { INSTANCE_LABEL, RUN_LABEL } from "@/server/sandbox/runtime";
import { TERMINAL_STATES } from "@/server/runs/state-machine";

export interface EnvInvariantReport {
  problems: string[];
}

/** `dataDir`: also `git fsck` every shadow repository under it. */
export async function checkEnvInvariants(opts: {
  db: Db;
  docker: Docker;
  instance: string;
  liveRunIds?: string[];
  dataDir?: string;
}): Promise<EnvInvariantReport> {
  const problems: string[] = [];
  const verify = verifyAuditChain(opts.db);
  if (!verify.ok) problems.push(`audit chain broken at ${verify.firstBrokenId ?? "?"} (${verify.count} events)`);
  const integrity = opts.db.$client.pragma("integrity_check") as { integrity_check: string }[];
  if (integrity.length !== 1 || integrity[0]?.integrity_check !== "ok") problems.push(`integrity_check: ${JSON.stringify(integrity)}`);
  const live = new Set(opts.liveRunIds ?? []);
  const active = opts.db
    .select()
    .from(runs)
    .where(notInArray(runs.state, [...TERMINAL_STATES]))
    .all();
  for (const r of active) if (!live.has(r.id)) problems.push(`run ${r.id} is ${r.state}, neither terminal nor live`);
  for (const r of opts.db.select().from(runs).all())
    if (TERMINAL_STATES.includes(r.state as (typeof TERMINAL_STATES)[number]) && r.state !== "succeeded" && !r.endedReason)
      problems.push(`run ${r.id} ended ${r.state} without a reason`);
  const containers = await opts.docker.listContainers({ all: true, filters: { label: [`${INSTANCE_LABEL}=${opts.instance}`] } });
  const activeIds = new Set(active.map((r) => r.id));
  for (const c of containers) {
    const runId = c.Labels[RUN_LABEL];
    if (!runId || !activeIds.has(runId)) problems.push(`container ${c.Id.slice(0, 12)} (${c.State}) has no active run (run ${runId ?? "?"})`);
  }
  if (opts.dataDir) {
    const dir = path.join(opts.dataDir, "checkpoints");
    for (const repo of fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => n.endsWith(".git")) : []) {
      try {
        execFileSync("git", ["--git-dir", path.join(dir, repo), "fsck", "--no-progress"], { stdio: "pipe" });
      } catch (err) {
        problems.push(`git fsck ${repo}: ${String((err as { stderr?: Buffer }).stderr ?? err).slice(0, 500)}`);
      }
    }
  }
  return { problems };
}
