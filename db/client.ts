// The one SQLite connection per process (kept on globalThis because Next.js
// compiles route handlers and instrumentation as separate entries).
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { drizzle, type BetterSQLite3Database } from "drizzle-orm/better-sqlite3";
import { readMigrationFiles } from "drizzle-orm/migrator";
import * as schema from "./schema";
import { config } from "@/server/config/env";

export type Db = BetterSQLite3Database<typeof schema> & { $client: Database.Database };

export class DatabaseError extends Error {
  readonly code = "DATABASE_ERROR";
}

const MIGRATIONS_DIR = path.join(process.cwd(), "db", "migrations");

export function openDatabase(file: string, opts: { migrationsFolder?: string } = {}): Db {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  refuseNewerDatabase(file, readMigrations(opts.migrationsFolder));
  let sqlite: Database.Database;
  try {
    sqlite = new Database(file, { timeout: 5000 });
    sqlite.pragma("journal_mode = WAL");
    sqlite.pragma("foreign_keys = ON");
    sqlite.pragma("busy_timeout = 5000");
  } catch (err) {
    throw explainSqliteError(err, file);
  }
  return drizzle(sqlite, { schema }) as Db;
}

export function explainSqliteError(err: unknown, file: string): Error {
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: string }).code ?? "";
  if (code.startsWith("SQLITE_BUSY") || /database is locked/i.test(message)) {
    return new DatabaseError(
      `The database ${file} is locked by another process. Stop the other Airlock (or sqlite3 session) using it and try again; nothing was changed.`,
    );
  }
  if (code === "SQLITE_NOTADB" || /not a database/i.test(message)) {
    return new DatabaseError(`${file} is not an SQLite database. Point AIRLOCK_DATA_DIR at Airlock's data directory; the file was left untouched.`);
  }
  if (code === "SQLITE_CANTOPEN" || code === "SQLITE_READONLY") {
    return new DatabaseError(`Cannot open ${file} for writing (${message}). Check that the directory exists and is writable by this user.`);
  }
  return new DatabaseError(`Database error on ${file}: ${message}`);
}

/** One shipped schema version: a migration of db/migrations, in journal order. */
export interface Migration {
  tag: string;
  /** The journal's timestamp, recorded as created_at in __drizzle_migrations (how drizzle tells what was applied). */
  when: number;
  /** sha256 of the SQL file, recorded as drizzle records it. */
  hash: string;
  statements: string[];
}

/** The migrations of a folder (default: the committed db/migrations), oldest first. */
export function readMigrations(folder: string = MIGRATIONS_DIR): Migration[] {
  const journal = JSON.parse(fs.readFileSync(path.join(folder, "meta", "_journal.json"), "utf8")) as { entries: { tag: string; when: number }[] };
  const files = readMigrationFiles({ migrationsFolder: folder });
  return journal.entries.map((entry, i) => ({ tag: entry.tag, when: entry.when, hash: files[i]!.hash, statements: files[i]!.sql }));
}

function appliedMigrationTimes(sqlite: Database.Database): number[] {
  const hasTable = sqlite.prepare("select 1 from sqlite_master where type='table' and name='__drizzle_migrations'").get();
  if (!hasTable) return [];
  return (sqlite.prepare("select created_at from __drizzle_migrations").all() as { created_at: number }[]).map((r) => Number(r.created_at));
}

function newerDatabaseError(file: string, unknown: number): DatabaseError {
  return new DatabaseError(
    `The database at ${file} was migrated by a newer Airlock (${unknown} migration(s) this version does not know). ` +
      "Run the newer Airlock, or restore a backup made by this version; the database was not changed.",
  );
}

/**
 * Refuses a database a newer Airlock migrated, looking through a read-only
 * connection: a read-write connection checkpoints the WAL into the main file
 * when it closes, so even a refusal would rewrite the file of a newer Airlock
 * that stopped with writes still in its WAL.
 */
function refuseNewerDatabase(file: string, known: Migration[]): void {
  if (!fs.existsSync(file)) return;
  let sqlite: Database.Database | undefined;
  let applied: number[];
  try {
    sqlite = new Database(file, { readonly: true, fileMustExist: true, timeout: 5000 });
    applied = appliedMigrationTimes(sqlite);
  } catch {
    return; // not readable this way (not a database, a hot journal…): the read-write open explains it
  } finally {
    sqlite?.close();
  }
  const knownTimes = new Set(known.map((m) => m.when));
  const unknown = applied.filter((t) => !knownTimes.has(t));
  if (unknown.length > 0) throw newerDatabaseError(file, unknown.length);
}

/**
 * Applies the pending migrations, all of them in ONE transaction (with the
 * bookkeeping table's creation): either the database reaches the newest
 * schema, or it stays exactly as it was and the error names the migration
 * that failed. Refuses a database written by a newer Airlock.
 *
 * Not drizzle's migrate(): it creates its bookkeeping table outside its
 * transaction, does not say which migration failed, and runs with foreign
 * keys on, where drizzle-kit's table rebuilds (PRAGMA foreign_keys=OFF, a
 * no-op inside a transaction; DROP TABLE of a referenced table) fail on a
 * database with rows. Here the keys are off while migrating and checked as a
 * whole before the commit.
 */
export function migrateDatabase(db: Db, opts: { migrationsFolder?: string } = {}): { applied: number } {
  const known = readMigrations(opts.migrationsFolder);
  const sqlite = db.$client;
  let applied: number[];
  try {
    applied = appliedMigrationTimes(sqlite);
  } catch (err) {
    throw explainSqliteError(err, sqlite.name);
  }
  const knownTimes = new Set(known.map((m) => m.when));
  const unknown = applied.filter((t) => !knownTimes.has(t));
  if (unknown.length > 0) throw newerDatabaseError(sqlite.name, unknown.length);
  // drizzle's rule, kept so databases it migrated read the same: everything after the last applied migration is pending.
  const last = applied.length ? Math.max(...applied) : -Infinity;
  const pending = known.filter((m) => m.when > last);
  if (pending.length === 0) return { applied: 0 };
  const current = [...known].reverse().find((m) => m.when === last)?.tag;
  const foreignKeys = sqlite.pragma("foreign_keys", { simple: true }) === 1;
  let failed: Migration | undefined;
  try {
    if (foreignKeys) sqlite.pragma("foreign_keys = OFF");
    const violationsBefore = foreignKeys ? foreignKeyViolations(sqlite) : 0;
    sqlite.exec("BEGIN IMMEDIATE");
    try {
      sqlite.exec('CREATE TABLE IF NOT EXISTS "__drizzle_migrations" (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at numeric)');
      const record = sqlite.prepare('INSERT INTO "__drizzle_migrations" ("hash", "created_at") VALUES (?, ?)');
      for (const migration of pending) {
        failed = migration;
        for (const statement of migration.statements) if (statement.trim()) sqlite.exec(statement);
        record.run(migration.hash, migration.when);
      }
      failed = undefined;
      if (foreignKeys) {
        const after = foreignKeyViolations(sqlite);
        if (after > violationsBefore)
          throw new Error(`the migrated rows break ${after - violationsBefore} foreign key reference(s) (PRAGMA foreign_key_check)`);
      }
      sqlite.exec("COMMIT");
    } catch (err) {
      if (sqlite.inTransaction) sqlite.exec("ROLLBACK");
      throw err;
    }
  } catch (err) {
    const explained = explainSqliteError(err, sqlite.name);
    if (/is locked by another process/.test(explained.message)) throw explained;
    const which = failed ? `Migration ${failed.tag} (${known.indexOf(failed) + 1} of ${known.length})` : "Migrating";
    throw new DatabaseError(
      `${which} failed: ${(err as Error).message}. Nothing was changed: all ${pending.length} pending migration(s) were rolled back together, ` +
        `so ${sqlite.name} is still at ${current ?? "its previous state (no migration applied)"}. ` +
        "Fix the cause named above (or restore a backup), then start Airlock again.",
    );
  } finally {
    if (foreignKeys) sqlite.pragma("foreign_keys = ON");
  }
  return { applied: pending.length };
}

function foreignKeyViolations(sqlite: Database.Database): number {
  return (sqlite.pragma("foreign_key_check") as unknown[]).length;
}

const globalForDb = globalThis as unknown as { __airlockDb?: Db };

/** The process-wide database, migrated on first use. */
export function db(): Db {
  if (!globalForDb.__airlockDb) {
    const database = openDatabase(config().databasePath);
    try {
      migrateDatabase(database);
    } catch (err) {
      database.$client.close();
      throw err;
    }
    globalForDb.__airlockDb = database;
  }
  return globalForDb.__airlockDb;
}
