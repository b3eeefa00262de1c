// A fresh, migrated SQLite file per test (real SQLite, never :memory: stand-ins
// for behaviour that depends on the file, like tampering).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { openDatabase, migrateDatabase, type Db } from "@/db/client";

export interface TestDb {
  db: Db;
  file: string;
  dir: string;
  close(): void;
}

export function createTestDb(): TestDb {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-test-"));
  const file = path.join(dir, "airlock.db");
  const db = openDatabase(file);
  migrateDatabase(db);
  return {
    db,
    file,
    dir,
    close() {
      db.$client.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
