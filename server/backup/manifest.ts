// A backup's manifest (DIR/manifest.json) and the check of a backup against
// it: every file's checksum, nothing missing or extra, the parts a restore
// needs, the database's integrity and its audit chain (under the backup's own
// audit key). Used by `airlock backup --verify` and before every restore.
import fs from "node:fs";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { drizzle } from "drizzle-orm/better-sqlite3";
import { z } from "zod";
import type { Db } from "@/db/client";
import * as schema from "@/db/schema";
import { verifyAuditChain } from "@/server/audit/chain";
import { runGit } from "@/server/workspace/git";
import { listTree, sha256File, type ManifestEntry } from "./files";

export const MANIFEST_FILE = "manifest.json";
export const BACKUP_FORMAT = "airlock-backup";
export const BACKUP_FORMAT_VERSION = 1;
/** Everything of the data directory sits under DIR/data/, laid out as in the data directory. */
export const DATA_PREFIX = "data";
export const DATABASE_ENTRY = `${DATA_PREFIX}/airlock.db`;

const entrySchema = z.object({
  path: z.string().min(1),
  type: z.enum(["file", "dir", "symlink"]),
  mode: z.number().int().min(0).max(0o7777),
  uid: z.number().int().min(0),
  gid: z.number().int().min(0),
  size: z.number().int().min(0).optional(),
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
  target: z.string().optional(),
});

const manifestSchema = z.object({
  format: z.literal(BACKUP_FORMAT),
  formatVersion: z.number().int(),
  airlockVersion: z.string(),
  schemaMigration: z.string().nullable(),
  createdAt: z.string(),
  finishedAt: z.string(),
  durationMs: z.number(),
  sourceDataDir: z.string(),
  audit: z.object({ count: z.number().int().min(0), lastSeq: z.number().int().min(0), lastHash: z.string(), sealed: z.boolean() }),
  keys: z.array(z.string()),
  uploads: z.array(z.string()),
  runs: z.object({
    /** Runs not finished when the database was copied; a restore ends those that had a sandbox (see restore.ts). */
    active: z.array(
      z.object({ id: z.string(), state: z.string(), containerId: z.string().nullable(), frozen: z.boolean(), workspace: z.boolean(), note: z.string() }),
    ),
    workspaces: z.array(z.string()),
    shadowRepos: z.array(z.string()),
  }),
  other: z.array(z.string()),
  excluded: z.array(z.string()),
  totalBytes: z.number().int().min(0),
  files: z.array(entrySchema),
});

export type BackupManifest = z.infer<typeof manifestSchema>;

export interface BackupCheck {
  ok: boolean;
  problems: string[];
  manifest: BackupManifest | null;
  /** Audit events in the backup's database, when it could be read. */
  auditCount: number | null;
}

/** A manifest path must stay inside the backup and under data/ (a restore writes exactly there). */
function unsafePath(p: string): boolean {
  if (p.includes("\\") || p.includes("\0") || path.posix.isAbsolute(p)) return true;
  const parts = p.split("/");
  return parts[0] !== DATA_PREFIX || parts.some((s) => s === "" || s === "." || s === "..");
}

export async function readManifest(dir: string): Promise<{ manifest: BackupManifest | null; problem: string | null }> {
  let text: string;
  try {
    text = await fsp.readFile(path.join(dir, MANIFEST_FILE), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      const exists = fs.existsSync(dir);
      return {
        manifest: null,
        problem: exists
          ? `${MANIFEST_FILE} is missing in ${dir}: this is not a finished Airlock backup (the manifest is written last, so the backup was interrupted or the file was deleted)`
          : `${dir} does not exist`,
      };
    }
    throw err;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { manifest: null, problem: `${MANIFEST_FILE} is not valid JSON (damaged or edited)` };
  }
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { manifest: null, problem: `${MANIFEST_FILE} is not an Airlock backup manifest (${issue.path.join(".") || "top level"}: ${issue.message})` };
  }
  if (parsed.data.formatVersion > BACKUP_FORMAT_VERSION) {
    return {
      manifest: null,
      problem: `the backup has format version ${parsed.data.formatVersion}, made by a newer Airlock (${parsed.data.airlockVersion}); this Airlock reads version ${BACKUP_FORMAT_VERSION}. Use the newer Airlock.`,
    };
  }
  const bad = parsed.data.files.find((f) => unsafePath(f.path));
  if (bad)
    return { manifest: null, problem: `${MANIFEST_FILE} names the path ${JSON.stringify(bad.path)}, outside the backup's data/ directory (edited manifest)` };
  // A restore writes entries in order: each must sit in a directory listed before it, never under a symlink it made.
  const dirs = new Set([DATA_PREFIX]);
  for (const f of parsed.data.files) {
    if (!dirs.has(path.posix.dirname(f.path))) {
      return {
        manifest: null,
        problem: `${MANIFEST_FILE} lists ${f.path} before its directory, or inside something that is not a directory (edited manifest)`,
      };
    }
    if (f.type === "dir") dirs.add(f.path);
    if (f.type === "file" && (f.size === undefined || f.sha256 === undefined))
      return { manifest: null, problem: `${MANIFEST_FILE} gives no size or checksum for ${f.path}` };
    if (f.type === "symlink" && f.target === undefined) return { manifest: null, problem: `${MANIFEST_FILE} gives no target for the symlink ${f.path}` };
  }
  return { manifest: parsed.data, problem: null };
}

/** The backup's database, read-only (the copy is in rollback-journal mode, so reading it writes nothing next to it). */
export function openBackupDatabase(file: string): Db {
  const sqlite = new Database(file, { readonly: true, fileMustExist: true });
  return drizzle(sqlite, { schema }) as Db;
}

/** The backup's audit key (keys/audit.key), decoded as keys.ts does; null when it is not there. */
export function backupAuditKey(dataRoot: string): { key: Buffer | null; file: string } {
  const file = path.join(dataRoot, "keys", "audit.key");
  try {
    const key = Buffer.from(fs.readFileSync(file, "utf8").trim(), "base64");
    return { key: key.length === 32 ? key : null, file };
  } catch {
    return { key: null, file };
  }
}

/** A problem with a git directory, or null (`git fsck` of what a restore would bring back). */
export async function shadowRepoProblem(gitDir: string): Promise<string | null> {
  const home = await fsp.mkdtemp(path.join(os.tmpdir(), "airlock-backup-git-"));
  try {
    const r = await runGit({ gitDir, homeDir: home, asAgent: false }, ["fsck", "--connectivity-only", "--no-dangling", "--no-progress"], {
      okCodes: [1, 2, 128],
      timeoutMs: 300_000,
      cwd: home,
    });
    return r.code === 0 ? null : r.stderr.trim().split("\n").slice(0, 3).join("; ") || `git fsck exited ${r.code}`;
  } finally {
    await fsp.rm(home, { recursive: true, force: true });
  }
}

/**
 * Checks the backup in `dir` without restoring it. Every problem found is
 * named (the file, and what is wrong with it); ok only when there is none.
 */
export async function verifyBackup(dir: string): Promise<BackupCheck> {
  const root = path.resolve(dir);
  const { manifest, problem } = await readManifest(root);
  if (!manifest) return { ok: false, problems: [problem!], manifest: null, auditCount: null };
  const problems: string[] = [];

  // Files: the manifest's list against what is on disk, both ways.
  const listed = new Map(manifest.files.map((f) => [f.path, f]));
  const onDisk = new Map<string, { type: string; size: number }>();
  const dataRoot = path.join(root, DATA_PREFIX);
  if (fs.existsSync(dataRoot)) for (const e of await listTree(dataRoot)) onDisk.set(`${DATA_PREFIX}/${e.rel}`, e);
  else problems.push(`${DATA_PREFIX}/ is missing: the backup holds no data`);
  for (const name of await fsp.readdir(root)) {
    if (name !== MANIFEST_FILE && name !== DATA_PREFIX) problems.push(`extra file ${name}: not in the manifest (added after the backup was taken)`);
  }
  for (const [p, e] of onDisk)
    if (!listed.has(p)) problems.push(`extra ${e.type === "dir" ? "directory" : "file"} ${p}: not in the manifest (added after the backup was taken)`);
  for (const entry of manifest.files) {
    const found = onDisk.get(entry.path);
    if (!found) {
      problems.push(`missing ${entry.type === "dir" ? "directory" : "file"} ${entry.path} (listed in the manifest)`);
      continue;
    }
    if (found.type !== entry.type) {
      problems.push(`${entry.path} is a ${found.type}, the manifest says ${entry.type}`);
      continue;
    }
    if (entry.type === "file") problems.push(...(await fileProblems(root, entry)));
    if (entry.type === "symlink") {
      const target = await fsp.readlink(path.join(root, entry.path));
      if (target !== entry.target) problems.push(`${entry.path}: the symlink points to ${target}, the manifest says ${entry.target}`);
    }
  }

  // Completeness: what a restore needs is listed (a manifest edited to drop a file would pass the checks above).
  const need = (p: string, what: string) => {
    if (!listed.has(p)) problems.push(`the manifest does not list ${p} (${what}): the backup is incomplete`);
  };
  need(DATABASE_ENTRY, "the database");
  if (manifest.audit.sealed) need(`${DATA_PREFIX}/keys/audit.key`, "the audit seal key");
  for (const k of manifest.keys) need(`${DATA_PREFIX}/keys/${k}`, "a key");
  for (const id of manifest.runs.workspaces) need(`${DATA_PREFIX}/workspaces/${id}`, `the workspace of run ${id}`);
  for (const id of manifest.runs.shadowRepos) need(`${DATA_PREFIX}/checkpoints/${id}.git/HEAD`, `the checkpoints of run ${id}`);
  for (const id of manifest.uploads) need(`${DATA_PREFIX}/uploads/${id}`, "an uploaded archive");
  for (const run of manifest.runs.active) if (run.workspace) need(`${DATA_PREFIX}/workspaces/${run.id}`, `the workspace of active run ${run.id}`);

  // The database: opens, is intact, and its audit chain verifies under the backup's key and ends where the manifest says.
  let auditCount: number | null = null;
  const dbFile = path.join(root, DATABASE_ENTRY);
  if (listed.has(DATABASE_ENTRY) && onDisk.get(DATABASE_ENTRY)?.type === "file") {
    let database: Db | null = null;
    try {
      database = openBackupDatabase(dbFile);
      const integrity = database.$client.pragma("integrity_check") as { integrity_check: string }[];
      const bad = integrity.map((r) => r.integrity_check).filter((r) => r !== "ok");
      if (bad.length) problems.push(`${DATABASE_ENTRY} fails PRAGMA integrity_check: ${bad.slice(0, 3).join("; ")}`);
      else {
        const audit = verifyAuditChain(database, { key: backupAuditKey(path.join(root, DATA_PREFIX)) });
        auditCount = audit.count;
        if (!audit.ok) problems.push(`the audit chain in ${DATABASE_ENTRY} does not verify: ${audit.problem} (event #${audit.firstBrokenSeq})`);
        else if (audit.count !== manifest.audit.count)
          problems.push(`the audit chain in ${DATABASE_ENTRY} has ${audit.count} events, the manifest says ${manifest.audit.count}`);
        const secretCount = database.$client.prepare("select count(*) from secrets").pluck().get() as number;
        if (secretCount > 0 && !listed.has(`${DATA_PREFIX}/keys/secrets.key`))
          problems.push(`the database holds ${secretCount} secret(s) but keys/secrets.key is not in the backup: they could not be decrypted after a restore`);
      }
    } catch (err) {
      problems.push(`${DATABASE_ENTRY} cannot be read as an SQLite database: ${(err as Error).message}`);
    } finally {
      database?.$client.close();
    }
  }

  // Shadow repositories: what a restore brings back must be a whole git repository.
  for (const id of manifest.runs.shadowRepos) {
    const gitDir = path.join(root, DATA_PREFIX, "checkpoints", `${id}.git`);
    if (!fs.existsSync(path.join(gitDir, "HEAD"))) continue; // named above
    const gitProblem = await shadowRepoProblem(gitDir);
    if (gitProblem) problems.push(`${DATA_PREFIX}/checkpoints/${id}.git fails git fsck: ${gitProblem}`);
  }
  return { ok: problems.length === 0, problems, manifest, auditCount };
}

async function fileProblems(root: string, entry: ManifestEntry): Promise<string[]> {
  const actual = await sha256File(path.join(root, entry.path));
  if (actual.size !== entry.size) return [`${entry.path}: ${actual.size} bytes, the manifest says ${entry.size} (truncated, grown or replaced)`];
  if (actual.sha256 !== entry.sha256)
    return [
      `${entry.path}: checksum mismatch (sha256 ${actual.sha256.slice(0, 12)}…, the manifest says ${entry.sha256?.slice(0, 12)}…): the file was changed or corrupted`,
    ];
  return [];
}
