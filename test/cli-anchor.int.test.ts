// `airlock audit anchor` and `airlock audit verify --anchor FILE` as an admin
// runs them: the real CLI in its own process against a data directory made by
// `airlock setup`, the anchor file in another directory. Exit 0 while the chain
// extends every anchor; exit 1 naming the anchor (time, count) once the
// database is replaced by an older copy, cut short and re-sealed, or rewritten
// and re-sealed by someone holding the audit key — all of which pass plain
// `airlock audit verify` (shown here for the rewrite; server/audit/anchor.test.ts
// shows it for each).
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { rewriteAndReseal, truncateAndReseal } from "@/test/helpers/audit-tamper";

const run = promisify(execFile);
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-cli-anchor-"));
const mount = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-cli-anchor-mnt-"));
const anchorFile = path.join(mount, "anchors.jsonl");
const dbFile = path.join(dataDir, "airlock.db");
const env = {
  ...process.env,
  AIRLOCK_DATA_DIR: dataDir,
  AIRLOCK_ADMIN_EMAIL: "admin@anchor.test",
  AIRLOCK_ADMIN_PASSWORD: "anchor-admin-password-1",
  AIRLOCK_AUDIT_ANCHOR_FILE: anchorFile,
};

async function airlock(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run("bin/airlock", args, { env, timeout: 60_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

/** The database's files (main, WAL), copied aside or back while no Airlock process has it open. */
function copyDatabase(from: string, to: string): void {
  for (const suffix of ["", "-wal", "-shm"]) {
    fs.rmSync(to + suffix, { force: true });
    if (fs.existsSync(from + suffix)) fs.copyFileSync(from + suffix, to + suffix);
  }
}

const key = () => Buffer.from(fs.readFileSync(path.join(dataDir, "keys", "audit.key"), "utf8").trim(), "base64");

afterAll(() => {
  fs.rmSync(dataDir, { recursive: true, force: true });
  fs.rmSync(mount, { recursive: true, force: true });
});

describe("airlock audit verify --anchor", () => {
  it("A16: passes while the chain extends every anchor, and names the anchor an older copy, a cut or a keyed rewrite breaks", async () => {
    expect((await airlock("setup")).code).toBe(0);
    const older = path.join(mount, "older.db");
    copyDatabase(dbFile, older);

    expect((await airlock("user", "create", "--email", "b@anchor.test", "--role", "reviewer", "--password", "reviewer-password-1")).code).toBe(0);
    const published = await airlock("audit", "anchor");
    expect(published.code, published.stderr).toBe(0);
    expect(published.stdout).toMatch(new RegExp(`^ok {3}file {5}${anchorFile}$`, "m"));
    const anchor = JSON.parse(published.stdout.trim().split("\n").pop()!) as { count: number; at: string };
    expect(fs.readFileSync(anchorFile, "utf8").trim()).toBe(JSON.stringify(anchor));

    // The chain goes on growing after the anchor: still extends it.
    expect((await airlock("user", "create", "--email", "c@anchor.test", "--role", "viewer", "--password", "viewer-password-11")).code).toBe(0);
    const ok = await airlock("audit", "verify", "--anchor", anchorFile);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/extends all 1 anchor\(s\)/);
    const current = path.join(mount, "current.db");
    copyDatabase(dbFile, current);

    // 1. A restored older copy: intact on its own, shorter than the anchor.
    copyDatabase(older, dbFile);
    const restored = await airlock("audit", "verify", "--anchor", anchorFile);
    expect(restored.code).toBe(1);
    expect(restored.stdout).toContain(`the anchor of ${anchor.at} (count ${anchor.count}, line 1) was published when it had ${anchor.count}`);
    expect(restored.stdout).toMatch(/older copy, or events at its end were deleted/);

    // 2. The tail cut off and the head re-sealed with the key.
    copyDatabase(current, dbFile);
    truncateAndReseal(dbFile, key(), anchor.count - 1);
    const cut = await airlock("audit", "verify", "--anchor", anchorFile);
    expect(cut.code).toBe(1);
    expect(cut.stdout).toContain(`the chain has ${anchor.count - 1} events but the anchor of ${anchor.at} (count ${anchor.count}, line 1)`);

    // 3. An old event rewritten, every later hash recomputed, the head re-sealed: plain verify passes (the seal's limit), the anchor does not.
    copyDatabase(current, dbFile);
    rewriteAndReseal(dbFile, key(), 2, JSON.stringify({ email: "someone-else@anchor.test", role: "viewer" }));
    expect((await airlock("audit", "verify")).code).toBe(0);
    const rewritten = await airlock("audit", "verify", "--anchor", anchorFile, "--json");
    expect(rewritten.code).toBe(1);
    const report = JSON.parse(rewritten.stdout) as { ok: boolean; anchors: { checked: number; broken: { count: number; at: string; problem: string }[] } };
    expect(report.ok).toBe(false);
    expect(report.anchors.broken).toEqual([
      { line: 1, at: anchor.at, count: anchor.count, problem: expect.stringMatching(/was rewritten after it was anchored/) as unknown },
    ]);

    // An anchor file that cannot be read is not a pass: exit 2, saying why.
    const missing = await airlock("audit", "verify", "--anchor", path.join(mount, "nope.jsonl"));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--anchor .*nope\.jsonl: cannot read it/);
  }, 240_000);

  it("A17: `airlock audit anchor` with no destination says what to set and exits 1", async () => {
    const r = await run("bin/airlock", ["audit", "anchor"], { env: { ...env, AIRLOCK_AUDIT_ANCHOR_FILE: "" }, timeout: 60_000 }).then(
      () => ({ code: 0, stderr: "" }),
      (e: { code?: number; stderr?: string }) => ({ code: e.code ?? -1, stderr: e.stderr ?? "" }),
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/nothing published: no anchor destination is set \(AIRLOCK_AUDIT_ANCHOR_FILE/);
  });

  it("A18: a start with the anchor file inside the data directory stops with the variable's name", async () => {
    const r = await run("bin/airlock", ["audit", "verify"], {
      env: { ...env, AIRLOCK_AUDIT_ANCHOR_FILE: path.join(dataDir, "a.jsonl") },
      timeout: 60_000,
    }).then(
      () => ({ code: 0, stderr: "" }),
      (e: { code?: number; stderr?: string }) => ({ code: e.code ?? -1, stderr: e.stderr ?? "" }),
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/AIRLOCK_AUDIT_ANCHOR_FILE .* is inside the data directory/);
  });
});
