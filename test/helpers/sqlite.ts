// A second, raw connection to a test's SQLite file: what someone with write
// access to the data directory can do behind Airlock's back.
import fs from "node:fs";
import Database from "better-sqlite3";

export function withRawConnection<T>(file: string, act: (raw: Database.Database) => T): T {
  const raw = new Database(file, { timeout: 5000 });
  try {
    return act(raw);
  } finally {
    raw.close();
  }
}

/** Every byte SQLite keeps for this database: the file, its WAL and its journal. */
export function databaseBytes(file: string): Buffer {
  const parts = [file, `${file}-wal`, `${file}-journal`].filter((f) => fs.existsSync(f)).map((f) => fs.readFileSync(f));
  return Buffer.concat(parts);
}
