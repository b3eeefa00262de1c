// The gateway against a misbehaving or hostile agent: real container, real
// policy, the scripted model server. Every refusal reaches the model as a
// stable error code, and nothing refused ever runs.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { type TestDb } from "@/test/helpers/db";
import { actorOf } from "@/test/helpers/users";
import { startScriptedModelServer, type ScriptedModelServer, type ScriptStep, toolResultsSent } from "@/test/helpers/model-server";
import { registerModel, setUpSupervisedWorld, startRun, stopSupervisor, waitForState } from "@/test/helpers/runs";
import { decideApproval } from "@/server/approvals/approvals";
import { approvals, runEvents, toolCalls } from "@/db/schema";
import type { PublicUser } from "@/server/users/users";
import type { Supervisor } from "@/server/supervisor/supervisor";

let t: TestDb;
let supervisor: Supervisor;
let admin: PublicUser;
let operator: PublicUser;
let reviewer: PublicUser;
const servers: ScriptedModelServer[] = [];

const plan: ScriptStep = {
  type: "tool_calls",
  calls: [{ name: "submit_plan", arguments: { steps: [{ title: "probe", risk: "high", risk_note: "tries things" }] } }],
};
const call = (name: string, args: Record<string, unknown> | string): ScriptStep => ({ type: "tool_calls", calls: [{ name, arguments: args }] });
const finish: ScriptStep = call("finish", { summary: "done", status: "success" });

async function runScript(
  script: ScriptStep[],
  opts: { limits?: Record<string, number>; onApproval?: (a: { id: string; tool: string }) => "approve" | "deny" } = {},
) {
  const server = await startScriptedModelServer(script);
  servers.push(server);
  const modelId = registerModel(t.db, admin, server.baseUrl);
  const run = startRun(t.db, supervisor, operator, modelId, { limits: opts.limits });
  const decide = async () => {
    // Approve the plan; decide every other request as the test says (default deny).
    for (;;) {
      const state = t.db
        .select()
        .from(approvals)
        .where(eq(approvals.runId, run.id))
        .all()
        .find((a) => a.state === "pending");
      const r = (await import("@/test/helpers/runs")).getRun(t.db, run.id);
      if (["succeeded", "failed", "killed"].includes(r.state)) return;
      if (state) {
        const verdict = state.kind === "plan" ? "approve" : (opts.onApproval?.(state) ?? "deny");
        decideApproval(
          t.db,
          { ...actorOf(reviewer), userId: reviewer.id },
          { id: state.id, decision: verdict, reason: verdict === "deny" ? "not allowed in this test" : undefined },
        );
      }
      await new Promise((res) => setTimeout(res, 30));
    }
  };
  await decide();
  const done = await waitForState(t.db, run.id, ["succeeded", "failed", "killed"]);
  const results = toolResultsSent(server);
  return { run: done, server, results, calls: t.db.select().from(toolCalls).where(eq(toolCalls.runId, run.id)).all() };
}

beforeAll(async () => {
  ({ t, supervisor, admin, operator, reviewer } = await setUpSupervisedWorld());
});

afterAll(async () => {
  await stopSupervisor(supervisor);
  await Promise.all(servers.map((s) => s.close()));
  t?.close();
});

describe("path confinement", () => {
  it("refuses ../ traversal, absolute paths and symlinks that lead outside /workspace", async () => {
    const { results, run } = await runScript(
      [
        plan,
        call("read_file", { path: "../etc/passwd" }),
        call("read_file", { path: "/etc/passwd" }),
        call("read_file", { path: "/workspace/../etc/shadow" }),
        // The agent plants a symlink with an approved command, then tries to read and write through it.
        call("run_command", { command: "ln -s /etc escape && ln -s /etc/passwd pw" }),
        call("read_file", { path: "pw" }),
        call("write_file", { path: "escape/evil", content: "x" }),
        call("list_files", { path: "escape" }),
        finish,
      ],
      { onApproval: (a) => (a.tool === "run_command" ? "approve" : "deny") },
    );
    expect(run.state).toBe("succeeded");
    const codes = results.map((r) => r.code ?? "ok");
    expect(codes.slice(1, 4)).toEqual(["OUT_OF_WORKSPACE", "OUT_OF_WORKSPACE", "OUT_OF_WORKSPACE"]);
    expect(results[4]).toMatchObject({ ok: true }); // the ln command itself (approved)
    expect(codes.slice(5, 8)).toEqual(["OUT_OF_WORKSPACE", "OUT_OF_WORKSPACE", "OUT_OF_WORKSPACE"]);
  });
});

describe("compound and smuggled commands", () => {
  const hostile = [
    "ls && rm -rf ~",
    "ls; rm -rf /",
    "echo $(rm -rf /workspace)",
    "echo `touch /workspace/pwned`",
    "echo dG91Y2ggL3dvcmtzcGFjZS9wd25lZA== | base64 -d | sh",
    "bash -c 'touch /workspace/pwned'",
    "eval 'touch /workspace/pwned'",
    "echo x > .git/hooks/pre-commit",
    "find . -exec touch /workspace/pwned \\;",
    "sudo touch /workspace/pwned",
  ];

  it("never runs any part of a compound command without a decision that covers every part", async () => {
    const { results, calls, run } = await runScript([plan, ...hostile.map((command) => call("run_command", { command })), finish]);
    expect(run.state).toBe("succeeded");
    const commandResults = results.slice(1, 1 + hostile.length);
    for (const [i, r] of commandResults.entries()) {
      expect(r.ok, `${hostile[i]} → ${JSON.stringify(r)}`).toBe(false);
      expect(["DENIED_BY_POLICY", "DENIED_BY_REVIEWER"], hostile[i]).toContain(r.code);
    }
    // Nothing ran: no call reached the executing state and no marker exists.
    expect(calls.filter((c) => c.tool === "run_command").every((c) => c.startedAt === null)).toBe(true);
    expect(fs.existsSync(path.join(run.workspaceDir!, "pwned"))).toBe(false);
    // Every refusal names its rule.
    expect(calls.filter((c) => c.tool === "run_command").every((c) => Boolean(c.rule))).toBe(true);
  });
});

describe("a misbehaving model", () => {
  it("gets INVALID_INPUT for malformed JSON, unknown tools and oversized arguments", async () => {
    const { results, run } = await runScript([
      plan,
      call("read_file", "{not json"),
      call("format_disk", { now: true }),
      call("write_file", { path: "big.txt", content: "x".repeat(2 * 1024 * 1024) }),
      call("read_file", { path: "a", bogus: 1 }),
      call("read_file", { path: "." }),
      call("edit_file", { path: ".", old_string: "a", new_string: "b" }),
      finish,
    ]);
    expect(run.state, run.endedReason ?? "").toBe("succeeded");
    expect(results.slice(1, 7).map((r) => r.code)).toEqual([
      "INVALID_INPUT",
      "INVALID_INPUT",
      "INVALID_INPUT",
      "INVALID_INPUT",
      "INVALID_INPUT",
      "INVALID_INPUT",
    ]);
    expect(String(results[2]!.message)).toContain("Available tools");
  });

  it("stops a run that loops on the same call", async () => {
    const same = call("read_file", { path: "nothing-here.txt" });
    const { run } = await runScript([plan, same, same, same, same, same, same, finish]);
    expect(run.state).toBe("failed");
    expect(run.endedReason).toMatch(/same arguments 5 times/);
  });

  it("stops a run at its tool-call limit and its step limit", async () => {
    const { run } = await runScript([plan, ...Array.from({ length: 10 }, (_, i) => call("list_files", { path: `.`, depth: (i % 3) + 1 }))], {
      limits: { maxSteps: 4 },
    });
    expect(run.state).toBe("failed");
    expect(run.endedReason).toMatch(/4 model turns/);
  });

  it("fails plainly when the model endpoint is down", async () => {
    const { run } = await runScript([{ type: "http_error", status: 401, body: { error: { message: "bad key" } } }]);
    expect(run.state).toBe("failed");
    expect(run.endedReason).toMatch(/model endpoint .* failed/i);
  });

  it("fails when the model keeps answering without calling tools", async () => {
    const text: ScriptStep = { type: "text", text: "I think we are done." };
    const { run } = await runScript([text, text, text]);
    expect(run.state).toBe("failed");
    expect(run.endedReason).toMatch(/without calling a tool/);
  });
});

describe("the run's caps", () => {
  it("the pids-cap answer is plain: an approved command that forks until the cap answers LIMIT_EXCEEDED with the figures (never ok:true/126), and the next commands work", async () => {
    const { results, run } = await runScript(
      [
        plan,
        // (The policy denies the shell's fork bombs outright; this one spawns processes until a fork fails.)
        call("run_command", { command: "python3 -c \"import subprocess\nwhile True: subprocess.Popen(['sleep', '300'])\"" }),
        call("run_command", { command: "echo after-1" }),
        call("run_command", { command: "echo after-2" }),
        call("run_command", { command: "echo after-3" }),
        finish,
      ],
      { limits: { pids: 64 }, onApproval: () => "approve" },
    );
    expect(run.state).toBe("succeeded");
    expect(results[1]).toMatchObject({ ok: false, code: "LIMIT_EXCEEDED", pids_exhausted: true });
    expect(results[1]!.message).toMatch(
      /^The sandbox ran out of processes: 64 of 64 \(the run's limit\)\. Airlock stopped every process the command left behind \(\d+\), so the next command starts clean\./,
    );
    for (const [i, r] of results.slice(2, 5).entries()) expect(r).toMatchObject({ ok: true, exit_code: 0, output: `after-${i + 1}\n` });
  });

  it("the memory-cap answer is plain: a command killed by the OOM killer answers LIMIT_EXCEEDED with the run's memory limit", async () => {
    const { results, run } = await runScript(
      [plan, call("run_command", { command: "python3 -c \"b = b'x' * (512 * 2**20)\"" }), call("run_command", { command: "echo fine" }), finish],
      { limits: { memoryMb: 256 }, onApproval: () => "approve" },
    );
    expect(run.state).toBe("succeeded");
    expect(results[1]).toMatchObject({ ok: false, code: "LIMIT_EXCEEDED", exit_code: 137, oom_killed: true });
    expect(results[1]!.message).toMatch(/^The command was killed for using more than the run's 256 MB memory limit\./);
    expect(results[2]).toMatchObject({ ok: true, exit_code: 0, output: "fine\n" });
  });
});

describe("asking before the plan", () => {
  it("a read that needs a reviewer before any plan waits for the decision and the run goes back to planning", async () => {
    const { results, run } = await runScript(
      [call("search_files", { pattern: "KEY", path: ".env" }), call("search_files", { pattern: "KEY", path: ".env" }), plan, finish],
      {
        onApproval: (() => {
          let n = 0;
          return () => (n++ === 0 ? "approve" : "deny");
        })(),
      },
    );
    expect(run.state).toBe("succeeded");
    // The first search was approved and ran (the file does not exist: no matches), the second was denied.
    expect(results[0]?.ok).toBe(true);
    expect(results[1]?.code).toBe("DENIED_BY_REVIEWER");
    const states = t.db
      .select()
      .from(runEvents)
      .where(eq(runEvents.runId, run.id))
      .all()
      .filter((e) => e.type === "state")
      .map((e) => (e.payload as { to: string }).to);
    expect(states.slice(0, 7)).toEqual(["queued", "starting", "planning", "awaiting_approval", "planning", "awaiting_approval", "planning"]);
  });
});

describe("dry runs", () => {
  it("return the decision and the diff without writing or asking anyone", async () => {
    const { results, run } = await runScript([
      plan,
      call("write_file", { path: "draft.txt", content: "draft\n", dry_run: true }),
      call("run_command", { command: "rm -rf /", dry_run: true }),
      finish,
    ]);
    expect(run.state).toBe("succeeded");
    expect(results[1]).toMatchObject({ ok: true, dry_run: true, verdict: "ask" });
    expect(String((results[1]!.preview as { diff: string }).diff)).toContain("+draft");
    expect(results[2]).toMatchObject({ ok: false, code: "DENIED_BY_POLICY" });
    expect(fs.existsSync(path.join(run.workspaceDir!, "draft.txt"))).toBe(false);
    expect(
      t.db
        .select()
        .from(approvals)
        .where(eq(approvals.runId, run.id))
        .all()
        .map((a) => a.kind),
    ).toEqual(["plan"]);
  });
});

describe("checkpoints after commands", () => {
  it("C1: through the whole gateway, a command that changed nothing adds no checkpoint, and the next one that changes a file does", async () => {
    const { results, run } = await runScript(
      [
        plan,
        call("run_command", { command: "true" }),
        call("run_command", { command: "echo hi > a.txt" }),
        call("run_command", { command: "ls -la" }),
        call("run_command", { command: "true" }),
        call("run_command", { command: "echo ho > a.txt" }),
        finish,
      ],
      { onApproval: () => "approve" },
    );
    expect(run.state).toBe("succeeded");
    expect(results.slice(1, 6).map((r) => r!.ok)).toEqual([true, true, true, true, true]);
    const labels = t.db
      .select()
      .from(runEvents)
      .where(eq(runEvents.runId, run.id))
      .all()
      .filter((e) => e.type === "checkpoint")
      .map((e) => String((e.payload as { label?: string }).label));
    expect(labels).toEqual(["start", "run_command: echo hi > a.txt", "run_command: echo ho > a.txt"]);
    expect(fs.readFileSync(path.join(run.workspaceDir!, "a.txt"), "utf8")).toBe("ho\n");
  });
});
