// README, "Limits": the table is read here and every value compared with the
// constant or setting default the code enforces, so the table cannot go
// stale; a few refusals are provoked for real and their messages must be
// the ones the table quotes.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AUTH_MAX_BODY_BYTES, APPROVAL_ACTION_MAX_BODY_BYTES, payloadTooLarge, TRPC_MAX_BODY_BYTES } from "@/server/api/body-limit";
import { MAX_BODY_BYTES as MCP_MAX_BODY_BYTES } from "@/server/agents/mcp-server";
import { MODEL_LIMITS } from "@/server/agents/model-client";
import { MAX_BATCH } from "@/server/approvals/batch";
import { MAX_AUDIT_PAGE } from "@/server/audit/query";
import { DEFAULT_MAX_SUBSCRIBERS_PER_RUN, readConfig } from "@/server/config/env";
import { STREAM_PAGE_EVENTS } from "@/server/events/bus";
import { MAX_POLICY_BYTES, MAX_POLICY_RULES, validatePolicyYaml } from "@/server/policy/yaml";
import { MAX_USAGE_RUNS } from "@/server/runs/usage";
import { MAX_FLEET_STREAMS_PER_USER } from "@/server/runs/changes";
import { DEFAULT_MAX_STORED_BYTES } from "@/server/sandbox/runtime";
import { DEFAULT_MAX_ENTRIES, DEFAULT_MAX_MATCHES } from "@/server/sandbox/files";
import { MAX_SECRET_BYTES } from "@/server/secrets/secrets";
import { RESPONSE_BODY_CAP } from "@/server/egress/fetch";
import { DEFAULT_MAX_CONNECTIONS_PER_RUN } from "@/server/egress/proxy";
import { MAX_INPUT_DEPTH } from "@/lib/nesting";
import http from "node:http";
import { FETCH_MODEL_CAP } from "@/server/tools/execute";
import { MAX_ARGS_BYTES } from "@/server/tools/gateway";
import { MAX_STREAMED_BYTES, MODEL_OUTPUT_CAP } from "@/server/tools/output";
import { MAX_COMMAND_CHARS, MAX_CONTENT, parseToolArgs, type ToolName } from "@/server/tools/palette";
import { createCallerFactory } from "@/server/api/trpc";
import { appRouter } from "@/server/api/root";
import { createTestDb, type TestDb } from "@/test/helpers/db";
import { actorOf, addUser, identityOfToken, issueToken } from "@/test/helpers/users";

interface Row {
  value: string;
  setting: string;
  error: string;
}

/** The rows of README's "## Limits" table, by their first cell. */
function readmeLimits(): Map<string, Row> {
  const readme = fs.readFileSync(path.join(import.meta.dirname, "..", "README.md"), "utf8");
  const start = readme.indexOf("\n## Limits\n");
  if (start < 0) throw new Error('README.md has no "## Limits" section');
  const end = readme.indexOf("\n## ", start + 1);
  const rows = new Map<string, Row>();
  for (const line of readme.slice(start, end).split("\n")) {
    if (!line.startsWith("| ") || line.startsWith("| Limit |") || line.startsWith("| ---")) continue;
    const cells = line
      .slice(2, -2)
      .split(" | ")
      .map((c) => c.trim());
    if (cells.length !== 4) throw new Error(`a Limits row needs 4 cells: ${line}`);
    const [name, value, setting, error] = cells as [string, string, string, string];
    rows.set(name, { value, setting, error });
  }
  return rows;
}

const UNITS: Record<string, number> = { KiB: 1024, MiB: 1024 * 1024 };

/** "1.5 MiB" → bytes, "16384 characters" → 16384, "2000" → 2000. */
function parseValue(text: string): number {
  const m = /^([\d.]+)(?: (KiB|MiB|characters|levels))?$/.exec(text);
  if (!m) throw new Error(`cannot read the value "${text}"`);
  return Number(m[1]) * (m[2] ? (UNITS[m[2]] ?? 1) : 1);
}

const workspace = readConfig({}).workspace;
const createCaller = createCallerFactory(appRouter);

/** What the code enforces, by the README row's name: the value and the setting that changes it. */
const CODE: Record<string, { value: number; setting?: string }> = {
  "tRPC request body (`/api/trpc`)": { value: TRPC_MAX_BODY_BYTES },
  "MCP request body (`/api/mcp`)": { value: MCP_MAX_BODY_BYTES },
  "Sign-in request body (`/api/auth/*`)": { value: AUTH_MAX_BODY_BYTES },
  "Approval button body (`/api/approvals/act`)": { value: APPROVAL_ACTION_MAX_BODY_BYTES },
  "Uploaded archive, compressed (`/api/uploads`)": { value: workspace.archiveMaxBytes, setting: "AIRLOCK_ARCHIVE_MAX_MB" },
  "Uploaded archive, expanded": { value: workspace.archiveMaxExpandedBytes, setting: "AIRLOCK_ARCHIVE_MAX_EXPANDED_MB" },
  "Uploaded archive, entries": { value: workspace.archiveMaxFiles, setting: "AIRLOCK_ARCHIVE_MAX_FILES" },
  "Nesting of any tRPC input or tool arguments": { value: MAX_INPUT_DEPTH },
  "Tool call arguments, all of one call": { value: MAX_ARGS_BYTES },
  "`write_file` / `edit_file` content": { value: MAX_CONTENT },
  "`http_fetch` request body": { value: MAX_CONTENT },
  "`run_command` / `start_service` command": { value: MAX_COMMAND_CHARS },
  "`read_file` bytes per call": { value: MAX_CONTENT },
  "`list_files` entries": { value: DEFAULT_MAX_ENTRIES },
  "`search_files` matches": { value: DEFAULT_MAX_MATCHES },
  "Tool calls per model turn": { value: MODEL_LIMITS.maxToolCallsPerTurn },
  "Command output shown to the model": { value: MODEL_OUTPUT_CAP },
  "Command output kept in the result": { value: DEFAULT_MAX_STORED_BYTES },
  "Command output streamed live to the run page": { value: MAX_STREAMED_BYTES },
  "`http_fetch` response kept": { value: RESPONSE_BODY_CAP },
  "`http_fetch` response shown to the model": { value: FETCH_MODEL_CAP },
  "Run events per database read of a live stream": { value: STREAM_PAGE_EVENTS },
  "Live viewers per run (`runs.events`)": { value: DEFAULT_MAX_SUBSCRIBERS_PER_RUN, setting: "AIRLOCK_MAX_SUBSCRIBERS_PER_RUN" },
  "Live runs lists per user (`runs.changes`)": { value: MAX_FLEET_STREAMS_PER_USER },
  "Audit entries per page (`audit.list`)": { value: MAX_AUDIT_PAGE },
  "Requests per batch decision (`approvals.decideBatch`)": { value: MAX_BATCH },
  "Runs per usage query (`runs.usage`)": { value: MAX_USAGE_RUNS },
  "Request headers through the egress proxy": { value: http.maxHeaderSize },
  "Open egress connections per run": { value: DEFAULT_MAX_CONNECTIONS_PER_RUN },
  "Secret value": { value: MAX_SECRET_BYTES },
  "Policy YAML": { value: MAX_POLICY_BYTES },
  "Policy rules": { value: MAX_POLICY_RULES },
};

/** The README's error text with its placeholders (N, M, TOOL) as wildcards. */
function quoted(row: Row): RegExp[] {
  return [...row.error.matchAll(/"([^"]+)"/g)].map(
    (m) =>
      new RegExp(
        m[1]!
          .replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
          .replace(/\bN\b|\bM\b/g, "\\d+")
          .replace(/…/g, ".*"),
      ),
  );
}

function expectQuoted(row: Row | undefined, message: string) {
  expect(row, "the README row").toBeDefined();
  const patterns = quoted(row!);
  expect(
    patterns.some((p) => p.test(message)),
    `README quotes ${patterns.join(" or ")}; the code says "${message}"`,
  ).toBe(true);
}

describe("README limits table", () => {
  const rows = readmeLimits();

  it("L3: every limit in the README has the value and setting the code enforces, and every enforced limit is in the README", () => {
    expect([...rows.keys()].sort()).toEqual(Object.keys(CODE).sort());
    for (const [name, code] of Object.entries(CODE)) {
      const row = rows.get(name)!;
      expect(parseValue(row.value), `${name}: README says ${row.value}`).toBe(code.value);
      expect(row.setting, `${name}: the setting`).toBe(code.setting ? `\`${code.setting}\`` : "—");
    }
  });

  it("L4: the tool argument refusals the README quotes are the ones the gateway gives", () => {
    const invalid = (tool: ToolName, args: Record<string, unknown>) => {
      const parsed = parseToolArgs(tool, args);
      if (parsed.success) throw new Error(`${tool} accepted oversized arguments`);
      // The gateway's wording (server/tools/gateway.ts).
      return `Invalid arguments for ${tool}: ${parsed.error.issues.map((i) => (i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message)).join("; ")}`;
    };
    const big = "x".repeat(MAX_CONTENT + 1);
    expectQuoted(rows.get("`write_file` / `edit_file` content"), invalid("write_file", { path: "a.txt", content: big }));
    expectQuoted(rows.get("`http_fetch` request body"), invalid("http_fetch", { url: "https://example.com/", method: "POST", body: big }));
    expectQuoted(rows.get("`run_command` / `start_service` command"), invalid("run_command", { command: "x".repeat(MAX_COMMAND_CHARS + 1) }));
    expectQuoted(rows.get("`read_file` bytes per call"), invalid("read_file", { path: "a.txt", limit: MAX_CONTENT + 1 }));
  });

  it("L5b: a policy past its size limit is refused as the README says", () => {
    const v = validatePolicyYaml("#".repeat(MAX_POLICY_BYTES + 1));
    expect(v.ok).toBe(false);
    expectQuoted(rows.get("Policy YAML"), (v as { problems: { message: string }[] }).problems[0]!.message);
  });

  it("L5: the HTTP body refusal the README quotes is the one a client gets", async () => {
    const res = payloadTooLarge(`${TRPC_MAX_BODY_BYTES + 1} bytes`, TRPC_MAX_BODY_BYTES);
    expect(res.status).toBe(413);
    const body = (await res.json()) as { error: { message: string; code: string } };
    expect(body.error.code).toBe("PAYLOAD_TOO_LARGE");
    expectQuoted(rows.get("tRPC request body (`/api/trpc`)"), body.error.message);
  });

  describe("tRPC refusals", () => {
    let t: TestDb;
    let call: ReturnType<typeof createCaller>;

    beforeAll(async () => {
      t = createTestDb();
      const admin = await addUser(t.db, "admin");
      call = createCaller({ db: t.db, identity: await identityOfToken(t.db, issueToken(t.db, admin.id).token), sourceIp: "127.0.0.1" });
    }, 120_000); // importing the whole router is slow on a loaded machine

    afterAll(() => t?.close());

    const refusal = async (p: Promise<unknown>) => {
      const err = (await p.then(
        () => null,
        (e: unknown) => e,
      )) as { code?: string; message: string } | null;
      if (!err) throw new Error("the call was accepted");
      return err;
    };

    it("L6: audit pages, batch decisions, usage queries and secrets past their limits are refused as the README says", async () => {
      const audit = await refusal(call.audit.list({ limit: MAX_AUDIT_PAGE + 1 }));
      expect(audit.code).toBe("BAD_REQUEST");
      expectQuoted(rows.get("Audit entries per page (`audit.list`)"), audit.message);

      const ids = Array.from({ length: MAX_BATCH + 1 }, (_, i) => `a${i}`);
      const batch = await refusal(call.approvals.decideBatch({ runId: "r", approvalIds: ids, decision: "approve", hashes: {} }));
      expect(batch.code).toBe("BAD_REQUEST");
      expectQuoted(rows.get("Requests per batch decision (`approvals.decideBatch`)"), batch.message);

      const usage = await refusal(call.runs.usage({ ids: Array.from({ length: MAX_USAGE_RUNS + 1 }, (_, i) => `r${i}`) }));
      expect(usage.code).toBe("BAD_REQUEST");
      expectQuoted(rows.get("Runs per usage query (`runs.usage`)"), usage.message);

      const secret = await refusal(call.secrets.create({ name: "BIG_SECRET", value: "s".repeat(MAX_SECRET_BYTES + 1) }));
      expect(secret.code).toBe("BAD_REQUEST");
      expectQuoted(rows.get("Secret value"), secret.message);
    });
  });

  it("L7: a bad AIRLOCK_MAX_SUBSCRIBERS_PER_RUN fails loudly with the variable's name; unset is the README's default", () => {
    expect(() => readConfig({ AIRLOCK_MAX_SUBSCRIBERS_PER_RUN: "0" })).toThrow(/AIRLOCK_MAX_SUBSCRIBERS_PER_RUN must be a whole number/);
    expect(() => readConfig({ AIRLOCK_MAX_SUBSCRIBERS_PER_RUN: "many" })).toThrow(/AIRLOCK_MAX_SUBSCRIBERS_PER_RUN/);
    expect(readConfig({ AIRLOCK_MAX_SUBSCRIBERS_PER_RUN: "7" }).maxSubscribersPerRun).toBe(7);
    expect(readConfig({}).maxSubscribersPerRun).toBe(DEFAULT_MAX_SUBSCRIBERS_PER_RUN);
  });

  it("L8: a chunked MCP body past the limit is refused after reading about the limit, not buffered whole", async () => {
    const t = createTestDb();
    try {
      const operator = await addUser(t.db, "operator");
      const { createRunWithToken } = await import("@/server/runs/runs");
      const { handleMcpRequest } = await import("@/server/agents/mcp-server");
      const { mcpToken } = createRunWithToken(t.db, { ...actorOf(operator), userId: operator.id }, { title: "mcp", task: "t", agent: "external" });
      // 64 MiB offered in 64 KiB chunks with no Content-Length (chunked): count what the server pulls.
      const chunk = new Uint8Array(64 * 1024).fill(32);
      const offered = 64 * 1024 * 1024;
      let pulled = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (pulled >= offered) return controller.close();
          pulled += chunk.byteLength;
          controller.enqueue(chunk);
        },
      });
      const res = await handleMcpRequest(
        t.db,
        new Request("http://localhost/api/mcp", {
          method: "POST",
          headers: { authorization: `Bearer ${mcpToken!}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
          body,
          duplex: "half",
        } as RequestInit),
      );
      expect(res.status).toBe(413);
      const answer = (await res.json()) as { error: { message: string } };
      expectQuoted(rows.get("MCP request body (`/api/mcp`)"), answer.error.message);
      expect(pulled).toBeLessThan(MCP_MAX_BODY_BYTES + 4 * chunk.byteLength);
    } finally {
      t.close();
    }
  }, 60_000);
});
