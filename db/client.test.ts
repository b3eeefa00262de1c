import fs from "node:fs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DatabaseError, migrateDatabase, openDatabase } from "@/db/client";
import { createTestDb, type TestDb } from "@/test/helpers/db";
import { withRawConnection } from "@/test/helpers/sqlite";

let t: TestDb;
beforeEach(() => {
  t = createTestDb();
});
afterEach(() => t.close());

describe("the database", () => {
  it("refuses a database migrated by a newer Airlock and leaves it unchanged", () => {
    t.db.$client.close();
    withRawConnection(t.file, (raw) => raw.prepare("insert into __drizzle_migrations (hash, created_at) values ('future', 99999999999999)").run());
    const before = fs.readFileSync(t.file);
    expect(() => openDatabase(t.file)).toThrow(DatabaseError);
    expect(() => openDatabase(t.file)).toThrow(/newer Airlock/);
    expect(fs.readFileSync(t.file).equals(before)).toBe(true);
    // A connection opened before the refusal (doctor, tests) is refused by migrateDatabase too.
    withRawConnection(t.file, (raw) => raw.prepare("delete from __drizzle_migrations where hash = 'future'").run());
    const db = openDatabase(t.file);
    withRawConnection(t.file, (raw) => raw.prepare("insert into __drizzle_migrations (hash, created_at) values ('future', 99999999999999)").run());
    try {
      expect(() => migrateDatabase(db)).toThrow(/newer Airlock/);
    } finally {
      db.$client.close();
    }
    withRawConnection(t.file, (raw) => raw.prepare("delete from __drizzle_migrations where hash = 'future'").run());
    t.db = openDatabase(t.file); // so close() in afterEach has something to close
  });

  it("explains a file that is not an SQLite database", () => {
    const bogus = `${t.dir}/not-a-db.db`;
    fs.writeFileSync(bogus, "this is a text file, not a database ".repeat(100));
    expect(() => migrateDatabase(openDatabase(bogus))).toThrow(/not an SQLite database/);
    expect(fs.readFileSync(bogus, "utf8")).toContain("this is a text file");
  });

  it("applies migrations once and is idempotent", () => {
    expect(migrateDatabase(t.db).applied).toBe(0);
  });
});
