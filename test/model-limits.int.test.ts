// Model endpoint limits through a whole supervised run: real Docker, a real
// SQLite file and the scripted OpenAI-compatible model server over HTTP.
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runEvents } from "@/db/schema";
import { decideApproval } from "@/server/approvals/approvals";
import { MODEL_LIMITS } from "@/server/agents/model-client";
import type { Supervisor } from "@/server/supervisor/supervisor";
import type { PublicUser } from "@/server/users/users";
import type { TestDb } from "@/test/helpers/db";
import { startScriptedModelServer, toolResultsSent, type ScriptedModelServer, type ScriptStep } from "@/test/helpers/model-server";
import { getRun, registerModel, setUpSupervisedWorld, startRun, stopSupervisor, waitForPendingApproval, waitForState } from "@/test/helpers/runs";
import { actorOf } from "@/test/helpers/users";

let t: TestDb;
let supervisor: Supervisor;
let admin: PublicUser;
let operator: PublicUser;
let reviewer: PublicUser;
const servers: ScriptedModelServer[] = [];

const plan: ScriptStep = {
  type: "tool_calls",
  calls: [{ name: "submit_plan", arguments: { steps: [{ title: "look around", risk: "low", risk_note: "only reads" }] } }],
};

async function modelWith(script: ScriptStep[]) {
  const server = await startScriptedModelServer(script);
  servers.push(server);
  return { server, modelId: registerModel(t.db, admin, server.baseUrl) };
}

beforeAll(async () => {
  ({ t, supervisor, admin, operator, reviewer } = await setUpSupervisedWorld());
});

afterAll(async () => {
  await stopSupervisor(supervisor);
  await Promise.all(servers.map((s) => s.close()));
  t?.close();
});

describe("model endpoint limits in a run", () => {
  it(`model endpoint limits: a turn with 18 tool calls runs ${MODEL_LIMITS.maxToolCallsPerTurn}, answers the other 2 with LIMIT_EXCEEDED, and the run goes on`, async () => {
    // Every step reports a negative usage figure: the run's token count must come from the local estimate instead.
    const absurd = { promptTokens: -50, completionTokens: -50 };
    const calls = Array.from({ length: 18 }, (_, i) => ({ id: `many_${i}`, name: "list_files", arguments: { path: i % 2 ? "." : "/workspace" } }));
    const { server, modelId } = await modelWith([
      { ...plan, usage: absurd },
      { type: "tool_calls", calls, usage: absurd },
      { type: "tool_calls", calls: [{ name: "finish", arguments: { summary: "done", status: "success" } }], usage: absurd },
    ]);
    const run = startRun(t.db, supervisor, operator, modelId);
    const approval = await waitForPendingApproval(t.db, run.id, "plan");
    decideApproval(t.db, { ...actorOf(reviewer), userId: reviewer.id }, { id: approval.id, decision: "approve" });

    const done = await waitForState(t.db, run.id, ["succeeded", "failed"]);

    expect(done.state, done.endedReason ?? "").toBe("succeeded");
    const results = toolResultsSent(server);
    const lastTurn = server.requests.at(-1)!.body.messages;
    const answered = lastTurn.filter((m) => m.role === "tool" && (m as { tool_call_id: string }).tool_call_id.startsWith("many_"));
    expect(answered).toHaveLength(18);
    const refused = results.filter((r) => r.code === "LIMIT_EXCEEDED");
    expect(refused).toHaveLength(2);
    expect(String(refused[0]!.message)).toMatch(
      /Not run: Airlock runs at most 16 tool calls per turn and this turn made 18\. Make this call again in your next turn/,
    );
    expect(results.filter((r) => r.ok === true)).toHaveLength(16 + 1); // the plan's result and 16 listings
    const notes = t.db
      .select()
      .from(runEvents)
      .where(eq(runEvents.runId, run.id))
      .all()
      .filter((e) => e.type === "note")
      .map((e) => String(e.payload.text));
    expect(notes).toContain("The model made 18 tool calls in one turn; the first 16 run, the other 2 were refused (LIMIT_EXCEEDED).");
    // 3 turns counted with the local estimate: well above zero, never negative.
    expect(getRun(t.db, run.id).tokensUsed).toBeGreaterThan(300);
  });

  it("model endpoint limits: a response past the size cap fails the run with a reason naming the limit", async () => {
    const MiB = 1024 * 1024;
    const flood = Array.from({ length: MODEL_LIMITS.maxResponseBytes / MiB + 2 }, () => `: ${"x".repeat(MiB - 3)}\n`);
    const { modelId } = await modelWith([{ type: "raw", body: flood }]);
    const run = startRun(t.db, supervisor, operator, modelId);

    const done = await waitForState(t.db, run.id, ["succeeded", "failed"]);

    expect(done.state).toBe("failed");
    expect(done.endedReason).toContain(`sent more than ${MODEL_LIMITS.maxResponseBytes} bytes in one response`);
  });
});
