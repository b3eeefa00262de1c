import crypto from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toolCalls } from "@/db/schema";
import { presetPolicy, presetYaml } from "@/server/policy";
import { createModel } from "@/server/models/models";
import { stopPolicyWorkers } from "@/server/policy/offthread";
import { replayRun, simulateCall, simulateCalls, simulateSequence } from "@/server/projects/simulate";
import { createRun } from "@/server/runs/runs";
import type { PublicUser } from "@/server/users/users";
import { createTestDb, type TestDb } from "@/test/helpers/db";
import { actorOf, addUser } from "@/test/helpers/users";

let t: TestDb;
let operator: PublicUser;
let modelId: string;

beforeAll(async () => {
  t = createTestDb();
  const admin = await addUser(t.db, "admin");
  operator = await addUser(t.db, "operator");
  modelId = createModel(t.db, actorOf(admin), { name: "m", baseUrl: "http://127.0.0.1:9/v1", model: "m" }).id;
});
afterAll(async () => {
  t?.close();
  await stopPolicyWorkers();
});

const supervised = presetPolicy("supervised");

describe("policies.simulate", () => {
  it("answers {verdict, rule, reason, parts} for one call", () => {
    const result = simulateCall(supervised, { tool: "run_command", args: { command: "ls && rm -rf ~" } });
    expect(result).toMatchObject({
      verdict: "deny",
      rule: "destructive-delete",
      reason: "`rm -rf ~` would delete the agent's home directory; destructive commands are denied.",
    });
    expect(result.parts.map((p) => [p.command, p.verdict, p.rule])).toEqual([
      ["ls", "allow", "read-only-command"],
      ["rm -rf ~", "deny", "destructive-delete"],
    ]);
  });

  it("says how many approvals an asked call needs and who may give them", () => {
    expect(simulateCall(supervised, { tool: "write_file", args: { path: ".github/workflows/ci.yml", content: "x" } })).toMatchObject({
      verdict: "ask",
      rule: "ci-config-write",
      requiredApprovals: 2,
      allowSelfApproval: false,
      approverRole: "reviewer",
      risk: "medium",
    });
  });

  it("reports calls the gateway refuses before the policy", () => {
    expect(simulateCall(supervised, { tool: "read_file", args: { path: "../../etc/passwd" } })).toMatchObject({
      verdict: "deny",
      rule: "out-of-workspace",
      refusedBy: "gateway",
      code: "OUT_OF_WORKSPACE",
    });
    expect(simulateCall(supervised, { tool: "format_disk", args: {} })).toMatchObject({ verdict: "deny", rule: "invalid-input", code: "INVALID_INPUT" });
    expect(simulateCall(supervised, { tool: "read_file", args: {} }).reason).toMatch(/invalid arguments for read_file: path/);
  });

  it("judges a draft instead of the stored policy, and refuses an invalid draft", async () => {
    const draft = presetYaml("supervised").replace("default:\n  verdict: ask", "default:\n  verdict: deny");
    const calls = [{ tool: "run_command", args: { command: "make" } }];
    const onDraft = await simulateCalls(t.db, { yaml: draft, calls });
    expect(onDraft.source).toEqual({ kind: "draft" });
    expect(onDraft.results[0]).toMatchObject({ verdict: "deny", rule: "default" });
    expect((await simulateCalls(t.db, { calls })).source).toMatchObject({ kind: "version", version: 1 });
    await expect(simulateCalls(t.db, { yaml: "rules: [", calls })).rejects.toThrow(/The policy was not saved[\s\S]*line 1/);
  });

  it("judges a scripted sequence call by call", () => {
    const results = simulateSequence(supervised, [
      { tool: "read_file", args: { path: "README.md" } },
      { tool: "run_command", args: { command: "npm test" } },
      { tool: "run_command", args: { command: "cat ~/.ssh/id_rsa" } },
    ]);
    expect(results.map((r) => [r.verdict, r.rule])).toEqual([
      ["allow", "workspace-read"],
      ["ask", "default"],
      ["deny", "credential-access"],
    ]);
  });
});

describe("policies.replay", () => {
  it("replays a past run's calls against a draft and shows what changes", async () => {
    const run = createRun(t.db, { ...actorOf(operator), userId: operator.id }, { title: "t", task: "x", modelId });
    const calls = [
      { tool: "run_command", args: { command: "npm test" }, verdict: "ask", rule: "default" },
      { tool: "read_file", args: { path: "README.md" }, verdict: "allow", rule: "workspace-read" },
      { tool: "run_command", args: { command: "cat README.md" }, verdict: "allow", rule: "read-only-command" },
    ] as const;
    calls.forEach((c, i) =>
      t.db
        .insert(toolCalls)
        .values({
          id: crypto.randomUUID(),
          runId: run.id,
          seq: i + 1,
          tool: c.tool,
          args: c.args,
          verdict: c.verdict,
          rule: c.rule,
          reason: "r",
          state: "succeeded",
        })
        .run(),
    );
    const replay = await replayRun(t.db, {
      runId: run.id,
      yaml: presetYaml("trusted").replace(/  - id: read-only-command\n[\s\S]*?(?=  - id: read-only-sort)/, ""),
    });
    expect(replay.items.map((i) => [i.seq, i.before.verdict, i.after.verdict, i.change])).toEqual([
      [1, "ask", "allow", "looser"],
      [2, "allow", "allow", "same"],
      [3, "allow", "ask", "stricter"],
    ]);
    expect(replay.summary).toEqual({ total: 3, changed: 2, stricter: 1, looser: 1, otherRule: 0 });
    expect((await replayRun(t.db, { runId: run.id })).summary.changed).toBe(0);
  });
});

describe("services in the policy (issue 13)", () => {
  const trusted = presetPolicy("trusted");

  it("start_service asks a reviewer by default, even where the same command would run at once", () => {
    expect(simulateCall(supervised, { tool: "run_command", args: { command: "ls" } })).toMatchObject({ verdict: "allow" });
    expect(simulateCall(supervised, { tool: "start_service", args: { name: "web", command: "ls" } })).toMatchObject({
      verdict: "ask",
      rule: "start-service-asks",
    });
    // The trusted preset runs package scripts at once; as a service, a reviewer still decides.
    expect(simulateCall(trusted, { tool: "run_command", args: { command: "npm run dev" } })).toMatchObject({ verdict: "allow" });
    expect(simulateCall(trusted, { tool: "start_service", args: { name: "web", command: "npm run dev" } })).toMatchObject({ verdict: "ask" });
  });

  it("start_service's command is judged like run_command's: a deny holds", () => {
    expect(simulateCall(supervised, { tool: "start_service", args: { name: "wipe", command: "rm -rf /" } })).toMatchObject({ verdict: "deny" });
  });

  it("stop_service and list_services only touch the run's own services: allowed", () => {
    expect(simulateCall(supervised, { tool: "stop_service", args: { name: "web" } })).toMatchObject({ verdict: "allow", rule: "control-tool" });
    expect(simulateCall(supervised, { tool: "list_services", args: {} })).toMatchObject({ verdict: "allow", rule: "control-tool" });
  });

  it("a bad service name is refused with what a name may be", () => {
    const r = simulateCall(supervised, { tool: "start_service", args: { name: "../web", command: "ls" } });
    expect(r).toMatchObject({ verdict: "deny", refusedBy: "gateway", code: "INVALID_INPUT" });
    expect(r.reason).toMatch(/a service name is 1 to 40 letters, digits, dots, dashes or underscores/);
  });
});
