// Databases as each shipped Airlock left them, for the upgrade tests: schema
// version k is the first k migrations of db/migrations, applied by drizzle's
// own migrator (what every Airlock before this one ran at start), and filled
// with representative rows valid at that version. Generated from the committed
// SQL rather than kept as binary fixtures: shipped migrations never change, so
// the result is the same file a user of that version has, and every migration
// added later becomes a tested version without anyone making a fixture.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { drizzle } from "drizzle-orm/better-sqlite3";
import { migrate } from "drizzle-orm/better-sqlite3/migrator";
import { readMigrations } from "@/db/client";
import { canonicalJson, GENESIS_HASH, hashEvent, sealOf } from "@/server/audit/chain";
import { DEFAULT_RUN_LIMITS } from "@/server/runs/limits";

export const MIGRATIONS_DIR = path.join(process.cwd(), "db", "migrations");

/** A migrations folder holding the first `k` migrations of `from` (and `extra` ones after them). */
export function migrationsFolder(k: number, extra: { tag: string; sql: string }[] = [], from = MIGRATIONS_DIR): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-migrations-"));
  fs.mkdirSync(path.join(dir, "meta"));
  const journal = JSON.parse(fs.readFileSync(path.join(from, "meta", "_journal.json"), "utf8")) as { entries: { tag: string; when: number; idx: number }[] };
  const entries = journal.entries.slice(0, k);
  for (const e of entries) fs.copyFileSync(path.join(from, `${e.tag}.sql`), path.join(dir, `${e.tag}.sql`));
  let when = entries.at(-1)?.when ?? Date.now();
  for (const x of extra) {
    when += 60_000;
    entries.push({ idx: entries.length, version: "6", when, tag: x.tag, breakpoints: true } as (typeof entries)[number]);
    fs.writeFileSync(path.join(dir, `${x.tag}.sql`), x.sql);
  }
  fs.writeFileSync(path.join(dir, "meta", "_journal.json"), JSON.stringify({ ...journal, entries }, null, 2));
  return dir;
}

/** A database file at schema version k (1 = only 0000_init), made the way Airlock of that version made it: WAL, foreign keys on, drizzle's migrator. */
export function databaseAtVersion(file: string, k: number): void {
  const folder = migrationsFolder(k);
  const sqlite = new Database(file);
  try {
    sqlite.pragma("journal_mode = WAL");
    sqlite.pragma("foreign_keys = ON");
    migrate(drizzle(sqlite), { migrationsFolder: folder });
  } finally {
    sqlite.close();
    fs.rmSync(folder, { recursive: true, force: true });
  }
}

export const SHIPPED_VERSIONS = readMigrations(MIGRATIONS_DIR).map((m, i) => ({ k: i + 1, tag: m.tag }));

const T = Date.UTC(2026, 10, 20, 9, 0, 0);

/** Rows for every table of the current schema; each version gets those of its tables and columns. Foreign keys hold. */
export const REPRESENTATIVE_ROWS: Record<string, Record<string, unknown>[]> = {
  users: [
    {
      id: "u-admin",
      email: "admin@upgrade.test",
      name: "Ada Admin",
      role: "admin",
      password_hash: "scrypt$placeholder",
      session_version: 2,
      created_at: T,
      role_source: "local",
    },
    {
      id: "u-op",
      email: "op@upgrade.test",
      name: "Otto Operator",
      role: "operator",
      password_hash: null,
      session_version: 1,
      created_at: T + 1,
      role_source: "local",
    },
  ],
  api_tokens: [{ id: "tok-1", user_id: "u-op", name: "ci", token_hash: "ab".repeat(32), prefix: "al_ci00", created_at: T + 2, expires_at: T + 86_400_000 }],
  login_throttles: [{ key: "email:op@upgrade.test", failures: 2, last_failure_at: T + 3 }],
  models: [{ id: "m-1", name: "local qwen", base_url: "http://127.0.0.1:11434/v1", model: "qwen2.5-coder", created_by: "u-admin", created_at: T + 4 }],
  runs: [
    {
      id: "run-done",
      title: "Fix the flaky payment test",
      task: "Make test/payment.test.ts pass reliably",
      model_id: "m-1",
      project_id: "default",
      agent: "builtin",
      state: "succeeded",
      created_by: "u-op",
      limits: JSON.stringify(DEFAULT_RUN_LIMITS),
      summary: "Pinned the clock in the test",
      ended_reason: "finished: success",
      created_at: T + 5,
      updated_at: T + 50,
      started_at: T + 6,
      ended_at: T + 50,
    },
    {
      id: "run-waiting",
      title: "Upgrade lodash",
      task: "Bump lodash and run the tests",
      model_id: "m-1",
      project_id: "default",
      agent: "builtin",
      state: "awaiting_approval",
      created_by: "u-op",
      limits: JSON.stringify(DEFAULT_RUN_LIMITS),
      created_at: T + 7,
      updated_at: T + 60,
      started_at: T + 8,
    },
  ],
  run_events: [
    { id: 1, run_id: "run-done", type: "state", payload: JSON.stringify({ from: "running", to: "succeeded" }), at: T + 50 },
    { id: 2, run_id: "run-waiting", type: "approval", payload: JSON.stringify({ approvalId: "ap-1" }), at: T + 60 },
  ],
  tool_calls: [
    {
      id: "tc-1",
      run_id: "run-waiting",
      seq: 1,
      tool: "run_command",
      args: JSON.stringify({ command: "npm install lodash@4.17.21" }),
      verdict: "ask",
      rule: "commands-ask",
      reason: "commands ask",
      state: "awaiting_approval",
      approval_id: "ap-1",
      created_at: T + 59,
    },
  ],
  approvals: [
    {
      id: "ap-1",
      run_id: "run-waiting",
      tool_call_id: "tc-1",
      kind: "tool",
      tool: "run_command",
      args: JSON.stringify({ command: "npm install lodash@4.17.21" }),
      verdict: "ask",
      rule: "commands-ask",
      reason: "commands ask",
      state: "pending",
      required_approvals: 2,
      requested_by: "u-op",
      expires_at: T + 3_600_000,
      created_at: T + 60,
    },
  ],
  approval_votes: [{ id: "vote-1", approval_id: "ap-1", user_id: "u-admin", decision: "approve", reason: "looks fine", created_at: T + 61 }],
  checkpoints: [
    {
      id: "cp-1",
      run_id: "run-done",
      seq: 1,
      label: "edit test/payment.test.ts",
      kind: "tool",
      commit_sha: "c".repeat(40),
      files_changed: 1,
      additions: 3,
      deletions: 1,
      created_at: T + 40,
    },
  ],
  workspaces: [
    { run_id: "run-done", source: "empty", storage_bytes: 1024, storage_cap_bytes: 1 << 30, skipped_paths: "[]", created_at: T + 5, updated_at: T + 50 },
  ],
  projects: [
    {
      id: "default",
      slug: "default",
      name: "Default",
      description: "",
      default_limits: "{}",
      doc_sources: "[]",
      policy_version: 1,
      created_at: T,
      updated_at: T,
    },
  ],
  project_members: [{ project_id: "default", user_id: "u-op", added_by: "u-admin", created_at: T + 1 }],
  policy_versions: [
    {
      id: "pv-1",
      project_id: "default",
      version: 1,
      yaml: "rules: []\n",
      comment: "first",
      created_by: "u-admin",
      created_by_label: "admin@upgrade.test",
      created_at: T,
    },
  ],
  secrets: [
    {
      id: "sec-1",
      name: "NPM_TOKEN",
      project_id: null,
      description: "publish",
      value_enc: "v1:placeholder",
      created_by: "u-admin",
      created_at: T + 9,
      updated_at: T + 9,
    },
  ],
  auth_sessions: [{ id: "sess-1", user_id: "u-admin", created_at: T + 10, expires_at: T + 86_400_000, source_ip: "127.0.0.1", user_agent: "upgrade-test" }],
  webhooks: [
    {
      id: "wh-1",
      project_id: null,
      url: "https://hooks.example.com/airlock",
      format: "standard",
      events: JSON.stringify(["approval.requested"]),
      secret_enc: "v1:placeholder",
      created_at: T + 11,
    },
  ],
  notification_preferences: [{ user_id: "u-admin", events: JSON.stringify(["approval.requested"]), updated_at: T + 12 }],
};

export interface AuditFixture {
  /** The hashes of the events written, in order. */
  hashes: string[];
}

function columnsOf(sqlite: Database.Database, table: string): Set<string> {
  return new Set((sqlite.prepare(`pragma table_info("${table}")`).all() as { name: string }[]).map((c) => c.name));
}

/**
 * Inserts REPRESENTATIVE_ROWS as far as the version's schema has their tables
 * and columns, and `events` audit events with a valid chain (its head sealed
 * with `auditKey` from the version that added the seal on, as Airlock did).
 */
export function fillRepresentativeRows(file: string, auditKey: Buffer, events = 6): AuditFixture {
  const sqlite = new Database(file);
  try {
    sqlite.pragma("foreign_keys = ON");
    const fill = sqlite.transaction(() => {
      for (const [table, rows] of Object.entries(REPRESENTATIVE_ROWS)) {
        const columns = columnsOf(sqlite, table);
        if (columns.size === 0) continue; // not in this version
        for (const row of rows) {
          const names = Object.keys(row).filter((c) => columns.has(c));
          sqlite
            .prepare(`insert into "${table}" (${names.map((n) => `"${n}"`).join(", ")}) values (${names.map(() => "?").join(", ")})`)
            .run(...names.map((n) => row[n]));
        }
      }
      const hashes: string[] = [];
      let prev = GENESIS_HASH;
      const insert = sqlite.prepare(
        "insert into audit_events (seq, id, at, actor_id, actor_label, action, target_type, target_id, details, source_ip, token_id, prev_hash, hash) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      );
      for (let seq = 1; seq <= events; seq++) {
        const fields = {
          seq,
          id: `evt-${seq}`,
          at: new Date(T + 100 + seq),
          actorId: seq % 2 ? "u-admin" : null,
          actorLabel: seq % 2 ? "admin@upgrade.test" : "system",
          action: ["user.create", "run.create", "approval.vote"][seq % 3]!,
          targetType: "run",
          targetId: "run-waiting",
          details: canonicalJson({ seq, note: "written by an older Airlock" }),
          sourceIp: "127.0.0.1",
          tokenId: null,
        };
        const hash = hashEvent(prev, fields);
        insert.run(
          seq,
          fields.id,
          fields.at.getTime(),
          fields.actorId,
          fields.actorLabel,
          fields.action,
          "run",
          "run-waiting",
          fields.details,
          "127.0.0.1",
          null,
          prev,
          hash,
        );
        hashes.push(hash);
        prev = hash;
      }
      const head = { count: events, lastSeq: events, lastHash: prev };
      if (columnsOf(sqlite, "audit_head").has("mac")) {
        sqlite
          .prepare("insert into audit_head (id, count, last_seq, last_hash, mac) values (1, ?, ?, ?, ?)")
          .run(head.count, head.lastSeq, head.lastHash, sealOf(auditKey, head));
      } else {
        sqlite.prepare("insert into audit_head (id, count, last_seq, last_hash) values (1, ?, ?, ?)").run(head.count, head.lastSeq, head.lastHash);
      }
      return { hashes };
    });
    return fill();
  } finally {
    sqlite.close();
  }
}

/** Every table's rows (ordered by rowid) and the schema, to compare a database before and after. */
export function snapshotDatabase(file: string): { schema: unknown[]; rows: Record<string, unknown[]> } {
  const sqlite = new Database(file, { readonly: true });
  try {
    const schema = sqlite.prepare("select type, name, tbl_name, sql from sqlite_master order by type, name").all();
    // Ordinary tables only: full-text indexes (virtual tables and their shadow tables) are derived from them.
    const tables = sqlite
      .prepare("select name from pragma_table_list where schema = 'main' and type = 'table' and name not like 'sqlite_%' order by name")
      .pluck()
      .all() as string[];
    const rows: Record<string, unknown[]> = {};
    for (const t of tables) rows[t] = sqlite.prepare(`select * from "${t}" order by rowid`).all();
    return { schema, rows };
  } finally {
    sqlite.close();
  }
}

export function canonicalRows(rows: unknown[], columns?: string[]): unknown[] {
  return rows.map((r) => {
    const row = r as Record<string, unknown>;
    return Object.fromEntries((columns ?? Object.keys(row)).map((c) => [c, row[c]]));
  });
}
