// Project policies through real runs: the gateway judges each run's calls by
// its project's policy in force (one path for every agent), Airlock's
// protections hold under any policy, and run_tests / search_docs use the
// project's test command and documentation.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { approvals, toolCalls } from "@/db/schema";
import { decideApproval } from "@/server/approvals/approvals";
import { updatePolicy } from "@/server/projects/policy-store";
import { createProject } from "@/server/projects/projects";
import { createRun } from "@/server/runs/runs";
import type { Supervisor } from "@/server/supervisor/supervisor";
import type { PublicUser } from "@/server/users/users";
import { type TestDb } from "@/test/helpers/db";
import { startScriptedModelServer, type ScriptedModelServer, type ScriptStep, toolResultsSent } from "@/test/helpers/model-server";
import { getRun, registerModel, setUpSupervisedWorld, stopSupervisor, waitForState } from "@/test/helpers/runs";
import { actorOf } from "@/test/helpers/users";

let t: TestDb;
let supervisor: Supervisor;
let admin: PublicUser;
let operator: PublicUser;
let reviewer: PublicUser;
const servers: ScriptedModelServer[] = [];

const plan: ScriptStep = {
  type: "tool_calls",
  calls: [{ name: "submit_plan", arguments: { steps: [{ title: "work", risk: "low", risk_note: "workspace only" }] } }],
};
const call = (name: string, args: Record<string, unknown>): ScriptStep => ({ type: "tool_calls", calls: [{ name, arguments: args }] });
const finish = call("finish", { summary: "done", status: "success" });

/** Runs a script in a project; plans are approved, every other request denied (so anything that ran was allowed by policy). */
async function runIn(projectId: string | undefined, script: ScriptStep[]) {
  const server = await startScriptedModelServer(script);
  servers.push(server);
  const modelId = registerModel(t.db, admin, server.baseUrl);
  const run = createRun(t.db, { ...actorOf(operator), userId: operator.id }, { title: "policy run", task: "x", modelId, projectId });
  supervisor.launch(run.id);
  for (;;) {
    const r = getRun(t.db, run.id);
    if (["succeeded", "failed", "killed"].includes(r.state)) break;
    const pending = t.db
      .select()
      .from(approvals)
      .where(eq(approvals.runId, run.id))
      .all()
      .find((a) => a.state === "pending");
    if (pending) {
      const approve = pending.kind === "plan";
      decideApproval(
        t.db,
        { ...actorOf(reviewer), userId: reviewer.id },
        { id: pending.id, decision: approve ? "approve" : "deny", reason: approve ? undefined : "denied in this test" },
      );
    }
    await new Promise((res) => setTimeout(res, 30));
  }
  const done = await waitForState(t.db, run.id, ["succeeded", "failed", "killed"]);
  const results = toolResultsSent(server);
  return {
    run: done,
    results,
    calls: t.db
      .select()
      .from(toolCalls)
      .where(eq(toolCalls.runId, run.id))
      .all()
      .sort((a, b) => a.seq - b.seq),
  };
}

beforeAll(async () => {
  ({ t, supervisor, admin, operator, reviewer } = await setUpSupervisedWorld());
  createProject(t.db, actorOf(admin), {
    slug: "builds",
    name: "Builds",
    preset: "trusted",
    testCommand: "echo tests-ran-$((6 * 7))",
    docSources: [{ kind: "text", title: "Runbook", text: "Deploys happen on Fridays.\n\nThe test suite lives in tests/ and runs with make check." }],
  });
  createProject(t.db, actorOf(admin), { slug: "yolo", name: "Allow everything" });
  await updatePolicy(t.db, actorOf(admin), {
    projectId: "yolo",
    yaml: "id: yolo\nname: Allow everything\ndescription: test\ndefault: { verdict: allow, reason: Everything is allowed. }\nrules: []\n",
  });
});

afterAll(async () => {
  await stopSupervisor(supervisor);
  await Promise.all(servers.map((s) => s.close()));
  t?.close();
});

describe("the gateway judges by the run's project policy", () => {
  const script = [plan, call("run_command", { command: "mkdir -p out && touch out/x" }), finish];

  it("the same call asks in the default project and runs without asking in a trusted one", async () => {
    const supervised = await runIn(undefined, script);
    expect(supervised.calls[1]).toMatchObject({ tool: "run_command", verdict: "ask", rule: "command-writes-file" });
    expect(supervised.results[1]).toMatchObject({ code: "DENIED_BY_REVIEWER" });

    const trusted = await runIn("builds", script);
    expect(trusted.calls[1]).toMatchObject({ tool: "run_command", verdict: "allow", rule: "trusted-files", approvalId: null });
    expect(trusted.results[1]).toMatchObject({ ok: true, exit_code: 0 });
  });

  it("a policy that allows everything still cannot open Airlock's protections", async () => {
    const { calls, results } = await runIn("yolo", [
      plan,
      call("write_file", { path: ".git/hooks/pre-commit", content: "#!/bin/sh\nid\n" }),
      call("run_command", { command: "echo id >> ~/.bashrc" }),
      call("write_file", { path: ".github/workflows/x.yml", content: "on: push\n" }),
      finish,
    ]);
    expect(calls.slice(1, 4).map((c) => [c.verdict, c.rule])).toEqual([
      ["deny", "protected-git-internals"],
      ["deny", "protected-shell-startup"],
      ["ask", "protected-ci-config"],
    ]);
    expect(results.slice(1, 4).map((r) => r.code)).toEqual(["DENIED_BY_POLICY", "DENIED_BY_POLICY", "DENIED_BY_REVIEWER"]);
    expect(String(results[1]!.message)).toMatch(/^Denied by policy rule protected-git-internals: /);
  });

  it("run_tests runs the project's test command and search_docs searches its documentation", async () => {
    const { results } = await runIn("builds", [plan, call("run_tests", {}), call("search_docs", { query: "how do tests run" }), finish]);
    expect(results[1]).toMatchObject({ ok: true, exit_code: 0 });
    expect(String(results[1]!.output)).toContain("tests-ran-42");
    expect(results[2]).toMatchObject({ ok: true, sources: 1 });
    expect((results[2]!.results as { source: string; text: string }[])[0]).toMatchObject({
      source: "Runbook",
      text: "The test suite lives in tests/ and runs with make check.",
    });
  });
});
