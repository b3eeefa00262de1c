import crypto from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { desc } from "drizzle-orm";
import { auditEvents, toolCalls } from "@/db/schema";
import { createApproval, decideApproval } from "@/server/approvals/approvals";
import { simulateCall } from "@/server/projects/simulate";
import { createModel } from "@/server/models/models";
import { currentPolicy } from "@/server/projects/policy-store";
import { createProject } from "@/server/projects/projects";
import { listProposals, MAX_PATTERN_COMMAND, patternOfCall, promotionCandidates, proposeRule, voteOnProposal } from "@/server/projects/proposals";
import { ruleTrackRecords } from "@/server/projects/track-record";
import { createRun } from "@/server/runs/runs";
import { decideUnderPolicy, normaliseToolCall, type ToolCallForPolicy } from "@/server/policy";
import type { PublicUser } from "@/server/users/users";
import { createTestDb, type TestDb } from "@/test/helpers/db";
import { actorOf, addUser } from "@/test/helpers/users";

let t: TestDb;
let admin: PublicUser;
let operator: PublicUser;
let reviewers: PublicUser[];
let modelId: string;
let runId: string;

beforeAll(async () => {
  t = createTestDb();
  admin = await addUser(t.db, "admin");
  operator = await addUser(t.db, "operator");
  reviewers = [await addUser(t.db, "reviewer"), await addUser(t.db, "reviewer"), await addUser(t.db, "reviewer")];
  modelId = createModel(t.db, actorOf(admin), { name: "m", baseUrl: "http://127.0.0.1:9/v1", model: "m" }).id;
  createProject(t.db, actorOf(admin), { slug: "app", name: "App" });
  runId = createRun(t.db, { ...actorOf(operator), userId: operator.id }, { title: "t", task: "x", modelId, projectId: "app" }).id;
});
afterAll(() => t?.close());

const reviewer = (u: PublicUser) => ({ ...actorOf(u), userId: u.id, role: u.role });
let seq = 0;

/** A tool call the gateway judged and asked about, decided by a reviewer as the gateway would have it. */
function askedCall(tool: string, args: Record<string, unknown>, decision: "approve" | "deny" = "approve") {
  const prepared = normaliseToolCall(tool, args);
  if (!prepared.ok) throw new Error(prepared.message);
  const judged = decideUnderPolicy(prepared.call as ToolCallForPolicy, currentPolicy(t.db, "app").policy);
  const callId = crypto.randomUUID();
  t.db
    .insert(toolCalls)
    .values({ id: callId, runId, seq: ++seq, tool, args, verdict: judged.verdict, rule: judged.rule, reason: judged.reason, state: "awaiting_approval" })
    .run();
  const approval = createApproval(
    t.db,
    { userId: null, label: "agent" },
    {
      runId,
      toolCallId: callId,
      kind: "tool",
      tool,
      args,
      preview: { parts: (judged.parts ?? []).map((p) => ({ command: p.command, verdict: p.verdict, rule: p.rule, reason: p.reason })) },
      verdict: judged.verdict,
      rule: judged.rule,
      reason: judged.reason,
      requestedBy: operator.id,
    },
  );
  decideApproval(t.db, { ...actorOf(reviewers[0]!), userId: reviewers[0]!.id }, { id: approval.id, decision, reason: decision === "deny" ? "no" : undefined });
  return approval;
}

describe("earned autonomy", () => {
  it("a call generalises to a narrow pattern", () => {
    expect(patternOfCall("run_command", { command: "npm test" })).toMatchObject({
      pattern: "run_command: npm test",
      match: { programs: ["npm"], subcommands: ["test"] },
    });
    expect(patternOfCall("run_command", { command: "echo hi > out.txt" })).toMatchObject({
      match: { programs: ["echo"], writes: { any: ["/workspace/out.txt"] } },
    });
    expect(patternOfCall("run_command", { command: "ls && make" })).toEqual({ refused: "the command has several parts; propose a rule for a single command" });
    expect(patternOfCall("install_package", { manager: "npm", packages: ["x"] })).toHaveProperty("refused");
  });

  it("H2: a 16 KB command of the agent's is refused as a pattern before it is parsed on the main thread", () => {
    const started = performance.now();
    const result = patternOfCall("run_command", { command: "echo " + "`ls`".repeat(4000) });
    expect(result).toEqual({ refused: `the command is longer than ${MAX_PATTERN_COMMAND} characters; propose a rule for a shorter command` });
    expect(performance.now() - started).toBeLessThan(50);
  });

  it("a proposal becomes a rule only once enough reviewers other than the proposer accept it, with provenance", () => {
    const approval = askedCall("run_command", { command: "npm test" });
    const versionBefore = currentPolicy(t.db, "app").version;
    const proposal = proposeRule(t.db, { ...actorOf(reviewers[0]!), userId: reviewers[0]!.id }, { approvalId: approval.id, comment: "our test suite" });
    expect(proposal).toMatchObject({ state: "pending", ruleId: "promoted-run-command-npm-test", pattern: "run_command: npm test" });

    expect(() => voteOnProposal(t.db, reviewer(reviewers[0]!), { id: proposal.id, decision: "accept" })).toThrow(/You proposed this rule/);
    const afterOne = voteOnProposal(t.db, reviewer(reviewers[1]!), { id: proposal.id, decision: "accept" });
    expect(afterOne).toMatchObject({ state: "pending", requiredReviewers: 2 });
    expect(currentPolicy(t.db, "app").version).toBe(versionBefore);
    expect(() => voteOnProposal(t.db, reviewer(reviewers[1]!), { id: proposal.id, decision: "accept" })).toThrow(/already voted/);

    const accepted = voteOnProposal(t.db, reviewer(reviewers[2]!), { id: proposal.id, decision: "accept" });
    expect(accepted).toMatchObject({ state: "accepted", policyVersion: versionBefore + 1 });
    const policy = currentPolicy(t.db, "app");
    const rule = policy.policy.rules.find((r) => r.id === accepted.ruleId)!;
    expect(rule).toMatchObject({ outcome: "allow", match: { programs: ["npm"], subcommands: ["test"] }, examples: [{ command: "npm test", expect: "allow" }] });
    expect(rule.provenance).toMatchObject({ proposal: proposal.id, approvals: [approval.id], proposedBy: reviewers[0]!.email });
    expect([...rule.provenance!.acceptedBy].sort()).toEqual([reviewers[1]!.email, reviewers[2]!.email].sort());
    expect(policy.yaml).toContain("# Airlock preset: supervised"); // the document's comments are kept
    expect(simulateCall(policy.policy, { tool: "run_command", args: { command: "npm test" } })).toMatchObject({ verdict: "allow", rule: rule.id });
    expect(simulateCall(policy.policy, { tool: "run_command", args: { command: "npm test && rm -rf ~" } })).toMatchObject({ verdict: "deny" });
    const audit = t.db
      .select()
      .from(auditEvents)
      .orderBy(desc(auditEvents.seq))
      .limit(2)
      .all()
      .map((e) => e.action);
    expect(audit).toEqual(["rule.accept", "policy.update"]);
  });

  it("an admin's acceptance is enough, and a promoted rule overrides the ask rule that asked", () => {
    const approval = askedCall("run_command", { command: "echo done > status.txt" });
    expect(approval.rule).toBe("command-writes-file");
    const proposal = proposeRule(t.db, { ...actorOf(reviewers[1]!), userId: reviewers[1]!.id }, { approvalId: approval.id });
    expect((proposal.rule as { overrides?: string[] }).overrides).toEqual(["command-writes-file"]);
    expect(voteOnProposal(t.db, reviewer(admin), { id: proposal.id, decision: "accept" })).toMatchObject({ state: "accepted" });
    const policy = currentPolicy(t.db, "app").policy;
    expect(simulateCall(policy, { tool: "run_command", args: { command: "echo done > status.txt" } })).toMatchObject({ verdict: "allow" });
    expect(simulateCall(policy, { tool: "run_command", args: { command: "echo done > other.txt" } })).toMatchObject({
      verdict: "ask",
      rule: "command-writes-file",
    });
  });

  it("a call Airlock always protects cannot be proposed", () => {
    const approval = askedCall("write_file", { path: ".github/workflows/ci.yml", content: "x" });
    expect(() => proposeRule(t.db, { ...actorOf(reviewers[0]!), userId: reviewers[0]!.id }, { approvalId: approval.id })).toThrow(
      /asked about by protected-ci-config, a protection Airlock always applies; no rule can allow it/,
    );
  });

  it("a rejection needs a reason and closes the proposal", () => {
    const approval = askedCall("run_command", { command: "make lint" });
    const proposal = proposeRule(t.db, { ...actorOf(reviewers[0]!), userId: reviewers[0]!.id }, { approvalId: approval.id });
    expect(() => voteOnProposal(t.db, reviewer(reviewers[1]!), { id: proposal.id, decision: "reject" })).toThrow(/Say why/);
    expect(voteOnProposal(t.db, reviewer(reviewers[1]!), { id: proposal.id, decision: "reject", reason: "lint may rewrite files" })).toMatchObject({
      state: "rejected",
      decisionReason: "lint may rewrite files",
    });
    expect(listProposals(t.db, { projectId: "app", state: "rejected" }).map((p) => p.id)).toEqual([proposal.id]);
  });

  it("repeated identical approvals are suggested for promotion, never promoted on their own", () => {
    const version = currentPolicy(t.db, "app").version;
    for (let i = 0; i < 3; i++) askedCall("run_command", { command: "cargo build" });
    askedCall("run_command", { command: "cargo build --release" });
    const candidates = promotionCandidates(t.db, { projectId: "app" });
    expect(candidates.map((c) => [c.pattern, c.approvals])).toEqual([["run_command: cargo build", 3]]);
    expect(currentPolicy(t.db, "app").version).toBe(version);
    expect(promotionCandidates(t.db, { projectId: "default" })).toEqual([]);
  });

  it("each rule's track record counts what it decided and how reviewers answered", () => {
    askedCall("run_command", { command: "make install" }, "deny");
    const records = ruleTrackRecords(t.db, "app").rules;
    const byId = Object.fromEntries(records.map((r) => [r.id, r]));
    expect(byId.default).toMatchObject({ kind: "default", asked: 7, approved: 6, rejected: 1 });
    expect(byId["command-writes-file"]).toMatchObject({ matched: 1, asked: 1, approved: 1 });
    expect(byId["protected-ci-config"]).toMatchObject({ kind: "protected" });
    const promoted = records.find((r) => r.id === "promoted-run-command-npm-test")!;
    expect(promoted.provenance?.acceptedBy).toHaveLength(2);
    expect(promoted.proposalId).toBeTruthy();
  });
});
