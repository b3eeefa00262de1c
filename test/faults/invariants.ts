// What must hold after every fault (issue 15), checked on the data directory
// itself (the SQLite file, the shadow repositories, the engine's containers):
// the audit chain verifies; no approval decision is lost; no approved tool
// call ran twice or without its decision; every run ended with a reason (or is
// explicitly allowed to still be going); no container outlives its run; every
// shadow repository passes `git fsck --full`.
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { openDatabase } from "@/db/client";
import { instanceIdForDataDir } from "@/server/sandbox/runtime";

const execFileAsync = promisify(execFile);
const ROOT = path.resolve(__dirname, "../..");

/** `airlock audit verify --json`, the real CLI (it needs the data directory's audit key, as an operator's check would). */
async function verifyAuditWithCli(dataDir: string): Promise<{ ok: boolean; firstBrokenSeq?: number; problem?: string }> {
  const run = await execFileAsync(path.join(ROOT, "bin", "airlock"), ["audit", "verify", "--json"], {
    cwd: ROOT,
    env: { ...process.env, AIRLOCK_DATA_DIR: dataDir, AIRLOCK_FAILPOINTS: "" },
  }).catch((err: { stdout?: string; stderr?: string }) => ({ stdout: err.stdout ?? "", stderr: err.stderr ?? "" }));
  try {
    return JSON.parse(run.stdout.trim().split("\n").at(-1) ?? "") as { ok: boolean; firstBrokenSeq?: number; problem?: string };
  } catch {
    return { ok: false, problem: `airlock audit verify did not answer: ${run.stdout}${run.stderr}`.slice(0, 500) };
  }
}

/** The file every scripted command appends its own unique line to (inside /workspace, read from the host). */
export const EXEC_LOG = "fault-exec.log";

/** A decision the test made through approvals.decide and got an answer for. */
export interface MadeDecision {
  approvalId: string;
  runId: string;
  decision: "approve" | "deny";
}

export interface InvariantOptions {
  /** Decisions whose approvals.decide call answered OK: each must be in the database as decided. */
  decisions?: MadeDecision[];
  /** Runs that may still be active (not yet terminal); every other run must have ended with a reason. */
  activeRuns?: string[];
  /** How long to wait for containers of ended runs to be removed (their removal follows the state change). */
  containerGraceMs?: number;
}

const TERMINAL = new Set(["succeeded", "failed", "killed", "rolled_back"]);

interface RunRow {
  id: string;
  title: string;
  state: string;
  ended_reason: string | null;
  summary: string | null;
  workspace_dir: string | null;
}
interface CallRow {
  id: string;
  run_id: string;
  seq: number;
  tool: string;
  args: string;
  verdict: string | null;
  state: string;
  approval_id: string | null;
  started_at: number | null;
  error_code: string | null;
}
interface ApprovalRow {
  id: string;
  run_id: string;
  tool_call_id: string | null;
  kind: string;
  state: string;
  decided_by: string | null;
}

/** Names a call the way a person reading a failure wants it: run, seq, tool and the command. */
function describeCall(c: CallRow, runs: Map<string, RunRow>): string {
  let detail = "";
  try {
    const a = JSON.parse(c.args) as Record<string, unknown>;
    detail = String(a.command ?? a.path ?? "").slice(0, 80);
  } catch {
    // args as stored
  }
  return `run ${c.run_id.slice(0, 8)} ("${runs.get(c.run_id)?.title ?? "?"}") call #${c.seq} ${c.tool}${detail ? ` \`${detail}\`` : ""} [${c.id.slice(0, 8)}]`;
}

/** Lines of the run's exec log (each scripted command appends its own tag once per execution). */
function execLogLines(run: RunRow): string[] {
  if (!run.workspace_dir) return [];
  try {
    return fs
      .readFileSync(path.join(run.workspace_dir, EXEC_LOG), "utf8")
      .split("\n")
      .map((l) => l.trim())
      .filter(Boolean);
  } catch {
    return [];
  }
}

/** The unique tag a scripted command writes to the exec log (`echo TAG >> /workspace/fault-exec.log`). */
export function execTagOf(command: string): string | null {
  return /echo (\S+) >> \/workspace\/fault-exec\.log/.exec(command)?.[1] ?? null;
}

async function containersOf(dataDir: string): Promise<{ id: string; runId: string; state: string }[]> {
  const instance = instanceIdForDataDir(dataDir);
  const { stdout } = await execFileAsync("docker", [
    "ps",
    "-a",
    "--filter",
    `label=airlock.instance=${instance}`,
    "--filter",
    "label=airlock.run",
    "--format",
    '{{.ID}} {{.Label "airlock.run"}} {{.State}}',
  ]);
  return stdout
    .split("\n")
    .filter(Boolean)
    .map((l) => {
      const [id, runId, state] = l.split(" ");
      return { id: id!, runId: runId!, state: state! };
    });
}

/**
 * Checks every invariant and returns the violations as plain sentences
 * naming the run and the call (empty: all hold).
 */
export async function checkInvariants(dataDir: string, opts: InvariantOptions = {}): Promise<string[]> {
  const violations: string[] = [];
  // 1. The audit chain verifies (the CLI runs while the rest is looked at).
  const auditCheck = verifyAuditWithCli(dataDir);
  const db = openDatabase(path.join(dataDir, "airlock.db"));
  let runs: Map<string, RunRow>;
  try {
    const sqlite = db.$client;
    runs = new Map((sqlite.prepare("select id, title, state, ended_reason, summary, workspace_dir from runs").all() as RunRow[]).map((r) => [r.id, r]));
    const calls = sqlite.prepare("select id, run_id, seq, tool, args, verdict, state, approval_id, started_at, error_code from tool_calls").all() as CallRow[];
    const approvals = new Map(
      (sqlite.prepare("select id, run_id, tool_call_id, kind, state, decided_by from approvals").all() as ApprovalRow[]).map((a) => [a.id, a]),
    );
    const auditByTarget = new Map<string, string[]>();
    for (const e of sqlite.prepare("select action, target_id from audit_events where target_type = 'tool_call'").all() as {
      action: string;
      target_id: string;
    }[]) {
      auditByTarget.set(e.target_id, [...(auditByTarget.get(e.target_id) ?? []), e.action]);
    }

    // 2. No decision is lost.
    for (const d of opts.decisions ?? []) {
      const a = approvals.get(d.approvalId);
      const want = d.decision === "approve" ? "approved" : "denied";
      if (!a) violations.push(`run ${d.runId.slice(0, 8)}: the approval ${d.approvalId.slice(0, 8)} the reviewer decided (${d.decision}) is gone`);
      else if (a.state !== want && a.state !== "cancelled")
        violations.push(`run ${d.runId.slice(0, 8)}: the reviewer's ${d.decision} of ${a.kind} approval ${a.id.slice(0, 8)} was lost (it reads "${a.state}")`);
    }
    // A call has at most one approval request (a restart must not ask the reviewer again).
    const perCall = new Map<string, number>();
    for (const a of approvals.values()) if (a.tool_call_id) perCall.set(a.tool_call_id, (perCall.get(a.tool_call_id) ?? 0) + 1);

    // 3. No approved call ran twice or without its decision.
    const callsByTag = new Map<string, CallRow>();
    for (const c of calls) {
      const desc = describeCall(c, runs);
      if ((perCall.get(c.id) ?? 0) > 1) violations.push(`${desc} was put to reviewers ${perCall.get(c.id)} times`);
      if (c.tool === "run_command") {
        const tag = execTagOf(String((JSON.parse(c.args) as { command?: unknown }).command ?? ""));
        if (tag) callsByTag.set(`${c.run_id}/${tag}`, c);
      }
      // started_at is committed with the claim to execute, before any effect (gateway.ts executeApprovedNow).
      if (c.verdict === "ask" && c.started_at !== null) {
        const a = c.approval_id ? approvals.get(c.approval_id) : undefined;
        if (a?.state !== "approved") violations.push(`${desc} executed without an approved decision (approval ${a ? `reads "${a.state}"` : "missing"})`);
      }
      const results = (auditByTarget.get(c.id) ?? []).filter((x) => x === "tool.result" || x === "tool.refused").length;
      if (results > 1) violations.push(`${desc} has ${results} results in the audit trail (it finished more than once)`);
      if ((c.state === "succeeded" || c.state === "refused") && results === 0)
        violations.push(`${desc} is ${c.state} but the audit trail has no result for it`);
    }
    for (const run of runs.values()) {
      const counts = new Map<string, number>();
      for (const tag of execLogLines(run)) counts.set(tag, (counts.get(tag) ?? 0) + 1);
      for (const [tag, n] of counts) {
        const call = callsByTag.get(`${run.id}/${tag}`);
        if (!call) violations.push(`run ${run.id.slice(0, 8)}: "${tag}" ran but no tool call asked for it`);
        else {
          if (n > 1) violations.push(`${describeCall(call, runs)} ran ${n} times`);
          const a = call.approval_id ? approvals.get(call.approval_id) : undefined;
          if (call.verdict !== "allow" && a?.state !== "approved")
            violations.push(`${describeCall(call, runs)} ran without an approved decision (approval ${a ? `reads "${a.state}"` : "missing"})`);
        }
      }
    }

    // 4. Every run ended with a reason (or may still be going).
    const allowed = new Set(opts.activeRuns ?? []);
    for (const run of runs.values()) {
      if (!TERMINAL.has(run.state)) {
        if (!allowed.has(run.id)) violations.push(`run ${run.id.slice(0, 8)} ("${run.title}") is still "${run.state}"`);
      } else if ((run.state === "failed" || run.state === "killed") && !run.ended_reason?.trim()) {
        violations.push(`run ${run.id.slice(0, 8)} ("${run.title}") ended "${run.state}" without a reason`);
      }
    }

    // 6. Every shadow repository passes git fsck, and holds every checkpoint recorded for it.
    const cpRows = sqlite.prepare("select run_id, seq, commit_sha from checkpoints").all() as { run_id: string; seq: number; commit_sha: string }[];
    const checkpointDir = path.join(dataDir, "checkpoints");
    const repos = fs.existsSync(checkpointDir) ? fs.readdirSync(checkpointDir).filter((d) => d.endsWith(".git")) : [];
    for (const repo of repos) {
      const gitDir = path.join(checkpointDir, repo);
      const runId = repo.slice(0, -4);
      try {
        await execFileAsync("git", ["--git-dir", gitDir, "fsck", "--full", "--no-progress"], { maxBuffer: 16 * 1024 * 1024 });
      } catch (err) {
        const e = err as { stdout?: string; stderr?: string };
        violations.push(
          `run ${runId.slice(0, 8)}: git fsck --full fails on its shadow repository: ${(e.stderr || e.stdout || String(err)).trim().slice(0, 400)}`,
        );
        continue;
      }
      const shas = cpRows.filter((c) => c.run_id === runId);
      if (shas.length) {
        const { stdout } = await new Promise<{ stdout: string }>((resolve, reject) => {
          const child = execFile("git", ["--git-dir", gitDir, "cat-file", "--batch-check"], (err, stdout) => (err ? reject(err) : resolve({ stdout })));
          child.stdin?.end(shas.map((c) => c.commit_sha).join("\n") + "\n");
        });
        stdout.split("\n").forEach((line, i) => {
          if (line.endsWith(" missing") && shas[i])
            violations.push(`run ${runId.slice(0, 8)}: checkpoint #${shas[i].seq} names commit ${shas[i].commit_sha} that its repository lacks`);
        });
      }
    }
  } finally {
    db.$client.close();
  }

  // 5. No container outlives its run (removal follows the state change, so give it a moment).
  const deadline = Date.now() + (opts.containerGraceMs ?? 20_000);
  let orphans: { id: string; runId: string; state: string }[] = [];
  for (;;) {
    const live = await containersOf(dataDir);
    const fresh = openDatabase(path.join(dataDir, "airlock.db"));
    try {
      const states = new Map((fresh.$client.prepare("select id, state from runs").all() as { id: string; state: string }[]).map((r) => [r.id, r.state]));
      orphans = live.filter((c) => !states.has(c.runId) || TERMINAL.has(states.get(c.runId)!));
    } finally {
      fresh.$client.close();
    }
    if (!orphans.length || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  const audit = await auditCheck;
  if (!audit.ok) violations.unshift(`the audit chain is broken at event #${audit.firstBrokenSeq}: ${audit.problem}`);
  for (const c of orphans) {
    const run = runs.get(c.runId);
    violations.push(`container ${c.id} (${c.state}) is left for run ${c.runId.slice(0, 8)}, which is ${run ? `"${run.state}"` : "unknown"}`);
  }
  return violations;
}

/** Removes every container of this data directory's instance (clean-up after a test, never an invariant's fix). */
export async function removeInstanceContainers(dataDir: string): Promise<void> {
  const ids = (await containersOf(dataDir)).map((c) => c.id);
  if (ids.length) await execFileAsync("docker", ["rm", "-f", ...ids]).catch(() => undefined);
}
