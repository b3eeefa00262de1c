import { afterEach, describe, expect, it } from "vitest";
import { startScriptedModelServer, splitInto, type ScriptedModelServer } from "@/test/helpers/model-server";

let server: ScriptedModelServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

const chatBody = (extra: Record<string, unknown> = {}) => JSON.stringify({ model: "scripted-model", messages: [{ role: "user", content: "hi" }], ...extra });

function postChat(baseUrl: string, body: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${baseUrl}/chat/completions`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
}

/** The `data:` payloads of an SSE body. */
function dataLines(text: string): string[] {
  return text
    .split("\n")
    .filter((line) => line.startsWith("data: "))
    .map((line) => line.slice("data: ".length));
}

describe("scripted model server", () => {
  it("answers the script's steps in order and records each request body", async () => {
    server = await startScriptedModelServer([
      { type: "text", text: "first" },
      { type: "text", text: "second" },
    ]);

    const a = await (await postChat(server.baseUrl, chatBody())).json();
    const b = await (await postChat(server.baseUrl, chatBody({ tools: [{ type: "function", function: { name: "finish" } }] }))).json();

    expect(a.choices[0].message.content).toBe("first");
    expect(b.choices[0].message.content).toBe("second");
    expect(server.requests.map((r) => r.callIndex)).toEqual([0, 1]);
    expect(server.requests[1]?.body.tools?.[0]?.function.name).toBe("finish");
    expect(server.requests[0]?.body.messages).toEqual([{ role: "user", content: "hi" }]);
  });

  it("answers 500 'script exhausted at call N' when the script runs out", async () => {
    server = await startScriptedModelServer([{ type: "text", text: "only one" }]);
    await (await postChat(server.baseUrl, chatBody())).text();

    const res = await postChat(server.baseUrl, chatBody());

    expect(res.status).toBe(500);
    expect((await res.json()).error.message).toBe("script exhausted at call 2 (the script has 1 steps)");
  });

  it("streams SSE chunks, a usage chunk and [DONE] when asked to stream", async () => {
    server = await startScriptedModelServer([{ type: "text", text: "abcdef", chunks: 3, usage: { promptTokens: 5, completionTokens: 2 } }]);

    const res = await postChat(server.baseUrl, chatBody({ stream: true, stream_options: { include_usage: true } }));
    const lines = dataLines(await res.text());

    expect(res.headers.get("content-type")).toBe("text/event-stream");
    expect(lines.at(-1)).toBe("[DONE]");
    const chunks = lines.slice(0, -1).map((l) => JSON.parse(l));
    expect(chunks.map((c) => c.choices[0]?.delta.content).filter(Boolean)).toEqual(["ab", "cd", "ef"]);
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 5, completion_tokens: 2 } });
  });

  it("lists its model at GET /v1/models", async () => {
    server = await startScriptedModelServer([], { model: "qwen2.5-coder:7b" });

    const res = await fetch(`${server.baseUrl}/models`);

    expect(await res.json()).toMatchObject({ object: "list", data: [{ id: "qwen2.5-coder:7b", object: "model" }] });
  });

  it("hands a function script the request and its call index", async () => {
    server = await startScriptedModelServer((req, callIndex) =>
      callIndex < 2 ? { type: "text", text: `call ${callIndex} saw ${req.body.messages.length} message(s)` } : undefined,
    );

    const first = await (await postChat(server.baseUrl, chatBody())).json();
    await postChat(server.baseUrl, chatBody());
    const third = await postChat(server.baseUrl, chatBody());

    expect(first.choices[0].message.content).toBe("call 0 saw 1 message(s)");
    expect(third.status).toBe(500);
    expect((await third.json()).error.message).toBe("script exhausted at call 3");
  });

  it("answers 401 without using a step when a required API key is missing", async () => {
    server = await startScriptedModelServer([{ type: "text", text: "for the right key" }], { apiKey: "sk-right" });

    const wrong = await postChat(server.baseUrl, chatBody(), { authorization: "Bearer sk-wrong" });
    const right = await postChat(server.baseUrl, chatBody(), { authorization: "Bearer sk-right" });

    expect(wrong.status).toBe(401);
    expect((await right.json()).choices[0].message.content).toBe("for the right key");
  });

  it("closes promptly even while a request hangs", async () => {
    server = await startScriptedModelServer([{ type: "hang" }]);
    const pending = postChat(server.baseUrl, chatBody()).catch((err: unknown) => err);
    await expect.poll(() => server?.requests.length).toBe(1);
    const started = Date.now();

    await server.close();
    server = null;

    expect(Date.now() - started).toBeLessThan(500);
    expect(await pending).toBeInstanceOf(Error);
  });

  it("splits text into near-equal pieces without cutting characters", () => {
    expect(splitInto("abcdefg", 3)).toEqual(["abc", "def", "g"]);
    expect(splitInto("🚀🚀", 4)).toEqual(["🚀", "🚀"]);
    expect(splitInto("", 3)).toEqual([""]);
  });
});
