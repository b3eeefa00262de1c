// Every tRPC procedure, found in appRouter's procedure table (a new procedure
// is covered without touching this file), fed hostile input: in-process
// through createCaller (many cases) and over real loopback HTTP through the
// real route handler (app/api/trpc/[trpc]/route.ts) with real tokens and
// session cookies for each role, a real SQLite file. Properties: never an
// INTERNAL_SERVER_ERROR / 500, no unhandled rejection, a refusal leaves every
// table's row count as it was, says what was wrong (zod refusals name the
// field), and Object.prototype stays clean.
import fs from "node:fs";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

const env = vi.hoisted(() => {
  const secret = "fuzz-trpc-test-secret-0123456789abcdef";
  process.env.NEXTAUTH_SECRET = secret;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  process.env.AIRLOCK_DATA_DIR = require("node:fs").mkdtempSync(require("node:path").join(require("node:os").tmpdir(), "airlock-fuzz-trpc-"));
  return { secret, dataDir: process.env.AIRLOCK_DATA_DIR as string };
});

import { TRPCError } from "@trpc/server";
import { encode } from "next-auth/jwt";
import superjson from "superjson";
import { db as processDb } from "@/db/client";
import { ROLES, type Role } from "@/db/schema";
import { appRouter } from "@/server/api/root";
import { createCallerFactory, type Context } from "@/server/api/trpc";
import { SESSION_MAX_AGE_S } from "@/server/auth/options";
import type { Identity } from "@/server/auth/identity";
import { createSession } from "@/server/auth/sessions";
import { runDraftTask, stopPolicyWorkers } from "@/server/policy/offthread";
import { createRun } from "@/server/runs/runs";
import { findUserById, type PublicUser } from "@/server/users/users";
import { MAX_INPUT_DEPTH } from "@/lib/nesting";
import { serveRoute, type RouteServer } from "@/test/helpers/route-server";
import { actorOf, addUser, identityOfToken, issueToken } from "@/test/helpers/users";
import {
  CaseTally,
  CrashWatch,
  deeplyNested,
  deeplyNestedJson,
  expectClearMessage,
  expectPrototypesClean,
  fuzzRuns,
  hostileValue,
  pollutingObject,
  preview,
  rowCounts,
  schemaKeys,
  schemaShaped,
  shapedInput,
} from "@/test/helpers/hostile";

/** Cases per procedure: in-process, and over HTTP (each HTTP case costs a request through the whole route). */
const IN_PROCESS_RUNS = fuzzRuns(10);
const HTTP_RUNS = fuzzRuns(3);

const tally = new CaseTally("tRPC procedures");
const crashes = new CrashWatch();

interface ProcedureDef {
  type: "query" | "mutation" | "subscription";
  inputs: unknown[];
}
type RouterDef = { procedures: Record<string, { _def: ProcedureDef }>; lazy: Record<string, { load(): Promise<void> }> };
const routerDef = appRouter._def as unknown as RouterDef;
while (Object.keys(routerDef.lazy).length > 0) await Promise.all(Object.values(routerDef.lazy).map((l) => l.load()));
const PROCEDURES = Object.entries(routerDef.procedures)
  .map(([path, proc]) => ({ path, type: proc._def.type, keys: proc._def.inputs.flatMap(schemaKeys), schema: proc._def.inputs[0] }))
  .sort((a, b) => a.path.localeCompare(b.path));

interface Caller {
  name: string;
  identity: Identity | null;
  headers: Record<string, string>;
}
const callers: Caller[] = [];
let server: RouteServer;
let runId: string;

async function sessionCookie(user: PublicUser): Promise<string> {
  const database = processDb();
  const session = createSession(database, { userId: user.id, maxAgeS: SESSION_MAX_AGE_S });
  const jwt = await encode({
    token: { email: user.email, uid: user.id, sv: findUserById(database, user.id)!.sessionVersion, sid: session.id },
    secret: env.secret,
    maxAge: SESSION_MAX_AGE_S,
  });
  return `next-auth.session-token=${jwt}`;
}

beforeAll(async () => {
  const { GET, POST } = await import("@/app/api/trpc/[trpc]/route");
  server = await serveRoute("/api/trpc/*", { GET, POST });
  const database = processDb();
  const host = new URL(server.url).host;
  callers.push({ name: "anonymous", identity: null, headers: {} });
  for (const role of ROLES as readonly Role[]) {
    const user = await addUser(database, role);
    const token = issueToken(database, user.id).token;
    const identity = await identityOfToken(database, token);
    callers.push({ name: `${role} (token)`, identity, headers: { authorization: `Bearer ${token}` } });
    callers.push({
      name: `${role} (session)`,
      identity,
      headers: { cookie: await sessionCookie(user), origin: `http://${host}`, "sec-fetch-site": "same-origin" },
    });
    if (role === "operator")
      runId = createRun(database, { ...actorOf(user), userId: user.id }, { title: "fuzz target", task: "nothing", agent: "external" }).id;
  }
  crashes.start();
}, 120_000);

afterAll(async () => {
  crashes.stop();
  tally.print();
  await server?.close();
  await stopPolicyWorkers();
  const g = globalThis as unknown as { __airlockDb?: { $client: { close(): void } } };
  g.__airlockDb?.$client.close();
  delete g.__airlockDb;
  fs.rmSync(env.dataDir, { recursive: true, force: true });
});

/** Plausible field values (so some calls get past one field to the next, or into the domain code); loopback URLs only. */
const plausible = () =>
  fc.oneof(
    fc.constantFrom("x", "fuzz", "viewer", "admin", "pending", "http://127.0.0.1:9/hook", "a@example.com", "1", "0"),
    fc.constant(runId),
    fc.uuid(),
    fc.integer({ min: -2, max: 100 }),
    fc.boolean(),
    fc.constant([]),
  );

const inputFor = (proc: { keys: string[]; schema: unknown }, opts: { exotic: boolean; maxBig: number }) =>
  fc.oneof(
    { weight: 3, arbitrary: shapedInput(proc.keys, plausible(), opts) },
    { weight: 3, arbitrary: schemaShaped(proc.schema, { ...opts, extra: fc.constant(runId) }) },
    { weight: 2, arbitrary: hostileValue(opts) },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );

const counts = () => rowCounts(processDb().$client);

/**
 * A refusal leaves every table as it was, except that a refused security
 * action may record itself in the audit trail on purpose (one event whose
 * action says it failed, e.g. auth.password_change_failed): a whole write, not a partial one.
 */
function expectNoWrite(before: Record<string, number>, context: () => string) {
  const after = counts();
  if (JSON.stringify(after) === JSON.stringify(before)) return;
  const audited = after.audit_events === before.audit_events! + 1;
  // A refused password check is audited and counted against the account (login_throttles: the throttle's whole point).
  if (audited && JSON.stringify({ ...after, audit_events: before.audit_events, login_throttles: before.login_throttles }) === JSON.stringify(before)) {
    const last = processDb().$client.prepare("select action from audit_events order by rowid desc limit 1").get() as { action: string };
    if (/failed|denied|refused/.test(last.action)) return;
  }
  expect(after, `${context()}: refused but wrote`).toEqual(before);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Calls a procedure in-process; a subscription's stream is pulled once (its input is checked then). */
async function callInProcess(caller: Caller, path: string, input: unknown): Promise<{ error: unknown }> {
  const ctx: Context = { db: processDb(), identity: caller.identity, sourceIp: "192.0.2.1" };
  let target: unknown = createCallerFactory(appRouter)(ctx);
  for (const key of path.split(".")) target = (target as Record<string, unknown>)[key];
  try {
    const result = await (target as (input: unknown) => Promise<unknown>)(input);
    if (result && typeof result === "object" && Symbol.asyncIterator in result) {
      const iterator = (result as AsyncIterable<unknown>)[Symbol.asyncIterator]();
      try {
        await Promise.race([iterator.next(), sleep(50)]);
      } finally {
        void iterator.return?.(undefined).catch(() => undefined);
      }
    }
    return { error: null };
  } catch (error) {
    return { error };
  }
}

function expectProperRefusal(error: unknown, context: () => string) {
  if (!(error instanceof TRPCError)) expect.fail(`${context()}: threw a ${(error as Error)?.constructor?.name}, not a TRPCError: ${String(error)}`);
  if (error.code === "INTERNAL_SERVER_ERROR") {
    const cause = error.cause as Error | undefined;
    expect.fail(`${context()}: INTERNAL_SERVER_ERROR: ${error.message}\n${cause?.stack ?? ""}`);
  }
  expectClearMessage(error.message, context);
  if (error.code === "BAD_REQUEST" && error.message.startsWith("Invalid input: ")) {
    // A zod refusal names the field (or says what the whole input should be).
    expect(error.message.length, context()).toBeGreaterThan("Invalid input: ".length + 5);
  }
}

describe("every tRPC procedure in-process (createCaller)", () => {
  it("lists the procedures it fuzzes", () => {
    expect(PROCEDURES.length).toBeGreaterThan(60);
    expect(PROCEDURES.map((p) => p.path)).toContain("runs.create");
  });

  it.each(PROCEDURES.map((p) => [p.path, p] as const))("%s: hostile input never answers INTERNAL_SERVER_ERROR nor writes when refused", async (path, proc) => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...callers), inputFor(proc, { exotic: true, maxBig: 1_100_000 }), async (caller, input) => {
        tally.add(`in-process ${proc.type}s`);
        const before = counts();
        const { error } = await callInProcess(caller, path, input);
        if (error) {
          expectProperRefusal(error, () => `${path} as ${caller.name} with ${preview(input)}`);
          expectNoWrite(before, () => `${path}: ${(error as Error).message}`);
        }
        expectPrototypesClean(() => `${path} with ${preview(input)}`);
        expect(crashes.seen).toEqual([]);
      }),
      { numRuns: proc.type === "subscription" ? Math.ceil(IN_PROCESS_RUNS / 3) : IN_PROCESS_RUNS },
    );
  });
});

interface HttpAnswer {
  status: number;
  text: string;
}

async function httpCall(caller: Caller, path: string, type: ProcedureDef["type"], body: string, streamWaitMs = 150): Promise<HttpAnswer> {
  const url = `${server.url}/${path}`;
  if (type === "mutation") {
    const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...caller.headers }, body });
    return { status: res.status, text: await res.text() };
  }
  const aborter = new AbortController();
  const res = await fetch(`${url}?input=${encodeURIComponent(body)}`, {
    headers: { ...caller.headers, ...(type === "subscription" ? { accept: "text/event-stream" } : {}) },
    signal: aborter.signal,
  });
  if (type !== "subscription") return { status: res.status, text: await res.text() };
  // A stream: read what comes within a moment (an error comes at once), then hang up.
  let text = "";
  const reader = res.body!.getReader();
  const deadline = sleep(streamWaitMs).then(() => null);
  for (;;) {
    const chunk = await Promise.race([reader.read(), deadline]);
    if (!chunk || chunk.done) break;
    text += Buffer.from(chunk.value).toString("utf8");
    if (text.includes("error")) break;
  }
  aborter.abort();
  return { status: res.status, text };
}

/** The error message and tRPC code of an HTTP answer, whichever envelope it came in (tRPC's, or the route's own). */
function refusalOf(answer: HttpAnswer): { message: unknown; code: unknown } | null {
  if (answer.status < 400 && !answer.text.includes("serialized-error")) return null;
  const dataLine = answer.text.startsWith("{") ? answer.text : (/event: serialized-error\ndata: (\{.*\})/.exec(answer.text)?.[1] ?? "{}");
  const parsed = JSON.parse(dataLine) as {
    error?: { json?: { message?: unknown; data?: { code?: unknown } }; message?: unknown; code?: unknown };
    json?: { message?: unknown; data?: { code?: unknown } };
  };
  const envelope = parsed.error?.json ?? parsed.json ?? parsed.error;
  return {
    message: (envelope as { message?: unknown } | undefined)?.message,
    code: (envelope as { data?: { code?: unknown }; code?: unknown } | undefined)?.data?.code ?? (envelope as { code?: unknown } | undefined)?.code,
  };
}

function expectProperHttpRefusal(answer: HttpAnswer, context: () => string) {
  if (answer.status >= 500) expect.fail(`${context()}: HTTP ${answer.status}: ${answer.text.slice(0, 2000)}`);
  const refusal = refusalOf(answer);
  if (!refusal) return false;
  if (refusal.code === "INTERNAL_SERVER_ERROR") expect.fail(`${context()}: INTERNAL_SERVER_ERROR: ${answer.text.slice(0, 2000)}`);
  expectClearMessage(refusal.message, () => `${context()} → HTTP ${answer.status}: ${answer.text.slice(0, 500)}`);
  return true;
}

/** Serialized as tRPC's client would (superjson), the way real traffic arrives; GET inputs kept to a URL a server accepts. */
function encodeInput(input: unknown, type: ProcedureDef["type"]): string | null {
  let text: string;
  try {
    text = JSON.stringify(superjson.serialize(input));
  } catch {
    return null; // superjson itself recurses; such a value cannot be sent by its client (raw bodies cover it below)
  }
  return type !== "mutation" && text.length > 6000 ? null : text;
}

describe("every tRPC procedure over HTTP through the real route handler", () => {
  it.each(PROCEDURES.map((p) => [p.path, p] as const))("%s: hostile input over HTTP never answers 500 nor writes when refused", async (path, proc) => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...callers), inputFor(proc, { exotic: true, maxBig: 200_000 }), async (caller, input) => {
        const body = encodeInput(input, proc.type);
        if (body === null) return;
        tally.add(`HTTP ${proc.type}s`);
        const before = counts();
        const answer = await httpCall(caller, path, proc.type, body);
        const refused = expectProperHttpRefusal(answer, () => `${path} as ${caller.name} with ${preview(input)}`);
        if (refused) {
          expectNoWrite(before, () => `${path}: ${answer.text.slice(0, 500)}`);
        }
        expectPrototypesClean(() => `${path} with ${preview(input)}`);
        expect(crashes.seen).toEqual([]);
      }),
      { numRuns: proc.type === "subscription" ? Math.ceil(HTTP_RUNS / 2) : HTTP_RUNS },
    );
  });

  /** Bodies no client library would send: broken JSON, hostile superjson metadata, nesting past any parser's stack. */
  const RAW_BODIES: [string, string][] = [
    ["not JSON", "{not json"],
    ["empty", ""],
    ["a bare string", '"x"'],
    ["JSON null", "null"],
    ["an array", "[1,2,3]"],
    ["10 000-deep arrays", deeplyNestedJson(10_000, "array")],
    ["10 000-deep objects under json", `{"json":${deeplyNestedJson(10_000, "object")}}`],
    ["polluting keys", JSON.stringify({ json: pollutingObject() })],
    ["__proto__ in superjson meta", '{"json":{"a":1},"meta":{"values":{"__proto__.polluted":["undefined"],"a":["bigint"]}}}'],
    ["meta path through __proto__", '{"json":{"a":{}},"meta":{"values":{"a.__proto__.polluted":["undefined"]}}}'],
    ["meta: a bigint that is not a number", '{"json":{"limit":"abc"},"meta":{"values":{"limit":["bigint"]}}}'],
    ["meta: NaN and Infinity numbers", '{"json":{"limit":"NaN","cursor":"Infinity"},"meta":{"values":{"limit":["number"],"cursor":["number"]}}}'],
    ["meta: an unknown type", '{"json":{"a":1},"meta":{"values":{"a":["no-such-type"]}}}'],
    ["meta: a custom class", '{"json":{"a":{}},"meta":{"values":{"a":[["class","Object"]]}}}'],
    ["meta: an invalid Date", '{"json":{"id":"not a date"},"meta":{"values":{"id":["Date"]}}}'],
    ["meta: referential equalities through __proto__", '{"json":{"a":{},"b":{}},"meta":{"referentialEqualities":{"a":["__proto__"]}}}'],
    ["meta: a 10 000-segment path", `{"json":{"a":1},"meta":{"values":{"${"a.".repeat(10_000)}a":["undefined"]}}}`],
    ["meta is a string", '{"json":{},"meta":"x"}'],
    ["a lone surrogate and NUL", '{"json":{"id":"\\ud800\\u0000"}}'],
  ];

  /** Raw bodies per procedure: a rotating share in npm test (each body still reaches many procedures), all of them with FUZZ_RUNS. */
  const RAW_PER_PROCEDURE = Math.min(RAW_BODIES.length, fuzzRuns(4));

  it.each(PROCEDURES.map((p, i) => [p.path, p, i] as const))("%s: malformed and hostile raw bodies answer 4xx with a message", async (path, proc, index) => {
    const admin = callers.find((c) => c.name === "admin (token)")!;
    const share = Array.from({ length: RAW_PER_PROCEDURE }, (_, k) => RAW_BODIES[(index * RAW_PER_PROCEDURE + k) % RAW_BODIES.length]!);
    for (const [label, body] of share) {
      if (proc.type !== "mutation" && body.length > 6000) continue;
      tally.add("HTTP raw bodies");
      const before = counts();
      const answer = await httpCall(admin, path, proc.type, body);
      const refused = expectProperHttpRefusal(answer, () => `${path} with ${label}`);
      if (refused) expectNoWrite(before, () => `${path} with ${label}`);
      expectPrototypesClean(() => `${path} with ${label}`);
    }
    expect(crashes.seen).toEqual([]);
  });
});

/** A caller of its own for a named test: the fuzzed callers' sessions may have been revoked by a fuzzed users.revokeOtherSessions. */
async function freshCaller(role: Role, via: "token" | "session"): Promise<Caller> {
  const database = processDb();
  const user = await addUser(database, role);
  const token = issueToken(database, user.id).token;
  const identity = await identityOfToken(database, token);
  const host = new URL(server.url).host;
  const headers: Record<string, string> =
    via === "token" ? { authorization: `Bearer ${token}` } : { cookie: await sessionCookie(user), origin: `http://${host}`, "sec-fetch-site": "same-origin" };
  return { name: `fresh ${role} (${via})`, identity, headers };
}

describe("bugs the fuzzer found, kept as regressions", () => {
  let adminCaller: Caller;
  let viewerCaller: Caller;
  beforeAll(async () => {
    adminCaller = await freshCaller("admin", "token");
    viewerCaller = await freshCaller("viewer", "session");
  });
  const admin = () => adminCaller;
  const viewerSession = () => viewerCaller;

  it("F1: a 10 000-deep nested input to runs.create answers 400 naming the depth limit, over HTTP and in-process", async () => {
    for (const kind of ["array", "object"] as const) {
      tally.add("regressions");
      const before = counts();
      const body = `{"json":{"title":"deep","task":"deep","agent":"external","limits":${deeplyNestedJson(10_000, kind)}}}`;
      const answer = await httpCall(admin(), "runs.create", "mutation", body);
      expect(answer.status, answer.text).toBe(400);
      expect(answer.text).toContain(`nested more than ${MAX_INPUT_DEPTH} levels deep (the limit is ${MAX_INPUT_DEPTH})`);
      const { error } = await callInProcess(admin(), "runs.create", { title: "deep", task: "deep", agent: "external", limits: deeplyNested(10_000, kind) });
      expect((error as TRPCError).code).toBe("BAD_REQUEST");
      expect((error as TRPCError).message).toContain(`the limit is ${MAX_INPUT_DEPTH}`);
      expect(counts()).toEqual(before);
    }
  });

  it("F2: policies.simulate with arguments nested 10 000 levels deep answers 400 at once (it overflowed the policy worker's clone: an unhandled rejection, then a 10 s hang)", async () => {
    tally.add("regressions");
    const started = Date.now();
    const { error } = await callInProcess(viewerSession(), "policies.simulate", {
      call: { tool: "write_file", args: { path: deeplyNested(10_000, "object") } },
    });
    expect((error as TRPCError).code).toBe("BAD_REQUEST");
    expect((error as TRPCError).message).toContain(`nested more than ${MAX_INPUT_DEPTH} levels deep`);
    expect(Date.now() - started).toBeLessThan(5_000); // unfixed: the policy worker's 10 s time limit
    expect(crashes.seen).toEqual([]);
  });

  it("F2: a policy check whose input the worker cannot receive fails with a message saying so, not an unhandled rejection and a stalled lane", async () => {
    tally.add("regressions");
    // Unfixed, the task stalled the lane until the worker's time limit (DRAFT_TIME_LIMIT_MS) and then failed with a timeout.
    await expect(runDraftTask("simulate", { call: { tool: "read_file", args: { path: deeplyNested(100_000, "array") } } })).rejects.toThrow(
      /cannot be checked by the policy worker/,
    );
    expect(crashes.seen).toEqual([]);
  }, 60_000);

  it('F3: users.setRole with a role that is not a string says what it got, not "[object Object]"', async () => {
    tally.add("regressions");
    for (const role of [[{}], { a: 1 }, 7, null]) {
      const { error } = await callInProcess(admin(), "users.setRole", { id: "x", role });
      expect((error as TRPCError).code).toBe("BAD_REQUEST");
      expect((error as TRPCError).message).toMatch(/role: A role is one of: viewer, operator, reviewer, admin; got (an array|a object|a number|null)/);
      expect((error as TRPCError).message).not.toContain("[object Object]");
    }
  });

  it("limits: a page size over the maximum names the field and the maximum", async () => {
    for (const [path, max] of [
      ["runs.list", 200],
      ["audit.list", 500],
    ] as const) {
      tally.add("limits");
      const { error } = await callInProcess(admin(), path, { limit: max + 1 });
      expect((error as TRPCError).code).toBe("BAD_REQUEST");
      expect((error as TRPCError).message).toMatch(new RegExp(`limit: .*${max}`));
    }
  });

  it("F4: the event stream of a run that does not exist answers NOT_FOUND, not INTERNAL_SERVER_ERROR", async () => {
    tally.add("regressions");
    const answer = await httpCall(viewerSession(), "runs.events", "subscription", JSON.stringify({ json: { id: "no-such-run" } }), 5_000);
    expect(answer.text).toContain('"code":"NOT_FOUND"');
    expect(answer.text).toContain("No run with id no-such-run");
    expect(answer.text).not.toContain("INTERNAL_SERVER_ERROR");
    const { error } = await callInProcess(viewerSession(), "runs.events", { id: "no-such-run" });
    expect((error as TRPCError).code).toBe("NOT_FOUND");
  });
});
