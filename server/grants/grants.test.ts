// Bounded grants (issue 12) against a real SQLite file: what a grant covers,
// who may give one, and the count that cannot be spent twice.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import crypto from "node:crypto";
import { eq } from "drizzle-orm";
import { runs, toolCalls } from "@/db/schema";
import { appRouter } from "@/server/api/root";
import { createCallerFactory } from "@/server/api/trpc";
import { createApproval } from "@/server/approvals/approvals";
import { allowByGrant, createGrant, grantableAsk, grantPathGlob, listGrants } from "@/server/grants/grants";
import { createModel } from "@/server/models/models";
import { createRun } from "@/server/runs/runs";
import type { Judgement } from "@/server/tools/judge";
import type { PublicUser } from "@/server/users/users";
import { createTestDb, type TestDb } from "@/test/helpers/db";
import { actorOf, addUser, identityOfToken, issueToken } from "@/test/helpers/users";

let t: TestDb;
let operator: PublicUser;
let reviewer: PublicUser;
let reviewerWhoRuns: PublicUser;
let modelId: string;

const as = (u: PublicUser) => ({ ...actorOf(u), userId: u.id });
const ask = (rule: string, extra: Partial<Judgement["decision"]> = {}, risk: Judgement["risk"] = "medium"): Judgement => ({
  decision: { verdict: "ask", rule, reason: "a reviewer decides", ...extra },
  parts: [],
  risk,
});

function runOf(owner: PublicUser) {
  return createRun(t.db, as(owner), { title: "t", task: "x", modelId });
}

function callOf(runId: string, path: string): string {
  const id = crypto.randomUUID();
  const seq = t.db.select().from(toolCalls).where(eq(toolCalls.runId, runId)).all().length + 1;
  t.db.insert(toolCalls).values({ id, runId, seq, tool: "write_file", args: { path }, state: "judging" }).run();
  return id;
}

async function callerFor(user: PublicUser) {
  const identity = await identityOfToken(t.db, issueToken(t.db, user.id).token);
  return createCallerFactory(appRouter)({ db: t.db, identity, sourceIp: "192.0.2.7" });
}

beforeAll(async () => {
  t = createTestDb();
  const admin = await addUser(t.db, "admin");
  operator = await addUser(t.db, "operator");
  reviewer = await addUser(t.db, "reviewer");
  reviewerWhoRuns = await addUser(t.db, "reviewer");
  modelId = createModel(t.db, actorOf(admin), { name: "m", baseUrl: "http://127.0.0.1:9/v1", model: "m" }).id;
});
afterAll(() => t?.close());

describe("issue 12: what a grant's path covers", () => {
  it.each([
    ["src/", "/workspace/src/**"],
    ["src", "/workspace/src/**"],
    ["./src//lib/", "/workspace/src/lib/**"],
    ["/workspace/src", "/workspace/src/**"],
    [".", "/workspace/**"],
    ["src/**/*.ts", "/workspace/src/**/*.ts"],
    ["*.md", "/workspace/*.md"],
  ])("%s is normalised to %s", (input, glob) => {
    expect(grantPathGlob(input)).toBe(glob);
  });

  it.each(["../etc", "/etc", "src/../../root", "", "src/**/../../x", "/workspace/../home/*"])(
    "%j is refused: a grant covers only paths inside /workspace",
    (input) => {
      expect(() => grantPathGlob(input)).toThrow(/inside \/workspace|Say which path|after a wildcard/);
    },
  );
});

describe("issue 12: which asks a grant may answer", () => {
  it("only the generic write question, for writes, with one reviewer, not high risk", () => {
    expect(grantableAsk("write_file", ask("workspace-write"))).toBe(true);
    expect(grantableAsk("edit_file", ask("default"))).toBe(true);
    expect(grantableAsk("write_file", ask("secret-file"))).toBe(false);
    expect(grantableAsk("write_file", ask("workspace-write", { requiredApprovals: 2 }))).toBe(false);
    expect(grantableAsk("write_file", ask("workspace-write", { approverRole: "admin" }))).toBe(false);
    expect(grantableAsk("write_file", ask("workspace-write", {}, "high"))).toBe(false);
    expect(grantableAsk("run_command", ask("command-writes-file"))).toBe(false);
    expect(grantableAsk("write_file", { decision: { verdict: "deny", rule: "workspace-write", reason: "no" }, parts: [] })).toBe(false);
  });
});

describe("issue 12: who may grant", () => {
  it("the reviewer who started the run may not grant it permissions (as with approving its requests)", () => {
    const run = runOf(reviewerWhoRuns);
    expect(() =>
      createGrant(t.db, as(reviewerWhoRuns), reviewerWhoRuns, { runId: run.id, tool: "write_file", path: "src/", minutes: 15, maxCalls: 20 }),
    ).toThrow(/another reviewer must grant/);
  });

  it("an operator is refused by grants.create; a reviewer's grant is listed with its provenance", async () => {
    const run = runOf(operator);
    await expect(
      (await callerFor(operator)).grants.create({ runId: run.id, tool: "write_file", path: "src/", minutes: 15, maxCalls: 20 }),
    ).rejects.toMatchObject({ code: "FORBIDDEN" });
    const approval = createApproval(t.db, actorOf(operator), {
      runId: run.id,
      kind: "tool",
      tool: "write_file",
      args: { path: "src/a.ts" },
      verdict: "ask",
      rule: "workspace-write",
      reason: "r",
      requestedBy: operator.id,
    });
    const created = await (
      await callerFor(reviewer)
    ).grants.create({ runId: run.id, tool: "write_file", path: "src/", minutes: 15, maxCalls: 20, fromApprovalId: approval.id });
    const [listed] = (await (await callerFor(operator)).grants.list({ runId: run.id })).items;
    expect(listed).toMatchObject({ id: created.id, path: "src/", pathGlob: "/workspace/src/**", status: "active", remainingCalls: 20 });
    expect(listed!.reason).toBe(`granted by ${reviewer.email} while approving approval ${approval.id}`);
  });

  it("limits, tools and a request of another run are refused with what to do", async () => {
    const run = runOf(operator);
    const caller = await callerFor(reviewer);
    await expect(caller.grants.create({ runId: run.id, tool: "write_file", path: "src/", minutes: 0, maxCalls: 20 })).rejects.toMatchObject({
      code: "BAD_REQUEST",
    });
    await expect(caller.grants.create({ runId: run.id, tool: "write_file", path: "src/", minutes: 15, maxCalls: 1000 })).rejects.toMatchObject({
      code: "BAD_REQUEST",
    });
    await expect(caller.grants.create({ runId: run.id, tool: "run_command" as "write_file", path: "src/", minutes: 15, maxCalls: 5 })).rejects.toMatchObject({
      code: "BAD_REQUEST",
    });
    const other = runOf(operator);
    const foreign = createApproval(t.db, actorOf(operator), {
      runId: other.id,
      kind: "tool",
      tool: "write_file",
      args: { path: "x" },
      verdict: "ask",
      reason: "r",
      requestedBy: operator.id,
    });
    await expect(
      caller.grants.create({ runId: run.id, tool: "write_file", path: "src/", minutes: 15, maxCalls: 5, fromApprovalId: foreign.id }),
    ).rejects.toThrow(/not a request of this run/);
    t.db.update(runs).set({ state: "succeeded" }).where(eq(runs.id, run.id)).run();
    await expect(caller.grants.create({ runId: run.id, tool: "write_file", path: "src/", minutes: 15, maxCalls: 5 })).rejects.toThrow(/has ended/);
  });
});

describe("issue 12: spending a grant", () => {
  it("a grant's last use cannot be spent twice, and a path outside it or another tool is not covered", () => {
    const run = runOf(operator);
    const grant = createGrant(t.db, as(reviewer), reviewer, { runId: run.id, tool: "write_file", path: "src/", minutes: 15, maxCalls: 1 });
    const actor = actorOf(operator);
    expect(
      allowByGrant(
        t.db,
        actor,
        { runId: run.id, callId: callOf(run.id, "/workspace/lib/a.ts"), tool: "write_file", path: "/workspace/lib/a.ts" },
        ask("workspace-write"),
      ),
    ).toBeNull();
    expect(
      allowByGrant(
        t.db,
        actor,
        { runId: run.id, callId: callOf(run.id, "/workspace/src/a.ts"), tool: "edit_file", path: "/workspace/src/a.ts" },
        ask("workspace-write"),
      ),
    ).toBeNull();
    const first = allowByGrant(
      t.db,
      actor,
      { runId: run.id, callId: callOf(run.id, "/workspace/src/a.ts"), tool: "write_file", path: "/workspace/src/a.ts" },
      ask("workspace-write"),
    );
    expect(first?.judgement.decision).toMatchObject({ verdict: "allow", rule: `grant:${grant.id}` });
    const second = allowByGrant(
      t.db,
      actor,
      { runId: run.id, callId: callOf(run.id, "/workspace/src/b.ts"), tool: "write_file", path: "/workspace/src/b.ts" },
      ask("workspace-write"),
    );
    expect(second).toBeNull();
    expect(listGrants(t.db, run.id)[0]).toMatchObject({ usedCalls: 1, status: "used_up" });
  });
});
