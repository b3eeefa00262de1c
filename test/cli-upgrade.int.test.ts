// Upgrades as an admin meets them: the real `airlock` CLI in its own process
// (db() opens and migrates at start) against a data directory whose database
// an older or a newer Airlock left behind.
import crypto from "node:crypto";
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { readMigrations } from "@/db/client";
import { databaseAtVersion, fillRepresentativeRows } from "@/test/helpers/schema-versions";

const run = promisify(execFile);
let dataDir: string;

afterEach(() => fs.rmSync(dataDir, { recursive: true, force: true }));

function newDataDir(): { file: string; key: Buffer } {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-cli-upgrade-"));
  const key = crypto.randomBytes(32);
  fs.mkdirSync(path.join(dataDir, "keys"), { mode: 0o700 });
  fs.writeFileSync(path.join(dataDir, "keys", "audit.key"), key.toString("base64"), { mode: 0o600 });
  return { file: path.join(dataDir, "airlock.db"), key };
}

async function airlock(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env, AIRLOCK_DATA_DIR: dataDir, AIRLOCK_ADMIN_EMAIL: "admin@upgrade.test", AIRLOCK_ADMIN_PASSWORD: "upgrade-admin-password-1" };
  try {
    const r = await run("bin/airlock", args, { env, timeout: 60_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

const sha256 = (f: string) => crypto.createHash("sha256").update(fs.readFileSync(f)).digest("hex");

describe("airlock on an older or newer database", () => {
  it("U6: `airlock setup` upgrades a database of the first shipped version, seals its chain, and `audit verify` passes", async () => {
    const { file, key } = newDataDir();
    databaseAtVersion(file, 1);
    fillRepresentativeRows(file, key);
    const setup = await airlock("setup");
    expect(setup.code, setup.stderr).toBe(0);
    expect(setup.stdout).toMatch(/Audit trail sealed with the data directory's audit key/);
    const users = await airlock("user", "list");
    expect(users.stdout).toMatch(/^admin@upgrade\.test\tadmin\tactive\tu-admin$/m);
    const verify = await airlock("audit", "verify");
    expect(verify.code, verify.stdout).toBe(0);
    expect(verify.stdout).toBe("audit chain intact: 7 events\n"); // 6 old ones and audit.sealed
  });

  it("U7: a database from a newer Airlock stops the CLI with the reason, and its file and WAL stay byte-identical", async () => {
    const { file, key } = newDataDir();
    databaseAtVersion(file, readMigrations().length);
    fillRepresentativeRows(file, key);
    const newer = new Database(file);
    newer.pragma("wal_autocheckpoint = 0");
    newer.prepare("insert into __drizzle_migrations (hash, created_at) values ('from-a-newer-airlock', 99999999999999)").run();
    // Its last writes are still in the WAL, as when the newer Airlock was killed.
    const copy = path.join(os.tmpdir(), `airlock-newer-${process.pid}.db`);
    fs.copyFileSync(file, copy);
    fs.copyFileSync(`${file}-wal`, `${copy}-wal`);
    newer.close();
    fs.rmSync(`${file}-shm`, { force: true });
    fs.renameSync(copy, file);
    fs.renameSync(`${copy}-wal`, `${file}-wal`);
    const before = [sha256(file), sha256(`${file}-wal`)];

    const r = await airlock("setup");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/was migrated by a newer Airlock \(1 migration\(s\) this version does not know\)\. Run the newer Airlock, or restore a backup/);
    expect([sha256(file), sha256(`${file}-wal`)]).toEqual(before);
  });
});
