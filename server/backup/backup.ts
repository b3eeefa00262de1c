// `airlock backup DIR`: a consistent copy of a data directory while the
// dashboard runs and runs are active. The data directory's layout (what is
// copied, and how it is kept consistent):
//
//   airlock.db (+ -wal, -shm)  SQLite's online backup API from a connection of
//                              our own: a snapshot of one moment, WAL included.
//   keys/                      auth-secret (session JWTs), secrets.key (secret
//                              values), audit.key (the audit seal), vapid.json
//                              (Web Push), and any other key file there.
//   checkpoints/<run>.git      shadow repositories: refs first, then objects
//                              (objects are written before the refs naming
//                              them), then `git fsck` of the copy plus a check
//                              that every checkpoint the database copy names is
//                              in it; copied again (3 tries) when a repack or
//                              a checkpoint raced the copy.
//   workspaces/<run>/          a finished run's as is; an active run's with its
//                              container frozen (docker pause, as checkpoints
//                              do) so the agent's writes cannot tear the copy.
//   uploads/<id>               archives the database copy knows (a half-written
//                              upload has no row yet and is left out).
//   left out                   checkpoints/.home (git's scratch HOME), cache/,
//                              tmp/, dockerd.log, server.log, *.lock, *.sock,
//                              *.pid, sockets and fifos, the restore note.
//   anything else              copied as found and named in the manifest.
//
// Not in a backup: containers and container snapshots (images in the engine):
// a restored run that was active cannot go on, and is ended at the next start
// (restore-marker.ts). The manifest is written last: a backup without one is
// unfinished.
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import Database from "better-sqlite3";
import type { Db } from "@/db/client";
import { TERMINAL_STATES } from "@/server/runs/state-machine";
import type { SandboxRuntime } from "@/server/sandbox/runtime";
import { onRemoteEngine } from "@/server/workspace/remote";
import { DomainError } from "@/server/errors/domain-error";
import { AnchorRefused, publishAuditAnchor } from "@/server/audit/anchor";
import { runGit } from "@/server/workspace/git";
import { copyFileHashed, copyTree, isEmptyOrMissing, sha256File, EXCLUDED_NAME, type ManifestEntry } from "./files";
import { BACKUP_FORMAT, BACKUP_FORMAT_VERSION, DATA_PREFIX, DATABASE_ENTRY, MANIFEST_FILE, shadowRepoProblem, type BackupManifest } from "./manifest";
import { RESTORE_MARKER } from "./restore-marker";

/** Top-level entries of the data directory that are never part of a backup, and why. */
const LEFT_OUT: Record<string, string> = {
  cache: "download cache of the sandbox image build",
  tmp: "scratch space of the sandbox image build",
  "dockerd.log": "log of the Docker engine started by the scripts",
  "server.log": "log of the dashboard",
  [RESTORE_MARKER]: "the note of an earlier restore",
};
const DATABASE_FILES = new Set(["airlock.db", "airlock.db-wal", "airlock.db-shm", "airlock.db-journal"]);
const HANDLED = new Set(["keys", "checkpoints", "workspaces", "uploads"]);
const SHADOW_REPO_TRIES = 3;
/** How long to wait for a container someone else froze (a checkpoint or rollback in progress) to be thawed. */
const FREEZE_WAIT_MS = 5_000;

export interface BackupOptions {
  /** The live database (the dashboard holds it open too: WAL mode allows both). */
  db: Db;
  dataDir: string;
  dir: string;
  /** The engine of this data directory's sandboxes, to freeze active runs' containers; null when it cannot be reached. */
  runtime: SandboxRuntime | null;
  airlockVersion: string;
  onProgress?: (line: string) => void;
}

export async function createBackup(opts: BackupOptions): Promise<BackupManifest> {
  const started = Date.now();
  const dataDir = path.resolve(opts.dataDir);
  const dir = path.resolve(opts.dir);
  if (dir === dataDir || dir.startsWith(dataDir + path.sep)) {
    throw new DomainError("INVALID_INPUT", `${dir} is inside the data directory ${dataDir}; put the backup elsewhere (ideally on another disk or machine).`);
  }
  if (!(await isEmptyOrMissing(dir))) {
    throw new DomainError("CONFLICT", `${dir} is not empty. Give a new or empty directory for the backup; nothing was written.`);
  }
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  await fsp.chmod(dir, 0o700); // it holds the keys
  try {
    return await fillBackup(opts, dataDir, dir, started);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === "ENOSPC" || e.code === "SQLITE_FULL" ? `the disk holding ${dir} is full` : e.message;
    throw new Error(`The backup failed: ${why}. ${dir} is incomplete (it has no ${MANIFEST_FILE}): delete it, fix the cause and run the backup again.`, {
      cause: err,
    });
  }
}

async function fillBackup(opts: BackupOptions, dataDir: string, dir: string, started: number): Promise<BackupManifest> {
  const createdAt = new Date(started).toISOString();
  const say = opts.onProgress ?? (() => undefined);
  const dataRoot = path.join(dir, DATA_PREFIX);
  await fsp.mkdir(dataRoot, { mode: 0o700 });
  const files: ManifestEntry[] = [];
  const excluded: string[] = [];
  const dirEntry = async (src: string, rel: string) => {
    const st = await fsp.lstat(src);
    await fsp.mkdir(path.join(dir, rel), { mode: 0o700 });
    files.push({ path: rel, type: "dir", mode: st.mode & 0o7777, uid: st.uid, gid: st.gid });
  };

  // 1. The database: one consistent moment. Everything else is read against this copy.
  const dbCopy = path.join(dir, DATABASE_ENTRY);
  // After the first step, the rest in one step: a write by the dashboard between two steps would restart the copy,
  // and a busy instance could keep restarting a copy made 100 pages at a time. One step holds a WAL read snapshot, which
  // does not block the dashboard's writes.
  await opts.db.$client.backup(dbCopy, { progress: () => 0x7fffffff });
  const facts = readDatabaseCopy(dbCopy);
  const dbStat = await fsp.stat(dbCopy);
  await fsp.chmod(dbCopy, 0o600);
  files.push({ path: DATABASE_ENTRY, type: "file", mode: 0o600, uid: dbStat.uid, gid: dbStat.gid, ...(await sha256File(dbCopy)) });
  say(`database copied: ${facts.audit.count} audit events, ${facts.runs.length} runs`);

  // Publish the chain's head outside the machine now, at or just past the head this copy holds (facts.audit, also in the
  // manifest): `audit verify --anchor` then proves any later copy extends it. A backup is not refused for want of an
  // anchor (none may be configured, a receiver may be down); it says what happened.
  try {
    const anchored = await publishAuditAnchor(opts.db, { reason: "backup" });
    if (anchored.skipped) say(`audit anchor not published: ${anchored.skipped}`);
    for (const d of anchored.deliveries)
      say(`audit anchor ${d.ok ? "published to" : "NOT published to"} ${d.kind} ${d.target}${d.error ? `: ${d.error}` : ""}`);
  } catch (error) {
    if (!(error instanceof AnchorRefused)) throw error;
    say(`audit anchor refused: ${error.message}`);
  }

  // 2. Keys: every file in keys/ (small; written once, never rewritten in place).
  const keys: string[] = [];
  const keysDir = path.join(dataDir, "keys");
  if (fs.existsSync(keysDir)) {
    await dirEntry(keysDir, `${DATA_PREFIX}/keys`);
    const copied = await copyTree(keysDir, path.join(dataRoot, "keys"), `${DATA_PREFIX}/keys`);
    files.push(...copied.entries);
    keys.push(...copied.entries.filter((e) => e.type === "file").map((e) => e.path.slice(`${DATA_PREFIX}/keys/`.length)));
  }

  // 3. Uploads the database copy knows.
  const uploadIds: string[] = [];
  const uploadsDir = path.join(dataDir, "uploads");
  if (fs.existsSync(uploadsDir)) {
    await dirEntry(uploadsDir, `${DATA_PREFIX}/uploads`);
    const known = new Set(facts.uploadIds);
    for (const name of (await fsp.readdir(uploadsDir)).sort()) {
      if (!known.has(name)) {
        excluded.push(`uploads/${name} (no upload of that id in the database copy: still being written, or left over)`);
        continue;
      }
      const src = path.join(uploadsDir, name);
      const st = await fsp.lstat(src).catch(() => null);
      if (!st?.isFile()) continue;
      const copied = await copyFileHashed(src, path.join(dataRoot, "uploads", name), st.mode);
      if (!copied) continue;
      files.push({ path: `${DATA_PREFIX}/uploads/${name}`, type: "file", mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, ...copied });
      uploadIds.push(name);
    }
  }

  // 4. Shadow repositories.
  const shadowRepos: string[] = [];
  const checkpointsDir = path.join(dataDir, "checkpoints");
  if (fs.existsSync(checkpointsDir)) {
    await dirEntry(checkpointsDir, `${DATA_PREFIX}/checkpoints`);
    for (const name of (await fsp.readdir(checkpointsDir)).sort()) {
      const src = path.join(checkpointsDir, name);
      if (name === ".home" || EXCLUDED_NAME.test(name)) continue;
      const st = await fsp.lstat(src).catch(() => null);
      if (!st) continue;
      const runId = name.endsWith(".git") ? name.slice(0, -4) : null;
      if (runId && st.isDirectory() && fs.existsSync(path.join(src, "HEAD"))) {
        files.push(...(await copyShadowRepo(src, path.join(dataRoot, "checkpoints", name), `${DATA_PREFIX}/checkpoints/${name}`, facts.commitsOf(runId))));
        shadowRepos.push(runId);
      } else {
        files.push(...(await copyEntry(src, path.join(dataRoot, "checkpoints", name), `${DATA_PREFIX}/checkpoints/${name}`, st, excluded)));
      }
    }
    say(`${shadowRepos.length} shadow repositories copied and checked with git fsck`);
  }

  // 5. Workspaces; an active run's with its container frozen.
  const activeById = new Map(facts.runs.filter((r) => !TERMINAL_STATES.includes(r.state as never)).map((r) => [r.id, r]));
  const active: BackupManifest["runs"]["active"] = [];
  const workspaceIds: string[] = [];
  const workspacesDir = path.join(dataDir, "workspaces");
  if (fs.existsSync(workspacesDir)) {
    await dirEntry(workspacesDir, `${DATA_PREFIX}/workspaces`);
    for (const name of (await fsp.readdir(workspacesDir)).sort()) {
      const src = path.join(workspacesDir, name);
      const st = await fsp.lstat(src).catch(() => null);
      if (!st?.isDirectory()) continue;
      const run = activeById.get(name);
      const copy = async () => {
        await fsp.mkdir(path.join(dataRoot, "workspaces", name), { mode: 0o700 });
        const copied = await copyTree(src, path.join(dataRoot, "workspaces", name), `${DATA_PREFIX}/workspaces/${name}`);
        excluded.push(...copied.skipped.map((p) => `${p.slice(DATA_PREFIX.length + 1)} (a socket, fifo or device)`));
        return [{ path: `${DATA_PREFIX}/workspaces/${name}`, type: "dir" as const, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid }, ...copied.entries];
      };
      if (run?.containerId && run.state !== "queued" && onRemoteEngine({ engine: null, containerId: run.containerId })) {
        // Issue 17: the sandbox's /workspace is a volume on another engine; the mirror here is what its last checkpoint pulled.
        files.push(...(await copy()));
        active.push({ id: run.id, state: run.state, containerId: run.containerId, frozen: false, workspace: true, note: REMOTE_WORKSPACE_NOTE });
      } else if (run?.containerId && run.state !== "queued") {
        const { result, frozen, note } = await withFrozenContainer(opts.runtime, run.containerId, copy);
        files.push(...result);
        active.push({ id: run.id, state: run.state, containerId: run.containerId, frozen, workspace: true, note });
      } else {
        files.push(...(await copy()));
      }
      workspaceIds.push(name);
    }
  }
  for (const run of activeById.values()) {
    if (active.some((a) => a.id === run.id)) continue;
    const note =
      run.state === "queued" ? "queued: no sandbox yet; it starts after a restore like any queued run" : "no workspace on disk when the backup was taken";
    active.push({ id: run.id, state: run.state, containerId: run.containerId, frozen: false, workspace: false, note });
  }
  say(`${workspaceIds.length} workspaces copied (${active.filter((a) => a.frozen).length} of active runs, each with its container frozen while copied)`);

  // 6. The rest of the data directory.
  const other: string[] = [];
  for (const name of (await fsp.readdir(dataDir)).sort()) {
    if (DATABASE_FILES.has(name) || HANDLED.has(name)) continue;
    if (LEFT_OUT[name]) {
      excluded.push(`${name} (${LEFT_OUT[name]})`);
      continue;
    }
    if (EXCLUDED_NAME.test(name)) {
      excluded.push(`${name} (a lock, socket or pid file)`);
      continue;
    }
    const st = await fsp.lstat(path.join(dataDir, name)).catch(() => null);
    if (!st) continue;
    const entries = await copyEntry(path.join(dataDir, name), path.join(dataRoot, name), `${DATA_PREFIX}/${name}`, st, excluded);
    if (entries.length) other.push(name);
    files.push(...entries);
  }

  const finished = Date.now();
  const manifest: BackupManifest = {
    format: BACKUP_FORMAT,
    formatVersion: BACKUP_FORMAT_VERSION,
    airlockVersion: opts.airlockVersion,
    schemaMigration: facts.migrationTag,
    createdAt,
    finishedAt: new Date(finished).toISOString(),
    durationMs: finished - started,
    sourceDataDir: dataDir,
    audit: facts.audit,
    keys,
    uploads: uploadIds,
    runs: { active, workspaces: workspaceIds, shadowRepos },
    other,
    excluded,
    totalBytes: files.reduce((n, f) => n + (f.size ?? 0), 0),
    files,
  };
  // Written last, through a temporary name: a backup with a manifest is a finished one.
  const tmp = path.join(dir, `.${MANIFEST_FILE}.partial`);
  await fsp.writeFile(tmp, JSON.stringify(manifest, null, 1) + "\n", { mode: 0o600 });
  await fsp.rename(tmp, path.join(dir, MANIFEST_FILE));
  return manifest;
}

interface DatabaseFacts {
  audit: BackupManifest["audit"];
  runs: { id: string; state: string; containerId: string | null }[];
  uploadIds: string[];
  migrationTag: string | null;
  commitsOf: (runId: string) => string[];
}

/**
 * Reads what the rest of the backup is checked against from the copy, and
 * turns the copy into a rollback-journal database: read-only opens of it
 * (verify) then write nothing next to it. A restore's first open turns WAL
 * back on.
 */
function readDatabaseCopy(file: string): DatabaseFacts {
  const sqlite = new Database(file);
  try {
    sqlite.pragma("journal_mode = DELETE");
    const head = sqlite.prepare("select count, last_seq as lastSeq, last_hash as lastHash, mac from audit_head where id = 1").get() as
      { count: number; lastSeq: number; lastHash: string; mac: string | null } | undefined;
    const runs = sqlite.prepare("select id, state, container_id as containerId from runs").all() as DatabaseFacts["runs"];
    const uploadIds = (sqlite.prepare("select id from uploads").pluck().all() as string[]).map(String);
    const commits = new Map<string, string[]>();
    for (const row of sqlite.prepare("select run_id as runId, commit_sha as sha from checkpoints").all() as { runId: string; sha: string }[]) {
      commits.set(row.runId, [...(commits.get(row.runId) ?? []), row.sha]);
    }
    const lastMigration = sqlite.prepare("select created_at from __drizzle_migrations order by created_at desc limit 1").pluck().get() as number | undefined;
    return {
      audit: { count: head?.count ?? 0, lastSeq: head?.lastSeq ?? 0, lastHash: head?.lastHash ?? "", sealed: Boolean(head?.mac) },
      runs,
      uploadIds,
      migrationTag: lastMigration === undefined ? null : migrationTagOf(Number(lastMigration)),
      commitsOf: (runId) => commits.get(runId) ?? [],
    };
  } finally {
    sqlite.close();
  }
}

function migrationTagOf(when: number): string {
  try {
    const journal = JSON.parse(fs.readFileSync(path.join(process.cwd(), "db", "migrations", "meta", "_journal.json"), "utf8")) as {
      entries: { tag: string; when: number }[];
    };
    return journal.entries.find((e) => e.when === when)?.tag ?? `unknown migration of ${new Date(when).toISOString()}`;
  } catch {
    return `migration of ${new Date(when).toISOString()}`;
  }
}

/** A shadow repository, copied until the copy is a whole repository holding every checkpoint the database copy names. */
async function copyShadowRepo(src: string, dst: string, prefix: string, commits: string[]): Promise<ManifestEntry[]> {
  const st = await fsp.lstat(src);
  let problem = "";
  for (let attempt = 1; attempt <= SHADOW_REPO_TRIES; attempt++) {
    await fsp.rm(dst, { recursive: true, force: true });
    await fsp.mkdir(dst, { mode: 0o700 });
    // Refs before objects: an object is always written before a ref names it, so the copied refs' objects are there
    // unless a repack moved them meanwhile, which the check below catches.
    const isRefs = (rel: string) => rel === "HEAD" || rel === "packed-refs" || rel === "refs";
    const refs = await copyTree(src, dst, prefix, { only: isRefs });
    const rest = await copyTree(src, dst, prefix, { only: (rel) => !isRefs(rel) });
    problem = (await shadowRepoProblem(dst)) ?? (await missingCommits(dst, commits)) ?? "";
    if (!problem) return [{ path: prefix, type: "dir", mode: st.mode & 0o7777, uid: st.uid, gid: st.gid }, ...refs.entries, ...rest.entries];
  }
  throw new Error(
    `The copy of ${src} is not a whole git repository after ${SHADOW_REPO_TRIES} tries (${problem}). Check the repository with git fsck, then run the backup again.`,
  );
}

async function missingCommits(gitDir: string, commits: string[]): Promise<string | null> {
  if (commits.length === 0) return null;
  const home = path.join(path.dirname(gitDir), `.home-check-${process.pid}`);
  await fsp.mkdir(home, { recursive: true, mode: 0o700 });
  try {
    const r = await runGit({ gitDir, homeDir: home, asAgent: false }, ["cat-file", "--batch-check"], { input: commits.join("\n") + "\n", cwd: home });
    const missing = r.stdout
      .toString()
      .split("\n")
      .filter((l) => l.endsWith(" missing"));
    return missing.length ? `${missing.length} checkpoint commit(s) the database names are missing, e.g. ${missing[0]!.split(" ")[0]}` : null;
  } finally {
    await fsp.rm(home, { recursive: true, force: true });
  }
}

/** One entry of the data directory not otherwise handled: a file, a link or a tree. */
async function copyEntry(src: string, dst: string, rel: string, st: fs.Stats, excluded: string[]): Promise<ManifestEntry[]> {
  const base = { path: rel, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
  if (st.isDirectory()) {
    await fsp.mkdir(dst, { mode: 0o700 });
    const copied = await copyTree(src, dst, rel);
    excluded.push(...copied.skipped.map((p) => `${p.slice(DATA_PREFIX.length + 1)} (a socket, fifo or device)`));
    return [{ ...base, type: "dir" }, ...copied.entries];
  }
  if (st.isSymbolicLink()) {
    const target = await fsp.readlink(src);
    await fsp.symlink(target, dst);
    return [{ ...base, type: "symlink", target }];
  }
  if (st.isFile()) {
    const copied = await copyFileHashed(src, dst, st.mode);
    return copied ? [{ ...base, type: "file", ...copied }] : [];
  }
  excluded.push(`${rel.slice(DATA_PREFIX.length + 1)} (a socket, fifo or device)`);
  return [];
}

/**
 * Runs `copy` with the container frozen. A container someone else froze (a
 * checkpoint or a rollback writing the workspace) is waited for; one that
 * cannot be frozen (stopped, or the engine is unreachable) is copied as it is,
 * and the manifest says so.
 */
async function withFrozenContainer<T>(
  runtime: SandboxRuntime | null,
  containerId: string,
  copy: () => Promise<T>,
): Promise<{ result: T; frozen: boolean; note: string }> {
  if (!runtime) return { result: await copy(), frozen: false, note: "copied without freezing: the container engine could not be reached" };
  const deadline = Date.now() + FREEZE_WAIT_MS;
  let paused = false;
  try {
    for (;;) {
      paused = await runtime.pauseSandbox(containerId);
      if (paused || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 200));
    }
  } catch (err) {
    return { result: await copy(), frozen: false, note: `copied without freezing: ${(err as Error).message}` };
  }
  if (!paused) return { result: await copy(), frozen: false, note: "copied without freezing: the container was not running (or stayed frozen by Airlock)" };
  const thaw = () => runtime.unpauseSandbox(containerId);
  frozenNow.add(thaw);
  try {
    return { result: await copy(), frozen: true, note: "copied with its container frozen" };
  } finally {
    frozenNow.delete(thaw);
    await thaw();
  }
}

const REMOTE_WORKSPACE_NOTE = "on a remote engine: its workspace as of its last checkpoint (the host mirror), not the sandbox's volume";

/** Thaws of the containers frozen right now, for an interrupted backup (Ctrl-C): nothing else would ever thaw them. */
const frozenNow = new Set<() => Promise<void>>();

/** Unfreezes every container the backup froze; call before exiting on a signal. */
export async function thawFrozenSandboxes(): Promise<number> {
  const thaws = [...frozenNow];
  frozenNow.clear();
  await Promise.allSettled(thaws.map((t) => t()));
  return thaws.length;
}
