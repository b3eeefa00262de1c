// The built-in agent's conversation as rebuilt from a real SQLite file (after
// a restart): calls refused for the per-turn limit stay answered.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rebuildConversation } from "@/server/agents/builtin-agent";
import { publishRunEvent } from "@/server/events/bus";
import { createRun } from "@/server/runs/runs";
import { createTestDb, type TestDb } from "@/test/helpers/db";
import { registerModel } from "@/test/helpers/runs";
import { actorOf, addUser } from "@/test/helpers/users";

let t: TestDb;

beforeAll(() => {
  t = createTestDb();
});

afterAll(() => t?.close());

describe("rebuilding the conversation", () => {
  it("model endpoint limits: calls past the per-turn limit come back answered with LIMIT_EXCEEDED after a restart, and only the kept calls wait to run", async () => {
    const admin = await addUser(t.db, "admin");
    const operator = await addUser(t.db, "operator");
    const run = createRun(
      t.db,
      { ...actorOf(operator), userId: operator.id },
      { title: "limits", task: "list", modelId: registerModel(t.db, admin, "http://127.0.0.1:9/v1") },
    );
    publishRunEvent(t.db, run.id, "model_message", {
      content: "",
      toolCalls: [{ id: "kept_1", name: "list_files", argumentsText: '{"path":"."}' }],
      refusedToolCalls: [
        { id: "extra_1", name: "list_files" },
        { id: "extra_2", name: "read_file" },
      ],
      finishReason: "tool_calls",
      usage: { promptTokens: 1, completionTokens: 1, estimated: false },
    });

    const { messages, unanswered } = rebuildConversation(t.db, run);

    const assistant = messages.find((m) => m.role === "assistant") as { tool_calls: { id: string }[] };
    expect(assistant.tool_calls.map((c) => c.id)).toEqual(["kept_1", "extra_1", "extra_2"]);
    const answers = messages.filter((m) => m.role === "tool") as { tool_call_id: string; content: string }[];
    expect(answers.map((m) => m.tool_call_id)).toEqual(["extra_1", "extra_2"]);
    expect(JSON.parse(answers[0]!.content)).toMatchObject({
      ok: false,
      code: "LIMIT_EXCEEDED",
      message: expect.stringContaining("at most 16 tool calls per turn"),
    });
    expect(unanswered.map((c) => c.id)).toEqual(["kept_1"]);
  });
});
