// Audit: the write rate of chained audit events and `airlock audit verify`
// over a million of them (issue 14, item 6).
//
// Write rate: recordAudit (one immediate transaction per event, as the
// gateway's tool.decision / tool.result events commit) on a real SQLite file
// in WAL mode, against the raw baseline: a plain INSERT of the same row (same
// columns, same sizes, same indexes) into a twin table of the same database,
// one immediate transaction each, measured in turns.
//
// Verify: a million events written through the chain's own append logic
// (appendAuditEvents, 10 000 per transaction: the same hashes and the same
// sealed head as one-by-one appends), then the real CLI (bin/airlock audit
// verify) over them, timed from spawn to exit, with its peak RSS. The
// baseline is the least any verifier does: read every row and SHA-256 it.
// Asserts nothing.
//
//   npx tsx bench/audit.bench.ts [appendIterations] [verifyEvents] [verifyRuns]
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { migrateDatabase, openDatabase } from "@/db/client";
import { appendAuditEvents, recordAudit, type Actor, type AuditInput } from "@/server/audit/chain";
import { note, numericArgs, params, record, sideBySide } from "./support";

const [appendIterations, verifyEvents, verifyRuns] = numericArgs(2000, 1_000_000, 3);
params({ appendIterations, verifyEvents, verifyRuns });

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-auditbench-"));
process.env.AIRLOCK_DATA_DIR = dir; // the audit key (keys/audit.key) lives in the data directory
const file = path.join(dir, "airlock.db");

/** What the gateway records for each judged tool call (server/tools/gateway.ts), with a realistic reason. */
function decisionEvent(i: number): { actor: Actor; input: AuditInput } {
  const runId = `run-${(i % 50).toString().padStart(4, "0")}-6f1c2e8a`;
  return {
    actor: { userId: null, label: `agent:${runId}` },
    input: {
      action: "tool.decision",
      targetType: "tool_call",
      targetId: crypto.randomUUID(),
      details: {
        runId,
        tool: "run_command",
        verdict: i % 7 === 0 ? "ask" : "allow",
        rule: i % 7 === 0 ? "ask-network-tools" : "allow-read-only-commands",
        reason: i % 7 === 0 ? "curl reaches the network; a reviewer decides" : `git status, ls and cat ${i} only read the workspace`,
      },
    },
  };
}

function rawTwinTable(db: ReturnType<typeof openDatabase>): void {
  const sqlite = db.$client;
  // The same columns and indexes as audit_events (db/schema.ts), nothing chained.
  sqlite.exec(`create table bench_raw_events (seq integer primary key, id text not null, at integer not null, actor_id text, actor_label text not null,
    action text not null, target_type text, target_id text, details text not null default '{}', source_ip text, token_id text,
    prev_hash text not null, hash text not null);
    create unique index bench_raw_events_id_unique on bench_raw_events (id);
    create index bench_raw_events_actor_idx on bench_raw_events (actor_id);
    create index bench_raw_events_action_idx on bench_raw_events (action);
    create index bench_raw_events_target_idx on bench_raw_events (target_type, target_id);
    create index bench_raw_events_at_idx on bench_raw_events (at);`);
}

async function measureWriteRate(): Promise<void> {
  const db = openDatabase(file);
  migrateDatabase(db);
  rawTwinTable(db);
  const sqlite = db.$client;
  const insertRaw = sqlite.prepare(
    `insert into bench_raw_events (id, at, actor_id, actor_label, action, target_type, target_id, details, source_ip, token_id, prev_hash, hash)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const rawInsert = sqlite.transaction((e: { actor: Actor; input: AuditInput }) =>
    insertRaw.run(
      crypto.randomUUID(),
      Date.now(),
      e.actor.userId,
      e.actor.label,
      e.input.action,
      e.input.targetType,
      e.input.targetId,
      JSON.stringify(e.input.details),
      null,
      null,
      "0".repeat(64),
      "f".repeat(64),
    ),
  );
  const warmup = Math.min(100, appendIterations);
  const { airlock, raw } = await sideBySide(
    appendIterations,
    warmup,
    (i) => {
      const e = decisionEvent(i);
      const t0 = performance.now();
      recordAudit(db, e.actor, e.input);
      return Promise.resolve((performance.now() - t0) * 1000);
    },
    (i) => {
      const e = decisionEvent(i);
      const t0 = performance.now();
      rawInsert.immediate(e);
      return Promise.resolve((performance.now() - t0) * 1000);
    },
  );
  const perSecond = (samples: number[]) => Math.round(samples.length / (samples.reduce((s, v) => s + v, 0) / 1e6));
  record({
    id: "append",
    label: "one chained audit event (recordAudit, own transaction)",
    unit: "µs",
    samples: airlock,
    baseline: { label: "plain INSERT of the same row, own transaction", samples: raw, paired: true },
    note: `${perSecond(airlock)} chained events/s against ${perSecond(raw)} raw inserts/s (one transaction each, WAL, synchronous=FULL)`,
  });
  db.$client.close();
}

function generateChain(): number {
  const db = openDatabase(file);
  const batch = 10_000;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  let written = 0;
  while (written < verifyEvents) {
    const n = Math.min(batch, verifyEvents - written);
    const events = Array.from({ length: n }, (_, k) => decisionEvent(written + k));
    db.transaction((tx) => appendAuditEvents(tx, events), { behavior: "immediate" });
    written += n;
  }
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  note(
    `generated ${verifyEvents} chained events through appendAuditEvents in ${(ms / 1000).toFixed(1)} s, ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s of CPU (${Math.round(verifyEvents / (ms / 1000))} events/s in transactions of ${batch})`,
  );
  const total = db.$client.prepare("select count(*) from audit_events").pluck().get() as number;
  db.$client.pragma("wal_checkpoint(TRUNCATE)");
  db.$client.close();
  note(`database ${(fs.statSync(file).size / 1e6).toFixed(0)} MB with ${total} audit events`);
  return total;
}

/** The real CLI, as a user runs it, under GNU time for its peak resident set. */
function verifyWithCli(total: number): void {
  const samples: number[] = [];
  const rss: number[] = [];
  const cpuSeconds: number[] = [];
  const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
  for (let i = 0; i < verifyRuns; i++) {
    const timeFile = path.join(dir, "time.txt");
    const t0 = performance.now();
    const out = execFileSync("/usr/bin/time", ["-f", "%M %U %S", "-o", timeFile, path.join(root, "bin", "airlock"), "audit", "verify", "--json"], {
      env: { ...process.env, AIRLOCK_DATA_DIR: dir },
      cwd: root,
    }).toString();
    samples.push(performance.now() - t0);
    const result = JSON.parse(out) as { ok: boolean; count: number };
    if (!result.ok || result.count !== total) throw new Error(`airlock audit verify did not verify ${total} events: ${out}`);
    const [maxRssKb, user, system] = fs.readFileSync(timeFile, "utf8").trim().split("\n").at(-1)!.split(" ").map(Number);
    rss.push(maxRssKb! / 1024);
    cpuSeconds.push(user! + system!);
  }
  // Baseline: read every row and hash it, nothing else (no links, no canonical JSON, no seal).
  const baseline: number[] = [];
  for (let i = 0; i < verifyRuns; i++) {
    const db = openDatabase(file);
    const t0 = performance.now();
    for (const row of db.$client.prepare("select * from audit_events order by seq").raw(true).iterate())
      crypto.hash("sha256", (row as unknown[]).join("\n"), "hex");
    baseline.push(performance.now() - t0);
    db.$client.close();
  }
  record({
    id: "verify",
    label: `airlock audit verify over ${total} events (CLI, spawn to exit)`,
    samples,
    baseline: { label: "read and SHA-256 every row in one process (no CLI start-up, no links, no canonical JSON)", samples: baseline },
    target: { metric: "median", max: 10_000, source: "issue 14" },
    note: `peak RSS of the CLI ${Math.max(...rss).toFixed(0)} MB (GNU time: the largest process of the run); CPU time (user+sys) ${cpuSeconds.map((c) => c.toFixed(1)).join(", ")} s; the CLI's start-up (tsx, migration check) is included`,
  });
}

console.log(
  `load average ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")} on ${os.cpus().length} CPUs; data in ${dir}`,
);
async function main(): Promise<void> {
  try {
    await measureWriteRate();
    // The write-rate events stay at the chain's start: verify checks them too.
    verifyWithCli(generateChain());
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
