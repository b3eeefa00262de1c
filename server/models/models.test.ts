// Issue 16, everyday management of model endpoints: test connection (against
// the scripted OpenAI-compatible server over loopback), edit, delete or retire,
// the last one used, and who may do it — through the real router on a real
// SQLite file.
import http from "node:http";
import type { Socket } from "node:net";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { and, eq } from "drizzle-orm";
import { auditEvents, models } from "@/db/schema";
import { appRouter } from "@/server/api/root";
import { createCallerFactory } from "@/server/api/trpc";
import { createRun, getRunView } from "@/server/runs/runs";
import { decryptSecret } from "@/server/secrets/crypto";
import { testModelConnection } from "@/server/models/test-connection";
import { overrideWorkspaceSettings } from "@/server/workspace/settings";
import { resolveWorkspaceSource } from "@/server/workspace/sources";
import type { PublicUser } from "@/server/users/users";
import { createTestDb, type TestDb } from "@/test/helpers/db";
import { startScriptedModelServer, type ScriptedModelServer } from "@/test/helpers/model-server";
import { actorOf, addUser, identityOfToken, issueToken } from "@/test/helpers/users";

let t: TestDb;
let admin: PublicUser;
let operator: PublicUser;
let viewer: PublicUser;
let server: ScriptedModelServer;

beforeAll(async () => {
  t = createTestDb();
  admin = await addUser(t.db, "admin");
  operator = await addUser(t.db, "operator");
  viewer = await addUser(t.db, "viewer");
  server = await startScriptedModelServer([], { model: "scripted-llama", apiKey: "sk-right" });
});
afterAll(async () => {
  await server?.close();
  t?.close();
});

async function callerFor(user: PublicUser) {
  const identity = await identityOfToken(t.db, issueToken(t.db, user.id).token);
  return createCallerFactory(appRouter)({ db: t.db, identity, sourceIp: "192.0.2.7" });
}

async function addEndpoint(apiKey: string | undefined, baseUrl = server.baseUrl) {
  const caller = await callerFor(admin);
  return (await caller.models.create({ name: `endpoint ${Math.random().toString(36).slice(2, 7)}`, baseUrl, model: "scripted-llama", apiKey })).id;
}

/** A loopback port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

const auditOf = (id: string) =>
  t.db
    .select()
    .from(auditEvents)
    .where(and(eq(auditEvents.targetType, "model"), eq(auditEvents.targetId, id)))
    .all();

describe("issue 16: model endpoints cannot be tested — Test connection", () => {
  it("Test connection lists the endpoint's models and the latency, with the stored key", async () => {
    const id = await addEndpoint("sk-right");
    const result = await (await callerFor(admin)).models.test({ id });
    expect(result).toMatchObject({ ok: true, models: ["scripted-llama"], totalModels: 1, modelListed: true });
    expect(result.latencyMs).toEqual(expect.any(Number));
    expect(result.latencyMs).toBeGreaterThanOrEqual(0);
  });

  it("an unreachable port gives a plain error that says what to check", async () => {
    const port = await closedPort();
    const id = await addEndpoint(undefined, `http://127.0.0.1:${port}/v1`);
    const result = await (await callerFor(admin)).models.test({ id });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problem).toBe("unreachable");
    expect(result.message).toContain(`Nothing is listening at http://127.0.0.1:${port}/v1/models`);
    expect(result.message).toMatch(/model server is running/);
  });

  it("a wrong key gives the 401 with advice to replace the key, and never echoes the key", async () => {
    const id = await addEndpoint("sk-wrong-key-123");
    const result = await (await callerFor(admin)).models.test({ id });
    expect(result).toMatchObject({ ok: false, problem: "unauthorized", status: 401 });
    if (result.ok) return;
    expect(result.message).toMatch(/refused the API key \(HTTP 401: Incorrect API key provided\.\)/);
    expect(result.message).toMatch(/replace it in Edit/);
    expect(JSON.stringify(result)).not.toContain("sk-wrong-key-123");
  });

  it("a server that is not OpenAI-compatible is named as such (a 404 suggests the /v1 base)", async () => {
    const id = await addEndpoint("sk-right", server.baseUrl.replace(/\/v1$/, ""));
    const result = await (await callerFor(admin)).models.test({ id });
    expect(result).toMatchObject({ ok: false, problem: "not_openai", status: 404 });
    if (result.ok) return;
    expect(result.message).toMatch(/end in \/v1/);
  });

  it("a server that never answers times out with what to check; a redirect is not followed with the key", async () => {
    const sockets = new Set<Socket>();
    const silent = http.createServer((req, res) => {
      if (req.url?.startsWith("/moved")) {
        res.writeHead(302, { location: "http://192.0.2.1/v1/models" }).end();
        return;
      }
      // Never answers: the test's timeout must end the wait.
    });
    silent.on("connection", (s) => sockets.add(s));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const port = (silent.address() as { port: number }).port;
    try {
      const slow = await testModelConnection({ baseUrl: `http://127.0.0.1:${port}/v1`, model: "m", apiKey: "sk-x" }, { timeoutMs: 300 });
      expect(slow).toMatchObject({ ok: false, problem: "timeout", latencyMs: null });
      if (!slow.ok) expect(slow.message).toMatch(/did not answer within 0\.3 s\. Check that the model server is running/);

      const moved = await testModelConnection({ baseUrl: `http://127.0.0.1:${port}/moved`, model: "m", apiKey: "sk-x" });
      expect(moved).toMatchObject({ ok: false, problem: "http", status: 302 });
      if (!moved.ok) expect(moved.message).toMatch(/redirects to http:\/\/192\.0\.2\.1\/v1\/models; Airlock does not follow redirects/);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it("unsaved edits can be tested before saving: a new key against the stored address", async () => {
    const id = await addEndpoint("sk-wrong");
    const result = await (await callerFor(admin)).models.test({ id, apiKey: "sk-right" });
    expect(result.ok).toBe(true);
  });
});

describe("issue 16: model endpoints cannot be edited — models.update", () => {
  it("edits name, base URL and model; the key is kept unless replaced; each edit is audited without the key", async () => {
    const id = await addEndpoint("sk-right");
    const caller = await callerFor(admin);
    const edited = await caller.models.update({ id, name: "renamed", baseUrl: `${server.baseUrl}/`, model: "other-model" });
    expect(edited).toMatchObject({ name: "renamed", baseUrl: server.baseUrl, model: "other-model", hasApiKey: true });
    const row = t.db.select().from(models).where(eq(models.id, id)).get()!;
    expect(decryptSecret(row.apiKeyEnc!)).toBe("sk-right");

    await caller.models.update({ id, apiKey: "sk-new" });
    expect(decryptSecret(t.db.select().from(models).where(eq(models.id, id)).get()!.apiKeyEnc!)).toBe("sk-new");
    expect((await caller.models.update({ id, clearApiKey: true })).hasApiKey).toBe(false);

    const updates = auditOf(id).filter((e) => e.action === "model.update");
    expect(updates).toHaveLength(3);
    expect(JSON.parse(updates[0]!.details).changes).toMatchObject({ name: { to: "renamed" }, model: { from: "scripted-llama", to: "other-model" } });
    expect(updates.map((e) => JSON.parse(e.details).changes.apiKey)).toEqual([undefined, "replaced", "removed"]);
    expect(updates.map((e) => e.details).join()).not.toContain("sk-new");
  });

  it("a bad base URL is refused with what to type", async () => {
    const id = await addEndpoint(undefined);
    await expect((await callerFor(admin)).models.update({ id, baseUrl: "ftp://example.test" })).rejects.toThrow(/http\(s\) URL such as/);
  });
});

describe("issue 16: model endpoints cannot be deleted — delete, or retire when runs used it", () => {
  it("an endpoint no run used is deleted; one a run used is retired, and the run keeps its history and the endpoint's name", async () => {
    const caller = await callerFor(admin);
    const unused = await addEndpoint(undefined);
    expect(await caller.models.delete({ id: unused })).toEqual({ outcome: "deleted", runCount: 0 });
    expect(t.db.select().from(models).where(eq(models.id, unused)).get()).toBeUndefined();
    expect(auditOf(unused).map((e) => e.action)).toEqual(["model.create", "model.delete"]);

    const used = await addEndpoint(undefined);
    await caller.models.update({ id: used, name: "kept for history" });
    const run = createRun(t.db, { ...actorOf(operator), userId: operator.id }, { title: "uses it", task: "x", modelId: used });
    expect(await caller.models.delete({ id: used })).toEqual({ outcome: "retired", runCount: 1 });
    expect(auditOf(used).at(-1)!.action).toBe("model.retire");

    const view = getRunView(t.db, run.id);
    expect(view.modelId).toBe(used);
    expect(view.modelName).toBe("kept for history");
    const listed = (await caller.models.list()).items.find((m) => m.id === used)!;
    expect(listed).toMatchObject({ retired: true, runCount: 1 });
    expect(listed.lastUsedAt).not.toBeNull();

    // A new run cannot choose it.
    expect(() => createRun(t.db, { ...actorOf(operator), userId: operator.id }, { title: "again", task: "x", modelId: used })).toThrow(
      /kept for history is retired; choose another one/,
    );
  });

  it("the last endpoint a user ran with is remembered per user, and forgotten once retired", async () => {
    const first = await addEndpoint(undefined);
    const second = await addEndpoint(undefined);
    const other = await addUser(t.db, "operator");
    createRun(t.db, { ...actorOf(other), userId: other.id }, { title: "a", task: "x", modelId: first });
    await new Promise((r) => setTimeout(r, 5));
    createRun(t.db, { ...actorOf(other), userId: other.id }, { title: "b", task: "x", modelId: second });
    expect((await (await callerFor(other)).models.list()).lastUsedId).toBe(second);
    // Someone else's runs do not count.
    const fresh = await addUser(t.db, "operator");
    expect((await (await callerFor(fresh)).models.list()).lastUsedId).toBeNull();

    await (await callerFor(admin)).models.delete({ id: second });
    expect((await (await callerFor(other)).models.list()).lastUsedId).toBe(first);
  });
});

describe("issue 16: only admins manage endpoints (server-side)", () => {
  it.each([
    ["operator", () => operator],
    ["viewer", () => viewer],
  ] as const)("a %s is refused test, update and delete, and nothing changes", async (_role, who) => {
    const id = await addEndpoint("sk-right");
    const caller = await callerFor(who());
    await expect(caller.models.test({ id })).rejects.toThrow(/admin/);
    await expect(caller.models.update({ id, name: "hijacked" })).rejects.toThrow(/admin/);
    await expect(caller.models.delete({ id })).rejects.toThrow(/admin/);
    expect(t.db.select().from(models).where(eq(models.id, id)).get()!.name).not.toBe("hijacked");
    // Reading stays open to every role, and never shows a key.
    const listed = await caller.models.list();
    expect(listed.items.some((m) => m.id === id)).toBe(true);
    expect(JSON.stringify(listed)).not.toMatch(/sk-right|apiKeyEnc/);
  });
});

describe("issue 16: the New run form has no workspace source — the git source is checked on the server", () => {
  it("a git repository outside the allowed roots is refused with an error naming the roots", async () => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-roots-"));
    const allowed = path.join(base, "allowed");
    const outside = path.join(base, "outside");
    fs.mkdirSync(allowed);
    execFileSync("git", ["init", "-q", outside]);
    overrideWorkspaceSettings({ repoRoots: [allowed] });
    try {
      await expect(resolveWorkspaceSource(t.db, operator.id, t.dir, { type: "git", path: outside })).rejects.toThrow(
        `${outside} is not under an allowed repository root (${allowed})`,
      );
      // The form shows the roots before anyone types a path.
      expect(await (await callerFor(operator)).runs.sourceRoots()).toEqual({ repoRoots: [allowed] });
    } finally {
      overrideWorkspaceSettings(null);
      fs.rmSync(base, { recursive: true, force: true });
    }
  });
});
