import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import {
  baseUrlHint,
  MODEL_LIMITS,
  ModelError,
  normalizeBaseUrl,
  SseParser,
  streamChatCompletion,
  withRetries,
  type ChatRequest,
  type ModelEndpoint,
  type SseEvent,
} from "@/server/agents/model-client";
import { startScriptedModelServer, type Script, type ScriptedModelServer } from "@/test/helpers/model-server";

const request: ChatRequest = {
  messages: [
    { role: "system", content: "You are a careful agent." },
    { role: "user", content: "Read the README." },
  ],
  tools: [
    {
      type: "function",
      function: { name: "read_file", description: "Read a file", parameters: { type: "object", properties: { path: { type: "string" } }, required: ["path"] } },
    },
  ],
};

let server: ScriptedModelServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

async function endpointFor(script: Script, extra: Partial<ModelEndpoint> = {}): Promise<ModelEndpoint> {
  server = await startScriptedModelServer(script);
  return { baseUrl: server.baseUrl, model: "scripted-model", ...extra };
}

async function modelError(promise: Promise<unknown>): Promise<ModelError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof ModelError) return err;
    throw err;
  }
  throw new Error("expected a ModelError, but the call succeeded");
}

async function unusedPort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

describe("streamChatCompletion: replies", () => {
  it("streams text deltas in order and calls onDelta once per chunk", async () => {
    const endpoint = await endpointFor([{ type: "text", text: "one two three four", chunks: 4, chunkDelayMs: 10 }]);
    const deltas: string[] = [];

    const turn = await streamChatCompletion(endpoint, request, { onDelta: (text) => deltas.push(text) });

    expect(deltas).toEqual(["one t", "wo th", "ree f", "our"]);
    expect(turn.content).toBe("one two three four");
    expect(turn.finishReason).toBe("stop");
    expect(turn.toolCalls).toEqual([]);
  });

  it("reassembles tool calls whose arguments arrive in fragments, keeping invalid JSON verbatim", async () => {
    const endpoint = await endpointFor([
      {
        type: "tool_calls",
        text: "Let me look.",
        calls: [
          { id: "call_a", name: "read_file", arguments: { path: "README.md", limit: 200 } },
          { id: "call_b", name: "run_command", arguments: '{"command": "ls -la", ' },
        ],
        argumentChunks: 5,
      },
    ]);

    const turn = await streamChatCompletion(endpoint, request);

    expect(turn.content).toBe("Let me look.");
    expect(turn.finishReason).toBe("tool_calls");
    expect(turn.toolCalls).toEqual([
      { id: "call_a", name: "read_file", argumentsText: '{"path":"README.md","limit":200}' },
      { id: "call_b", name: "run_command", argumentsText: '{"command": "ls -la", ' },
    ]);
  });

  it("reads token usage from the final usage chunk", async () => {
    const endpoint = await endpointFor([{ type: "text", text: "hi", usage: { promptTokens: 123, completionTokens: 7 } }]);

    const turn = await streamChatCompletion(endpoint, request);

    expect(turn.usage).toEqual({ promptTokens: 123, completionTokens: 7, estimated: false });
  });

  it("estimates usage from characters when the server sends none", async () => {
    const endpoint = await endpointFor([{ type: "text", text: "x".repeat(40), usage: false }]);

    const turn = await streamChatCompletion(endpoint, request);

    expect(turn.usage.estimated).toBe(true);
    expect(turn.usage.completionTokens).toBe(10);
    expect(turn.usage.promptTokens).toBeGreaterThan(20);
  });

  it("posts model, messages, tools and stream options, with the key as a bearer token", async () => {
    server = await startScriptedModelServer([{ type: "text", text: "ok" }], { apiKey: "sk-local" });
    // A trailing slash is accepted.
    const endpoint = { baseUrl: `${server.baseUrl}/`, model: "qwen2.5-coder", apiKey: "sk-local" };

    await streamChatCompletion(endpoint, { ...request, temperature: 0.2, maxTokens: 512 });

    const [sent] = server.requests;
    expect(sent?.path).toBe("/v1/chat/completions");
    expect(sent?.headers.authorization).toBe("Bearer sk-local");
    expect(sent?.body).toMatchObject({
      model: "qwen2.5-coder",
      messages: request.messages,
      tools: request.tools,
      stream: true,
      stream_options: { include_usage: true },
      temperature: 0.2,
      max_tokens: 512,
    });
  });

  it("carries assistant tool calls and tool results back to the server as OpenAI messages", async () => {
    const endpoint = await endpointFor([{ type: "text", text: "understood" }]);
    const followUp: ChatRequest = {
      tools: [],
      messages: [
        ...request.messages,
        {
          role: "assistant",
          content: null,
          tool_calls: [{ id: "call_1", type: "function", function: { name: "run_command", arguments: '{"command":"rm -rf /"}' } }],
        },
        { role: "tool", tool_call_id: "call_1", content: JSON.stringify({ code: "DENIED_BY_REVIEWER", message: "not on my watch" }) },
      ],
    };

    await streamChatCompletion(endpoint, followUp);

    const sent = server?.requests[0]?.body;
    expect(sent?.tools).toBeUndefined();
    expect(sent?.messages.at(-1)).toEqual({ role: "tool", tool_call_id: "call_1", content: expect.stringContaining("DENIED_BY_REVIEWER") });
  });

  it("falls back to one JSON body when the server ignores stream", async () => {
    const endpoint = await endpointFor([
      { type: "text", text: "whole answer", ignoreStream: true, usage: { promptTokens: 9, completionTokens: 2 } },
      { type: "tool_calls", calls: [{ id: "c1", name: "list_files", arguments: { path: "." } }], ignoreStream: true },
    ]);
    const deltas: string[] = [];

    const text = await streamChatCompletion(endpoint, request, { onDelta: (d) => deltas.push(d) });
    const tools = await streamChatCompletion(endpoint, request);

    expect(text).toMatchObject({ content: "whole answer", finishReason: "stop", usage: { promptTokens: 9, completionTokens: 2, estimated: false } });
    expect(deltas).toEqual(["whole answer"]);
    expect(tools.toolCalls).toEqual([{ id: "c1", name: "list_files", argumentsText: '{"path":"."}' }]);
    expect(tools.finishReason).toBe("tool_calls");
  });

  it("decodes events and multi-byte characters split across network reads", async () => {
    const text = "héllo wörld — ✓ 🚀 done";
    const endpoint = await endpointFor([{ type: "text", text, chunks: 2, byteSlice: 5 }]);

    const turn = await streamChatCompletion(endpoint, request);

    expect(turn.content).toBe(text);
  });

  it("accepts servers that omit tool-call indexes, use CRLF and skip the final blank line", async () => {
    const chunk = (delta: object, finish: string | null = null) => `data: ${JSON.stringify({ choices: [{ index: 0, delta, finish_reason: finish }] })}\r\n\r\n`;
    const endpoint = await endpointFor([
      {
        type: "raw",
        body: [
          ": keep-alive\r\n\r\n",
          chunk({ tool_calls: [{ id: "x1", function: { name: "read_file", arguments: '{"pa' } }] }),
          chunk({ tool_calls: [{ function: { arguments: 'th":"a"}' } }] }),
          chunk({ tool_calls: [{ id: "x2", function: { name: "read_file", arguments: '{"path":"b"}' } }] }),
          `data: ${JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: "tool_calls" }] })}`,
        ],
        chunkDelayMs: 5,
      },
    ]);

    const turn = await streamChatCompletion(endpoint, request);

    expect(turn.toolCalls).toEqual([
      { id: "x1", name: "read_file", argumentsText: '{"path":"a"}' },
      { id: "x2", name: "read_file", argumentsText: '{"path":"b"}' },
    ]);
    expect(turn.finishReason).toBe("tool_calls");
  });
});

describe("streamChatCompletion: errors", () => {
  it("a port with nothing listening is unreachable", async () => {
    const port = await unusedPort();

    const err = await modelError(streamChatCompletion({ baseUrl: `http://127.0.0.1:${port}/v1`, model: "m" }, request));

    expect(err).toMatchObject({ kind: "unreachable", retryable: true });
    expect(err.message).toMatch(/connection refused/);
  });

  it("a server that never answers hits the idle timeout within the configured time", async () => {
    const endpoint = await endpointFor([{ type: "hang" }]);
    const started = Date.now();

    const err = await modelError(streamChatCompletion(endpoint, request, { idleTimeoutMs: 300 }));

    const elapsed = Date.now() - started;
    expect(err.kind).toBe("timeout");
    expect(err.message).toMatch(/idle timeout/);
    expect(elapsed).toBeGreaterThanOrEqual(280);
    expect(elapsed).toBeLessThan(1500);
  });

  it("a stream that goes silent mid-way hits the idle timeout", async () => {
    const endpoint = await endpointFor([{ type: "hang", afterText: ["partial ", "answer"] }]);
    const deltas: string[] = [];

    const err = await modelError(streamChatCompletion(endpoint, request, { idleTimeoutMs: 300, onDelta: (d) => deltas.push(d) }));

    expect(err.kind).toBe("timeout");
    expect(err.message).toMatch(/while the response was streaming/);
    expect(deltas).toEqual(["partial ", "answer"]);
  });

  it("a stream that keeps trickling past the whole-request timeout times out", async () => {
    const endpoint = await endpointFor([{ type: "text", text: "a b c d e f g h i j", chunks: 10, chunkDelayMs: 100 }]);
    const started = Date.now();

    const err = await modelError(streamChatCompletion(endpoint, request, { timeoutMs: 350, idleTimeoutMs: 5000 }));

    expect(err.kind).toBe("timeout");
    expect(err.message).toMatch(/whole-request/);
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it("401 is an http error that points at the API key and never shows the key", async () => {
    const key = "sk-proj-SECRET-4f9a8b7c6d5e";
    const endpoint = await endpointFor(
      [
        {
          type: "http_error",
          status: 401,
          body: { error: { message: `Incorrect API key provided: ${key}. Authorization: Bearer ${key}`, code: "invalid_api_key" } },
        },
      ],
      { apiKey: key },
    );

    const err = await modelError(streamChatCompletion(endpoint, request));

    expect(err.kind).toBe("http");
    expect(err.status).toBe(401);
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(/check the API key/);
    expect(err.message).toMatch(/Incorrect API key provided/);
    const everything = [err.message, err.body, err.stack, JSON.stringify(err), String(err)].join("\n");
    expect(everything).not.toContain(key);
    expect(everything).not.toContain("SECRET");
  });

  it("404 names the model and hints at /v1 when the base URL lacks it", async () => {
    server = await startScriptedModelServer([]);
    const withoutV1 = server.baseUrl.replace(/\/v1$/, "");

    const err = await modelError(streamChatCompletion({ baseUrl: withoutV1, model: "llama3.1:8b" }, request));

    expect(err.kind).toBe("http");
    expect(err.status).toBe(404);
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(/check the base URL and the model name "llama3\.1:8b"/i);
    expect(err.message).toContain(`${withoutV1}/v1`);
  });

  it("500 is retryable and withRetries retries until it succeeds", async () => {
    const endpoint = await endpointFor([
      { type: "http_error", status: 500, body: "upstream exploded" },
      { type: "http_error", status: 503, body: { error: { message: "loading model" } } },
      { type: "text", text: "recovered" },
    ]);
    const retries: number[] = [];

    const turn = await withRetries(() => streamChatCompletion(endpoint, request), {
      attempts: 4,
      baseDelayMs: 10,
      onRetry: (err, attempt) => retries.push(err.status ?? 0, attempt),
    });

    expect(turn.content).toBe("recovered");
    expect(retries).toEqual([500, 1, 503, 2]);
    expect(server?.requests).toHaveLength(3);
  });

  it("withRetries does not retry an error that is not retryable", async () => {
    const endpoint = await endpointFor([
      { type: "http_error", status: 400, body: { error: { message: "this model does not support tools" } } },
      { type: "text", text: "never reached" },
    ]);

    const err = await modelError(withRetries(() => streamChatCompletion(endpoint, request), { attempts: 3, baseDelayMs: 10 }));

    expect(err.status).toBe(400);
    expect(err.message).toMatch(/does not support tools/);
    expect(server?.requests).toHaveLength(1);
  });

  it("withRetries gives up after the configured attempts with the last error", async () => {
    const endpoint = await endpointFor([
      { type: "http_error", status: 502, body: "bad gateway 1" },
      { type: "http_error", status: 429, body: "slow down", headers: { "retry-after": "0" } },
    ]);

    const err = await modelError(withRetries(() => streamChatCompletion(endpoint, request), { attempts: 2, baseDelayMs: 10 }));

    expect(err.status).toBe(429);
    expect(err.retryable).toBe(true);
    expect(err.retryAfterMs).toBe(0);
    expect(server?.requests).toHaveLength(2);
  });

  it("an SSE event that is not valid JSON is malformed and quoted", async () => {
    const endpoint = await endpointFor([{ type: "raw", body: 'data: {"choices": [{"delta": {"content": "hi"\n\n' }]);

    const err = await modelError(streamChatCompletion(endpoint, request));

    expect(err.kind).toBe("malformed");
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('{"choices": [{"delta"');
  });

  it("a JSON body that does not parse is malformed", async () => {
    const endpoint = await endpointFor([{ type: "raw", contentType: "application/json", body: '{"choices": [' }]);

    const err = await modelError(streamChatCompletion(endpoint, request));

    expect(err.kind).toBe("malformed");
    expect(err.message).toContain('{"choices": [');
  });

  it("an HTML page is malformed and points at the base URL", async () => {
    const endpoint = await endpointFor([{ type: "raw", contentType: "text/html", body: "<!doctype html><title>Open WebUI</title>" }]);

    const err = await modelError(streamChatCompletion(endpoint, request));

    expect(err.kind).toBe("malformed");
    expect(err.message).toMatch(/HTML page.*check the base URL/);
  });

  it("an error object sent mid-stream is an http error", async () => {
    const endpoint = await endpointFor([
      {
        type: "raw",
        body: ['data: {"choices":[{"index":0,"delta":{"content":"par"}}]}\n\n', 'data: {"error":{"message":"CUDA out of memory","code":500}}\n\n'],
      },
    ]);

    const err = await modelError(streamChatCompletion(endpoint, request));

    expect(err).toMatchObject({ kind: "http", status: 500, retryable: true });
    expect(err.message).toMatch(/CUDA out of memory/);
  });

  it("a connection dropped mid-stream is unreachable and retryable", async () => {
    const endpoint = await endpointFor([{ type: "disconnect", afterText: ["half an"] }]);

    const err = await modelError(streamChatCompletion(endpoint, request));

    expect(err).toMatchObject({ kind: "unreachable", retryable: true });
    expect(err.message).toMatch(/closed while the response was streaming/);
  });

  it("aborting stops the request promptly and closes the connection", async () => {
    const endpoint = await endpointFor([{ type: "text", text: "a b c d e f g h", chunks: 8, chunkDelayMs: 500 }]);
    const controller = new AbortController();
    let abortedAt = 0;

    const err = await modelError(
      streamChatCompletion(endpoint, request, {
        signal: controller.signal,
        onDelta: () => {
          if (abortedAt === 0) {
            abortedAt = Date.now();
            controller.abort();
          }
        },
      }),
    );

    expect(err.kind).toBe("aborted");
    expect(Date.now() - abortedAt).toBeLessThan(500);
    await expect.poll(() => server?.requests[0]?.disconnected).toBe(true);
  });

  it("an onDelta that throws rejects with its own error and frees the connection", async () => {
    const endpoint = await endpointFor([{ type: "text", text: "a b c d e f g h", chunks: 8, chunkDelayMs: 300 }]);
    const boom = new Error("UI went away");

    await expect(
      streamChatCompletion(endpoint, request, {
        onDelta: () => {
          throw boom;
        },
      }),
    ).rejects.toBe(boom);

    await expect.poll(() => server?.requests[0]?.disconnected, { timeout: 1000 }).toBe(true);
  });

  it("an already-aborted signal rejects without sending anything", async () => {
    const endpoint = await endpointFor([{ type: "text", text: "unused" }]);

    const err = await modelError(streamChatCompletion(endpoint, request, { signal: AbortSignal.abort() }));

    expect(err.kind).toBe("aborted");
    expect(server?.requests).toHaveLength(0);
  });

  it("withRetries stops waiting between attempts when aborted", async () => {
    const endpoint = await endpointFor([{ type: "http_error", status: 503, body: "busy" }]);
    const controller = new AbortController();
    const started = Date.now();

    const err = await modelError(
      withRetries(() => streamChatCompletion(endpoint, request, { signal: controller.signal }), {
        attempts: 5,
        baseDelayMs: 10_000,
        signal: controller.signal,
        onRetry: () => setTimeout(() => controller.abort(), 50),
      }),
    );

    expect(err.kind).toBe("aborted");
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

describe("base URLs", () => {
  it("accepts a trailing slash or a pasted /chat/completions", () => {
    expect(normalizeBaseUrl("http://localhost:8000/v1/")).toBe("http://localhost:8000/v1");
    expect(normalizeBaseUrl(" http://localhost:8000/v1/chat/completions ")).toBe("http://localhost:8000/v1");
    expect(normalizeBaseUrl("https://api.openai.com/v1")).toBe("https://api.openai.com/v1");
  });

  it("rejects URLs that are not http(s) or that embed credentials", () => {
    expect(() => normalizeBaseUrl("localhost:11434")).toThrow(ModelError);
    expect(() => normalizeBaseUrl("http://user:sk-secret@localhost:8000/v1")).toThrow(/must not contain credentials/);
  });

  it("tells Ollama users without /v1 exactly what to use", () => {
    expect(baseUrlHint("http://localhost:11434")).toBe("Ollama serves its OpenAI-compatible API under /v1: use http://localhost:11434/v1 as the base URL.");
    expect(baseUrlHint("http://localhost:11434/")).toMatch(/use http:\/\/localhost:11434\/v1/);
    expect(baseUrlHint("http://localhost:11434/v1")).toBeNull();
    expect(baseUrlHint("http://gpu-box:8080")).toMatch(/end in \/v1 \(e\.g\. http:\/\/gpu-box:8080\/v1\)/);
  });
});

describe("SseParser", () => {
  const stream =
    ": comment\r\n" +
    "event: message\r\n" +
    "data: first\r\n\r\n" +
    "data:no-space\n" +
    "data: second line\n\n" +
    "retry: 100\r" +
    "data: cr only\r\r" +
    "data: [DONE]\n\n";
  const expected: SseEvent[] = [
    { event: "message", data: "first" },
    { event: null, data: "no-space\nsecond line" },
    { event: null, data: "cr only" },
    { event: null, data: "[DONE]" },
  ];

  it("gives the same events however the stream is split", () => {
    for (let a = 0; a <= stream.length; a++) {
      for (let b = a; b <= stream.length; b += 7) {
        const parser = new SseParser();
        const events = [...parser.push(stream.slice(0, a)), ...parser.push(stream.slice(a, b)), ...parser.push(stream.slice(b)), ...parser.end()];
        expect(events, `split at ${a} and ${b}`).toEqual(expected);
      }
    }
  });

  it("dispatches a last event that lacks its blank line at the end of the stream", () => {
    const parser = new SseParser();

    const events = [...parser.push('data: {"a":1}'), ...parser.end()];

    expect(events).toEqual([{ event: null, data: '{"a":1}' }]);
  });
});

describe("model endpoint limits", () => {
  it("model endpoint limits: a response larger than the byte cap is abandoned with a clear, non-retryable error", async () => {
    const MiB = 1024 * 1024;
    const pieces = Array.from({ length: Math.ceil(MODEL_LIMITS.maxResponseBytes / MiB) + 4 }, () => `: ${"x".repeat(MiB - 3)}\n`);
    const endpoint = await endpointFor([{ type: "raw", body: pieces }]);
    const started = Date.now();
    const err = await modelError(streamChatCompletion(endpoint, request));
    expect(err.kind).toBe("limit");
    expect(err.retryable).toBe(false);
    expect(err.message).toContain(`more than ${MODEL_LIMITS.maxResponseBytes} bytes in one response`);
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it("model endpoint limits: a message text past the cap stops the turn with an error naming the cap", async () => {
    const endpoint = await endpointFor([{ type: "text", text: "y".repeat(MODEL_LIMITS.maxContentChars + 10), chunks: 4 }]);
    const deltas: string[] = [];
    const err = await modelError(streamChatCompletion(endpoint, request, { onDelta: (t) => deltas.push(t) }));
    expect(err.kind).toBe("limit");
    expect(err.message).toContain(`past ${MODEL_LIMITS.maxContentChars} characters`);
    expect(deltas.join("").length).toBeLessThanOrEqual(MODEL_LIMITS.maxContentChars);
  });

  it("model endpoint limits: one tool call's arguments past the cap stop the turn with an error naming the tool", async () => {
    const endpoint = await endpointFor([
      {
        type: "tool_calls",
        calls: [{ name: "write_file", arguments: JSON.stringify({ path: "a", content: "z".repeat(MODEL_LIMITS.maxToolArgumentsChars) }) }],
        argumentChunks: 8,
      },
    ]);
    const err = await modelError(streamChatCompletion(endpoint, request));
    expect(err.kind).toBe("limit");
    expect(err.message).toMatch(new RegExp(`arguments for the tool call write_file grew past ${MODEL_LIMITS.maxToolArgumentsChars} characters`));
  });

  it("model endpoint limits: a legitimate 1.2 MiB write_file streamed a few characters per event stays under every cap", async () => {
    const content = "let x = 1;\n".repeat(Math.ceil((1.2 * 1024 * 1024) / 11));
    const args = JSON.stringify({ path: "big.js", content });
    const endpoint = await endpointFor([{ type: "tool_calls", calls: [{ name: "write_file", arguments: args }], argumentChunks: Math.ceil(args.length / 24) }]);
    const turn = await streamChatCompletion(endpoint, request);
    expect(turn.toolCalls).toHaveLength(1);
    expect(turn.toolCalls[0]!.argumentsText).toBe(args);
  });

  it("model endpoint limits: one SSE event longer than the event cap is refused before it is parsed", async () => {
    const huge = `data: {"choices":[{"index":0,"delta":{"content":"${"q".repeat(MODEL_LIMITS.maxEventChars)}"}}]}\n\n`;
    const endpoint = await endpointFor([{ type: "raw", body: [huge.slice(0, 4_000_000), huge.slice(4_000_000)] }]);
    const err = await modelError(streamChatCompletion(endpoint, request));
    expect(err.kind).toBe("limit");
    expect(err.message).toContain(`one SSE event longer than ${MODEL_LIMITS.maxEventChars} characters`);
  });

  it("model endpoint limits: padding comments are skipped without being kept, and the reply after them still arrives", async () => {
    const chunk = (o: unknown) => `data: ${JSON.stringify(o)}\n\n`;
    const padding = `: ${"p".repeat(MODEL_LIMITS.maxEventChars + 10)}\n`;
    const endpoint = await endpointFor([
      {
        type: "raw",
        body: [
          padding.slice(0, 5_000_000),
          padding.slice(5_000_000),
          chunk({ choices: [{ index: 0, delta: { content: "after the padding" }, finish_reason: "stop" }] }),
          "data: [DONE]\n\n",
        ],
      },
    ]);
    expect((await streamChatCompletion(endpoint, request)).content).toBe("after the padding");
  });

  it("model endpoint limits: the same caps hold when the server ignores streaming and sends one JSON body", async () => {
    const endpoint = await endpointFor([{ type: "text", text: "w".repeat(MODEL_LIMITS.maxContentChars + 1), ignoreStream: true }]);
    expect((await modelError(streamChatCompletion(endpoint, request))).kind).toBe("limit");
  });

  it(`model endpoint limits: at most ${MODEL_LIMITS.maxToolCallsPerTurn} tool calls run per turn; the extra ones are returned as refused, in order, without their arguments`, async () => {
    const calls = Array.from({ length: 20 }, (_, i) => ({ id: `c${i}`, name: "read_file", arguments: { path: `f${i}.txt` } }));
    const endpoint = await endpointFor([{ type: "tool_calls", calls }]);
    const turn = await streamChatCompletion(endpoint, request);
    expect(turn.toolCalls.map((c) => c.id)).toEqual(calls.slice(0, MODEL_LIMITS.maxToolCallsPerTurn).map((c) => c.id));
    expect(turn.toolCalls[15]).toEqual({ id: "c15", name: "read_file", argumentsText: '{"path":"f15.txt"}' });
    expect(turn.refusedToolCalls).toEqual([16, 17, 18, 19].map((i) => ({ id: `c${i}`, name: "read_file" })));
  });

  it("model endpoint limits: a flood of tool calls in one turn is abandoned instead of answered one by one", async () => {
    const calls = Array.from({ length: MODEL_LIMITS.maxToolCallsPerTurn * 4 + 1 }, (_, i) => ({ name: "read_file", arguments: { path: `f${i}` } }));
    const endpoint = await endpointFor([{ type: "tool_calls", calls }]);
    const err = await modelError(streamChatCompletion(endpoint, request));
    expect(err.kind).toBe("limit");
    expect(err.message).toMatch(/more than 64 tool calls in one turn \(Airlock runs at most 16\)/);
  });

  it.each([
    ["negative", { promptTokens: -5, completionTokens: -1 }],
    ["NaN (sent as null)", { promptTokens: Number.NaN, completionTokens: Number.NaN }],
    ["fractional", { promptTokens: 10.5, completionTokens: 0.25 }],
    ["far beyond what the bytes could hold", { promptTokens: 9_000_000_000, completionTokens: 5_000_000_000_000 }],
  ])("model endpoint limits: a %s usage figure is replaced by a local estimate (about 4 characters a token)", async (_what, usage) => {
    const endpoint = await endpointFor([{ type: "text", text: "x".repeat(400), usage }]);
    const turn = await streamChatCompletion(endpoint, request);
    expect(turn.usage.estimated).toBe(true);
    expect(turn.usage.completionTokens).toBe(100);
    const promptChars = JSON.stringify(request.messages).length + JSON.stringify(request.tools).length;
    expect(turn.usage.promptTokens).toBe(Math.ceil(promptChars / 4));
  });

  it("model endpoint limits: a believable usage figure is kept as the server sent it", async () => {
    const endpoint = await endpointFor([{ type: "text", text: "x".repeat(400), usage: { promptTokens: 80, completionTokens: 95 } }]);
    expect((await streamChatCompletion(endpoint, request)).usage).toEqual({ promptTokens: 80, completionTokens: 95, estimated: false });
  });

  it("model endpoint limits: hidden reasoning tokens the server reports keep a large completion figure believable", async () => {
    const usage = { prompt_tokens: 50, completion_tokens: 20_100, completion_tokens_details: { reasoning_tokens: 20_000 } };
    const chunk = (o: unknown) => `data: ${JSON.stringify(o)}\n\n`;
    const endpoint = await endpointFor([
      {
        type: "raw",
        body: [chunk({ choices: [{ index: 0, delta: { content: "done" }, finish_reason: "stop" }] }), chunk({ choices: [], usage }), "data: [DONE]\n\n"],
      },
    ]);
    expect((await streamChatCompletion(endpoint, request)).usage).toEqual({ promptTokens: 50, completionTokens: 20_100, estimated: false });
  });
});
