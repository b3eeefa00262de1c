// `airlock audit verify` as a user runs it: the real CLI in its own process
// against a data directory set up by `airlock setup`. Exit 0 for an intact
// chain; exit 1 naming the first broken event after the file is edited —
// including a rewrite whose hashes were all recomputed (caught by the seal,
// whose key lives in the data directory's keys/, not in the database).
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-cli-audit-"));
const env = { ...process.env, AIRLOCK_DATA_DIR: dataDir, AIRLOCK_ADMIN_EMAIL: "admin@cli.test", AIRLOCK_ADMIN_PASSWORD: "cli-admin-password-1" };

async function airlock(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run("bin/airlock", args, { env, timeout: 60_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

describe("airlock audit verify", () => {
  it("exits 0 on an intact chain and 1 on a rewritten one, even with every hash recomputed", async () => {
    expect((await airlock("setup")).code).toBe(0);
    await airlock("user", "create", "--email", "op@cli.test", "--role", "operator", "--password", "operator-password-1");
    const ok = await airlock("audit", "verify");
    expect(ok.code, ok.stderr).toBe(0);
    expect(fs.statSync(path.join(dataDir, "keys", "audit.key")).mode & 0o777).toBe(0o600);

    // Rewrite the last event and recompute its hash and the head, as someone with only the database file could.
    const file = path.join(dataDir, "airlock.db");
    const raw = new Database(file);
    try {
      const last = raw.prepare("select * from audit_events order by seq desc limit 1").get() as Record<string, unknown>;
      const details = JSON.stringify({ ...JSON.parse(String(last.details)), role: "admin" });
      // The same canonical body hashEvent uses.
      const { hashEvent } = await import("@/server/audit/chain");
      const hash = hashEvent(String(last.prev_hash), {
        seq: Number(last.seq),
        id: String(last.id),
        at: new Date(Number(last.at)),
        actorId: (last.actor_id as string | null) ?? null,
        actorLabel: String(last.actor_label),
        action: String(last.action),
        targetType: (last.target_type as string | null) ?? null,
        targetId: (last.target_id as string | null) ?? null,
        details,
        sourceIp: (last.source_ip as string | null) ?? null,
        tokenId: (last.token_id as string | null) ?? null,
      });
      raw.prepare("update audit_events set details = ?, hash = ? where seq = ?").run(details, hash, last.seq);
      raw.prepare("update audit_head set last_hash = ? where id = 1").run(hash);
    } finally {
      raw.close();
    }
    const broken = await airlock("audit", "verify");
    expect(broken.code).toBe(1);
    expect(broken.stdout + broken.stderr).toMatch(/seal/);

    // Without its key the seal cannot be checked: said so, exit 1.
    fs.renameSync(path.join(dataDir, "keys", "audit.key"), path.join(dataDir, "keys", "audit.key.bak"));
    const keyless = await airlock("audit", "verify");
    expect(keyless.code).toBe(1);
    expect(keyless.stdout + keyless.stderr).toMatch(/audit key .* is missing/);
  }, 120_000);
});

describe("airlock doctor", () => {
  it("names a bad setting and how to fix it instead of stopping with a stack trace", async () => {
    const r = await run("bin/airlock", ["doctor"], { env: { ...env, AIRLOCK_APPROVAL_TTL_S: "soon" }, timeout: 60_000 }).then(
      (ok) => ({ code: 0, stdout: ok.stdout }),
      (err: { code?: number; stdout?: string }) => ({ code: err.code ?? -1, stdout: err.stdout ?? "" }),
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAIL Settings\s+AIRLOCK_APPROVAL_TTL_S must be a positive number of seconds, got "soon"/m);
    expect(r.stdout).toMatch(/fix: Fix or unset the variable named above/);
  });
});
