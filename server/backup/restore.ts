// `airlock restore DIR`: a verified backup back into an empty data directory.
// It never writes into a directory that holds anything (nothing there can be
// lost), checks the whole backup first, re-checks every file's checksum as it
// copies it (a backup changed after the check is caught), and leaves the note
// that makes the next start end the runs whose sandboxes did not come back.
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { DomainError } from "@/server/errors/domain-error";
import { verifyAuditChain } from "@/server/audit/chain";
import { copyFileHashed, isEmptyOrMissing } from "./files";
import { backupAuditKey, DATA_PREFIX, openBackupDatabase, verifyBackup, type BackupManifest } from "./manifest";
import { writeRestoreMarker } from "./restore-marker";

export interface RestoreResult {
  manifest: BackupManifest;
  files: number;
  bytes: number;
  auditCount: number;
  /** Runs the next start ends (their sandboxes are not in the backup). */
  endedAtStart: string[];
}

/** Bits a restore never sets: a setuid file in a workspace is the agent's, not root's to grant. */
const NEVER = 0o6000;

export async function restoreBackup(opts: { dir: string; dataDir: string; onProgress?: (line: string) => void }): Promise<RestoreResult> {
  const dir = path.resolve(opts.dir);
  const dataDir = path.resolve(opts.dataDir);
  const say = opts.onProgress ?? (() => undefined);
  if (!(await isEmptyOrMissing(dataDir))) {
    throw new DomainError(
      "CONFLICT",
      `The data directory ${dataDir} (AIRLOCK_DATA_DIR) is not empty. A restore only fills an empty data directory; nothing was changed. Point AIRLOCK_DATA_DIR at a new directory, or move the current one aside first.`,
    );
  }
  const check = await verifyBackup(dir);
  if (!check.ok || !check.manifest) {
    throw new DomainError("PRECONDITION_FAILED", `The backup in ${dir} does not verify; nothing was restored:\n  ${check.problems.join("\n  ")}`);
  }
  const manifest = check.manifest;
  say(`backup verified: ${manifest.files.length} entries, ${manifest.audit.count} audit events, taken ${manifest.createdAt}`);

  const existed = fs.existsSync(dataDir);
  await fsp.mkdir(dataDir, { recursive: true, mode: 0o700 });
  const asRoot = typeof process.getuid === "function" && process.getuid() === 0;
  let bytes = 0;
  try {
    const dirs: { to: string; mode: number }[] = [];
    for (const entry of manifest.files) {
      const from = path.join(dir, entry.path);
      const to = path.join(dataDir, entry.path.slice(DATA_PREFIX.length + 1));
      if (entry.type === "dir") {
        await fsp.mkdir(to, { mode: 0o700 });
        dirs.push({ to, mode: entry.mode & ~NEVER });
      } else if (entry.type === "symlink") {
        await fsp.symlink(entry.target!, to);
      } else {
        const copied = await copyFileHashed(from, to, entry.mode & ~NEVER);
        if (!copied || copied.sha256 !== entry.sha256) {
          throw new Error(`${entry.path} changed after the backup was verified (its checksum no longer matches the manifest); run the restore again`);
        }
        bytes += copied.size;
      }
      // Workspaces and shadow repositories belong to the agent's uid; keys and the database to Airlock's user.
      if (asRoot) await fsp.lchown(to, entry.uid, entry.gid);
    }
    // Modes of directories last, deepest first: a read-only directory would refuse its own files.
    for (const d of dirs.reverse()) await fsp.chmod(d.to, d.mode);
  } catch (err) {
    // The directory was empty: removing what was written loses nothing.
    if (existed) for (const name of await fsp.readdir(dataDir)) await fsp.rm(path.join(dataDir, name), { recursive: true, force: true });
    else await fsp.rm(dataDir, { recursive: true, force: true });
    throw err;
  }

  const endedAtStart = manifest.runs.active.filter((r) => r.state !== "queued").map((r) => r.id);
  if (endedAtStart.length)
    writeRestoreMarker(dataDir, { backupCreatedAt: manifest.createdAt, restoredAt: new Date().toISOString(), activeRunIds: endedAtStart });

  // The restored chain, under the restored key: what `airlock audit verify` will say.
  const restored = openBackupDatabase(path.join(dataDir, "airlock.db"));
  try {
    const audit = verifyAuditChain(restored, { key: backupAuditKey(dataDir) });
    if (!audit.ok) throw new Error(`the restored audit chain does not verify: ${audit.problem}`);
    return { manifest, files: manifest.files.length, bytes, auditCount: audit.count, endedAtStart };
  } finally {
    restored.$client.close();
  }
}
