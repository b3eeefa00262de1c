// Upgrades from every schema version Airlock has shipped (each migration in
// db/migrations/meta/_journal.json is one), on real SQLite files made as that
// version made them (test/helpers/schema-versions.ts): the rows survive, the
// audit chain verifies, the app's queries work. A newer database is refused
// without a byte of it changing; a failed migration changes nothing and says
// which migration failed.
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { drizzle } from "drizzle-orm/better-sqlite3";
import { migrate } from "drizzle-orm/better-sqlite3/migrator";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DatabaseError, migrateDatabase, openDatabase, readMigrations, type Db } from "@/db/client";
import { listApprovals } from "@/server/approvals/approvals";
import { recordAudit, sealAuditHead, SYSTEM_ACTOR, verifyAuditChain } from "@/server/audit/chain";
import { listAuditEvents } from "@/server/audit/query";
import { listProjects } from "@/server/projects/projects";
import { listRunViews, listToolCalls } from "@/server/runs/runs";
import { dataKey } from "@/server/secrets/keys";
import { findUserByEmail, listUsers } from "@/server/users/users";
import { canonicalRows, databaseAtVersion, fillRepresentativeRows, migrationsFolder, SHIPPED_VERSIONS, snapshotDatabase } from "@/test/helpers/schema-versions";

vi.hoisted(() => {
  // The audit key (keys/audit.key) lives under this data directory.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const fsm = require("node:fs") as typeof import("node:fs");
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { join } = require("node:path") as typeof import("node:path");
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { tmpdir } = require("node:os") as typeof import("node:os");
  process.env.AIRLOCK_DATA_DIR = fsm.mkdtempSync(join(tmpdir(), "airlock-upgrade-data-"));
});

const CURRENT = readMigrations();
let dir: string;
let file: string;
const cleanup: string[] = [];

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-upgrade-"));
  file = path.join(dir, "airlock.db");
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
  for (const d of cleanup.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const sha256 = (f: string) => (fs.existsSync(f) ? crypto.createHash("sha256").update(fs.readFileSync(f)).digest("hex") : null);

/** Opens and migrates as db() does at start, then seals an unsealed chain as startSupervisor and `airlock setup` do. */
function startAirlockOn(f: string, opts: { migrationsFolder?: string } = {}): { db: Db; applied: number } {
  const db = openDatabase(f, opts);
  try {
    const { applied } = migrateDatabase(db, opts);
    return { db, applied };
  } catch (err) {
    db.$client.close();
    throw err;
  }
}

describe("upgrades from every shipped schema version", () => {
  it("U0: every migration in the journal is a tested version", () => {
    expect(SHIPPED_VERSIONS.map((v) => v.tag)).toEqual(CURRENT.map((m) => m.tag));
    expect(SHIPPED_VERSIONS.length).toBeGreaterThanOrEqual(14);
  });

  it.each(SHIPPED_VERSIONS)("U1: a database at $tag (version $k) upgrades with its rows, a verifying chain and working queries", ({ k }) => {
    databaseAtVersion(file, k);
    const audit = fillRepresentativeRows(file, dataKey("audit")!);
    const before = snapshotDatabase(file);

    const { db, applied } = startAirlockOn(file);
    try {
      expect(applied).toBe(CURRENT.length - k);
      // Every row of every table that existed is still there, value for value, in the columns it had.
      const after = snapshotDatabase(file);
      for (const [table, rows] of Object.entries(before.rows)) {
        if (table === "__drizzle_migrations") continue;
        const columns = rows.length ? Object.keys(rows[0] as object) : [];
        expect(canonicalRows(after.rows[table]!, columns), `${table} after upgrading from version ${k}`).toEqual(rows);
      }
      expect(after.rows.__drizzle_migrations).toHaveLength(CURRENT.length);

      // The chain: sealed at start if this version predates the seal (0007_audit_seal), then intact with the old events unchanged.
      const sealedNow = sealAuditHead(db);
      expect(sealedNow).toBe(k < 8);
      const verified = verifyAuditChain(db);
      expect(verified, verified.problem).toMatchObject({ ok: true, count: audit.hashes.length + (sealedNow ? 1 : 0) });
      const oldEvents = db.$client.prepare("select hash from audit_events where seq <= ? order by seq").pluck().all(audit.hashes.length);
      expect(oldEvents).toEqual(audit.hashes);

      // The app's queries over the upgraded rows.
      expect(
        listUsers(db)
          .map((u) => u.email)
          .sort(),
      ).toEqual(["admin@upgrade.test", "op@upgrade.test"]);
      expect(findUserByEmail(db, "op@upgrade.test")?.role).toBe("operator");
      // Runs, tool calls and approvals came with 0001_runs: version 1 has none to keep, but the queries work all the same.
      const hadRuns = k >= 2;
      const runs = listRunViews(db, { limit: 50 }).items;
      expect(runs.map((r) => [r.id, r.state])).toEqual(
        hadRuns
          ? [
              ["run-waiting", "awaiting_approval"],
              ["run-done", "succeeded"],
            ]
          : [],
      );
      expect(listToolCalls(db, "run-waiting").map((c) => c.tool)).toEqual(hadRuns ? ["run_command"] : []);
      const pending = listApprovals(db, { id: "u-admin", role: "admin" }, { state: "pending" });
      expect(pending.map((a) => [a.id, a.requiredApprovals, a.approvalsSoFar])).toEqual(hadRuns ? [["ap-1", 2, 1]] : []);
      expect(listAuditEvents(db, { limit: 50 }).items.length).toBeGreaterThanOrEqual(audit.hashes.length);
      expect(Array.isArray(listProjects(db))).toBe(true);
      // And it goes on writing: a new event extends the old chain.
      recordAudit(db, SYSTEM_ACTOR, { action: "upgrade.checked", details: { from: k } });
      expect(verifyAuditChain(db).ok).toBe(true);
      expect(db.$client.pragma("foreign_key_check")).toEqual([]);
      expect(db.$client.pragma("integrity_check", { simple: true })).toBe("ok");
    } finally {
      db.$client.close();
    }
  });
});

describe("refusals and failures leave the database as it was", () => {
  it("U2: a database from a newer Airlock is refused and its files stay byte-identical, even with writes still in its WAL", () => {
    databaseAtVersion(file, CURRENT.length);
    fillRepresentativeRows(file, dataKey("audit")!);
    // The newer Airlock stopped (or crashed) with its last writes in the WAL: copy the files while its connection is open.
    const newer = new Database(file);
    newer.pragma("wal_autocheckpoint = 0");
    newer.prepare("insert into __drizzle_migrations (hash, created_at) values ('from-a-newer-airlock', ?)").run(CURRENT.at(-1)!.when + 86_400_000);
    newer.prepare("insert into login_throttles (key, failures, last_failure_at) values ('email:late@upgrade.test', 1, 1)").run();
    const copy = path.join(dir, "newer.db");
    fs.copyFileSync(file, copy);
    fs.copyFileSync(`${file}-wal`, `${copy}-wal`);
    newer.close();
    const main = sha256(copy);
    const wal = sha256(`${copy}-wal`);
    expect(wal).not.toBeNull();

    expect(() => startAirlockOn(copy)).toThrow(DatabaseError);
    expect(() => startAirlockOn(copy)).toThrow(/migrated by a newer Airlock \(1 migration\(s\) this version does not know\).*the database was not changed/);
    expect(sha256(copy)).toBe(main);
    expect(sha256(`${copy}-wal`)).toBe(wal);
    // (SQLite may add the -shm index beside them: it is rebuilt from the WAL, never read as data.)
  });

  it("U3: a broken migration after several pending ones rolls them all back, names the one that failed, and says nothing changed", () => {
    databaseAtVersion(file, 6);
    fillRepresentativeRows(file, dataKey("audit")!);
    const folder = migrationsFolder(CURRENT.length, [
      {
        tag: "0099_broken",
        sql: "ALTER TABLE `runs` ADD `priority` integer DEFAULT 0 NOT NULL;--> statement-breakpoint\nCREATE TABLE `labels` (`id` text PRIMARY KEY NOT NULL);--> statement-breakpoint\nINSERT INTO `no_such_table` VALUES (1);",
      },
    ]);
    cleanup.push(folder);
    const before = snapshotDatabase(file);
    let message = "";
    try {
      startAirlockOn(file, { migrationsFolder: folder });
    } catch (err) {
      expect(err).toBeInstanceOf(DatabaseError);
      message = (err as Error).message;
    }
    expect(message).toMatch(
      new RegExp(
        `^Migration 0099_broken \\(${CURRENT.length + 1} of ${CURRENT.length + 1}\\) failed: no such table: no_such_table\\. Nothing was changed: all ${CURRENT.length - 6 + 1} pending migration\\(s\\) were rolled back together, so .*airlock\\.db is still at 0005_secrets\\.`,
      ),
    );
    expect(snapshotDatabase(file)).toEqual(before);
    // The database is as good as before: the shipped migrations alone apply.
    const { db, applied } = startAirlockOn(file);
    expect(applied).toBe(CURRENT.length - 6);
    db.$client.close();
  });

  it("U4: rows that break a new migration's constraint leave schema and rows exactly as they were", () => {
    databaseAtVersion(file, 10);
    fillRepresentativeRows(file, dataKey("audit")!);
    const raw = new Database(file);
    raw.prepare("update runs set title = 'Same title' where 1").run();
    raw.close();
    const folder = migrationsFolder(CURRENT.length, [{ tag: "0099_unique_run_titles", sql: "CREATE UNIQUE INDEX `runs_title_unique` ON `runs` (`title`);" }]);
    cleanup.push(folder);
    const before = snapshotDatabase(file);
    expect(() => startAirlockOn(file, { migrationsFolder: folder })).toThrow(
      /^Migration 0099_unique_run_titles \(\d+ of \d+\) failed: UNIQUE constraint failed: runs\.title\. Nothing was changed: .* is still at 0009_oidc_users/,
    );
    expect(snapshotDatabase(file)).toEqual(before);
  });

  it("U5: a drizzle-kit table rebuild of a referenced table keeps the rows that point at it (drizzle's migrator fails on it)", () => {
    databaseAtVersion(file, CURRENT.length);
    fillRepresentativeRows(file, dataKey("audit")!);
    // What drizzle-kit writes to change a column of `users`: copy into __new_users, drop, rename, under PRAGMA foreign_keys=OFF.
    const raw = new Database(file);
    const usersSql = raw.prepare("select sql from sqlite_master where name = 'users'").pluck().get() as string;
    const indexes = raw.prepare("select sql from sqlite_master where type = 'index' and tbl_name = 'users' and sql is not null").pluck().all() as string[];
    raw.close();
    const rebuild = [
      "PRAGMA foreign_keys=OFF;",
      `${usersSql.replace(/^CREATE TABLE [`"]users[`"]/, "CREATE TABLE `__new_users`")};`,
      "INSERT INTO `__new_users` SELECT * FROM `users`;",
      "DROP TABLE `users`;",
      "ALTER TABLE `__new_users` RENAME TO `users`;",
      "PRAGMA foreign_keys=ON;",
      ...indexes.map((s) => `${s};`),
    ].join("--> statement-breakpoint\n");
    const folder = migrationsFolder(CURRENT.length, [{ tag: "0099_rebuild_users", sql: rebuild }]);
    cleanup.push(folder);

    // drizzle's own migrator runs it with foreign keys on inside its transaction, where the PRAGMA is a no-op.
    const other = path.join(dir, "drizzle.db");
    fs.copyFileSync(file, other);
    const viaDrizzle = new Database(other);
    viaDrizzle.pragma("foreign_keys = ON");
    let drizzleError: unknown;
    try {
      migrate(drizzle(viaDrizzle), { migrationsFolder: folder });
    } catch (err) {
      drizzleError = err;
    }
    viaDrizzle.close();
    expect(String((drizzleError as Error | undefined)?.message)).toMatch(/DROP TABLE `users`/);
    expect(String(((drizzleError as Error).cause as Error | undefined)?.message)).toMatch(/FOREIGN KEY constraint failed/);

    const before = snapshotDatabase(file);
    const { db, applied } = startAirlockOn(file, { migrationsFolder: folder });
    try {
      expect(applied).toBe(1);
      const after = snapshotDatabase(file);
      for (const table of ["users", "api_tokens", "runs", "auth_sessions", "approval_votes", "notification_preferences"]) {
        expect(after.rows[table], table).toEqual(before.rows[table]);
      }
      expect(db.$client.pragma("foreign_key_check")).toEqual([]);
      expect(db.$client.pragma("foreign_keys", { simple: true })).toBe(1); // back on for the app
    } finally {
      db.$client.close();
    }
  });
});
