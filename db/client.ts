// The one SQLite connection per process (kept on globalThis because Next.js
// compiles route handlers and instrumentation as separate entries).
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { drizzle, type BetterSQLite3Database } from "drizzle-orm/better-sqlite3";
import { migrate } from "drizzle-orm/better-sqlite3/migrator";
import * as schema from "./schema";
import { config } from "@/server/config/env";

export type Db = BetterSQLite3Database<typeof schema> & { $client: Database.Database };

export class DatabaseError extends Error {
  readonly code = "DATABASE_ERROR";
}

const MIGRATIONS_DIR = path.join(process.cwd(), "db", "migrations");

export function openDatabase(file: string): Db {
  fs.mkdirSync(path.dirname(file), { recursive: true });
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

/** Applies committed migrations; refuses a database written by a newer Airlock. */
export function migrateDatabase(db: Db): { applied: number } {
  const known = readMigrationJournal();
  const sqlite = db.$client;
  const hasTable = sqlite.prepare("select 1 from sqlite_master where type='table' and name='__drizzle_migrations'").get();
  let before = 0;
  if (hasTable) {
    const rows = sqlite.prepare("select created_at from __drizzle_migrations").all() as { created_at: number }[];
    before = rows.length;
    const knownTimes = new Set(known.map((m) => m.when));
    const unknown = rows.filter((r) => !knownTimes.has(Number(r.created_at)));
    if (unknown.length > 0) {
      throw new DatabaseError(
        `The database at ${sqlite.name} was migrated by a newer Airlock (${unknown.length} migration(s) this version does not know). ` +
          "Run the newer Airlock, or restore a backup made by this version; the database was not changed.",
      );
    }
  }
  try {
    migrate(db, { migrationsFolder: MIGRATIONS_DIR });
  } catch (err) {
    throw explainSqliteError(err, sqlite.name);
  }
  return { applied: known.length - before };
}

function readMigrationJournal(): { tag: string; when: number }[] {
  const journal = JSON.parse(fs.readFileSync(path.join(MIGRATIONS_DIR, "meta", "_journal.json"), "utf8")) as {
    entries: { tag: string; when: number }[];
  };
  return journal.entries;
}

const globalForDb = globalThis as unknown as { __airlockDb?: Db };

/** The process-wide database, migrated on first use. */
export function db(): Db {
  if (!globalForDb.__airlockDb) {
    const database = openDatabase(config().databasePath);
    migrateDatabase(database);
    globalForDb.__airlockDb = database;
  }
  return globalForDb.__airlockDb;
}
