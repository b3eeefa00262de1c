// A workspace source that brings configuration able to arm later commands
// (.git/hooks/pre-commit, .vscode/tasks.json, .npmrc…, the table in
// server/policy/arming.ts) is flagged when the run starts: one run event
// lists the files, runs.get carries them, and the run page warns reviewers
// before they approve the commands such files would turn into programs.
import type { Dirent } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { and, desc, eq, sql } from "drizzle-orm";
import type { Db } from "@/db/client";
import { runEvents } from "@/db/schema";
import { publishRunEvent } from "@/server/events/bus";
import { isArmingConfigFile } from "@/server/policy/arming";

/** The note's `source`, so runs.get finds the one event that lists the files. */
export const ARMED_CONFIG_SOURCE = "armed-config";
/** A workspace larger than this is only partly scanned (the note says so). */
const MAX_ENTRIES_SCANNED = 50_000;
const MAX_FILES_LISTED = 100;
/** Directories no command reads configuration from: installed dependencies (git's object store is skipped too). */
const SKIPPED_DIRS = new Set(["node_modules", ".venv", "__pycache__"]);

/** Workspace-relative paths of arming configuration files under `dir` (links count: they are there), sorted. */
export async function findArmedConfigFiles(dir: string): Promise<{ files: string[]; complete: boolean }> {
  const files: string[] = [];
  let scanned = 0;
  const queue: string[] = [""];
  while (queue.length > 0) {
    const rel = queue.shift()!;
    let entries: Dirent[];
    try {
      entries = await fs.readdir(path.join(dir, rel), { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      if (++scanned > MAX_ENTRIES_SCANNED) return { files: files.sort(), complete: false };
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (!SKIPPED_DIRS.has(e.name) && !(e.name === "objects" && path.basename(rel) === ".git")) queue.push(p);
        continue;
      }
      if (isArmingConfigFile(p) && files.length < MAX_FILES_LISTED) files.push(p);
    }
  }
  return { files: files.sort(), complete: true };
}

/** Scans a freshly populated workspace and records what it found (nothing when nothing is found). Never throws. */
export async function flagArmedConfig(db: Db, runId: string, workspaceDir: string): Promise<string[]> {
  try {
    const { files, complete } = await findArmedConfigFiles(workspaceDir);
    if (files.length === 0) return [];
    const shown = files.slice(0, 5).join(", ") + (files.length > 5 ? ` and ${files.length - 5} more` : "");
    publishRunEvent(db, runId, "note", {
      source: ARMED_CONFIG_SOURCE,
      text: `This repository carries files that can make commands run programs: ${shown} — review before approving.${complete ? "" : " (The workspace is large; only part of it was scanned.)"}`,
      armedConfigFiles: files,
      complete,
    });
    return files;
  } catch (err) {
    console.error(`airlock: could not scan run ${runId}'s workspace for configuration that runs programs:`, err);
    return [];
  }
}

/** The files flagged when the run's workspace was set up (runs.get). */
export function armedConfigFilesOf(db: Db, runId: string): string[] {
  const row = db
    .select({ payload: runEvents.payload })
    .from(runEvents)
    .where(and(eq(runEvents.runId, runId), eq(runEvents.type, "note"), sql`json_extract(${runEvents.payload}, '$.source') = ${ARMED_CONFIG_SOURCE}`))
    .orderBy(desc(runEvents.id))
    .limit(1)
    .get();
  const files = (row?.payload as { armedConfigFiles?: unknown } | undefined)?.armedConfigFiles;
  return Array.isArray(files) ? files.filter((f): f is string => typeof f === "string") : [];
}
