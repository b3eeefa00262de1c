// One Airlock process per data directory. Two supervisors on one database would
// both resume the same runs (commands run twice, containers reaped under each
// other), so the process that runs the supervisor holds an exclusive lock.
//
// The lock is the kernel's (SQLite's POSIX advisory lock on `<data>/airlock.lock`,
// held by an open exclusive transaction): it dies with its process, so a
// SIGKILLed Airlock never leaves a stale lock and nothing guesses from a pid.
// Who holds it is written beside it (`airlock.lock.owner`) only to explain a
// refusal: it is read when the lock is taken, never trusted to decide.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";

export interface InstanceOwner {
  pid: number;
  hostname: string;
  startedAt: string;
  /** What took the lock: "dashboard" (npm start), a CLI command, a test. */
  role: string;
}

export interface InstanceLock {
  readonly dataDir: string;
  readonly owner: InstanceOwner;
  release(): void;
}

export class InstanceLockedError extends Error {
  readonly code = "INSTANCE_LOCKED";
  constructor(
    readonly dataDir: string,
    readonly holder: InstanceOwner | null,
  ) {
    const who = holder
      ? `process ${holder.pid} on ${holder.hostname} (${holder.role}, started ${holder.startedAt})`
      : "another process (its details could not be read)";
    super(
      `Another Airlock is already running on the data directory ${dataDir}: ${who} holds its lock (${lockFilePath(dataDir)}). ` +
        "Two Airlocks on one data directory would run the same runs twice. Stop the other one first " +
        "(or give this one its own AIRLOCK_DATA_DIR); CLI commands such as `airlock doctor`, `airlock audit verify` and " +
        "`airlock user create` work while it runs.",
    );
    this.name = "InstanceLockedError";
  }
}

export function lockFilePath(dataDir: string): string {
  return path.join(dataDir, "airlock.lock");
}

function ownerFilePath(dataDir: string): string {
  return path.join(dataDir, "airlock.lock.owner");
}

export function readInstanceOwner(dataDir: string): InstanceOwner | null {
  try {
    const parsed = JSON.parse(fs.readFileSync(ownerFilePath(dataDir), "utf8")) as Partial<InstanceOwner>;
    if (typeof parsed.pid !== "number") return null;
    return {
      pid: parsed.pid,
      hostname: String(parsed.hostname ?? "?"),
      startedAt: String(parsed.startedAt ?? "?"),
      role: String(parsed.role ?? "?"),
    };
  } catch {
    return null;
  }
}

function isBusy(err: unknown): boolean {
  const code = (err as { code?: string }).code ?? "";
  return code.startsWith("SQLITE_BUSY") || /database is locked/i.test((err as Error).message ?? "");
}

const globalForLock = globalThis as unknown as { __airlockInstanceLock?: InstanceLock };

/**
 * Takes the data directory's instance lock, or throws InstanceLockedError naming
 * the holder. Idempotent within a process (Next.js loads instrumentation and
 * route handlers as separate entries; the lock lives on globalThis).
 */
export function acquireInstanceLock(dataDir: string, role: string): InstanceLock {
  const held = globalForLock.__airlockInstanceLock;
  if (held && held.dataDir === dataDir) return held;
  fs.mkdirSync(dataDir, { recursive: true });
  const file = lockFilePath(dataDir);
  let sqlite: Database.Database;
  try {
    sqlite = new Database(file, { timeout: 0 });
  } catch (err) {
    throw new Error(`Cannot open the instance lock ${file}: ${(err as Error).message}. Check that ${dataDir} is writable by this user.`);
  }
  try {
    // EXCLUSIVE locking mode keeps the lock after the transaction; the open
    // write transaction takes it now (and a rollback journal, not WAL, so no
    // shared-memory file lets a reader in).
    sqlite.pragma("busy_timeout = 0");
    sqlite.pragma("journal_mode = DELETE");
    sqlite.pragma("locking_mode = EXCLUSIVE");
    sqlite.exec("BEGIN EXCLUSIVE");
  } catch (err) {
    sqlite.close();
    if (isBusy(err)) throw new InstanceLockedError(dataDir, readInstanceOwner(dataDir));
    throw new Error(`Cannot take the instance lock ${file}: ${(err as Error).message}`);
  }
  const owner: InstanceOwner = { pid: process.pid, hostname: os.hostname(), startedAt: new Date().toISOString(), role };
  try {
    fs.writeFileSync(ownerFilePath(dataDir), `${JSON.stringify(owner)}\n`);
  } catch {
    // Only the explanation of a refusal is lost (a full disk, say); the lock holds.
  }
  let released = false;
  const lock: InstanceLock = {
    dataDir,
    owner,
    release() {
      if (released) return;
      released = true;
      try {
        sqlite.exec("ROLLBACK");
      } catch {
        // nothing to roll back
      }
      sqlite.close();
      if (globalForLock.__airlockInstanceLock === lock) globalForLock.__airlockInstanceLock = undefined;
    },
  };
  globalForLock.__airlockInstanceLock = lock;
  return lock;
}
