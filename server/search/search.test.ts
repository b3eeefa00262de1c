// search.query over the FTS5 indexes of the search_fts migration, on a real
// SQLite file: the triggers keep the index in step with every write, hostile
// query text is never an FTS5 error and never widens the filters, and the
// procedure answers only to whoever may list runs and the audit trail.
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrateDatabase, openDatabase } from "@/db/client";
import { runEvents, runs, toolCalls } from "@/db/schema";
import { MARK_END, MARK_START, snippetParts } from "@/lib/search-marks";
import { appRouter } from "@/server/api/root";
import { createCallerFactory } from "@/server/api/trpc";
import { recordAudit } from "@/server/audit/chain";
import { publishRunEvent } from "@/server/events/bus";
import { createModel } from "@/server/models/models";
import { createProject } from "@/server/projects/projects";
import { createRun } from "@/server/runs/runs";
import { ftsMatchExpression } from "@/server/search/fts-query";
import { searchAll, type SearchQueryInput } from "@/server/search/search";
import type { PublicUser } from "@/server/users/users";
import { createTestDb, type TestDb } from "@/test/helpers/db";
import { databaseAtVersion, fillRepresentativeRows, SHIPPED_VERSIONS } from "@/test/helpers/schema-versions";
import { actorOf, addUser, identityOfToken, issueToken } from "@/test/helpers/users";

let t: TestDb;
let admin: PublicUser;
let viewer: PublicUser;
let modelId: string;

beforeAll(async () => {
  t = createTestDb();
  admin = await addUser(t.db, "admin");
  viewer = await addUser(t.db, "viewer");
  modelId = createModel(t.db, actorOf(admin), { name: "m", baseUrl: "http://127.0.0.1:9/v1", model: "m" }).id;
});
afterAll(() => t?.close());

function newRun(title = "a run", projectId?: string) {
  return createRun(t.db, { ...actorOf(admin), userId: admin.id }, { title, task: "x", modelId, projectId });
}

const token = () => `tok${crypto.randomBytes(6).toString("hex")}`;

async function callerFor(user: PublicUser | null) {
  const identity = user ? await identityOfToken(t.db, issueToken(t.db, user.id).token) : null;
  return createCallerFactory(appRouter)({ db: t.db, identity, sourceIp: "192.0.2.7" });
}

/** FTS5's own check that the index matches its content (the view over the source table). */
function indexIntact(table: "search_run_events" | "search_audit"): void {
  t.db.$client.prepare(`INSERT INTO ${table}(${table}) VALUES ('integrity-check')`).run();
}

describe("the index follows the source tables (triggers)", () => {
  it("an inserted event is found, an updated one only by its new text, a deleted one not at all", () => {
    const run = newRun();
    const [before, after] = [token(), token()];
    const event = publishRunEvent(t.db, run.id, "note", { text: `the agent saw ${before}` });
    expect(searchAll(t.db, { q: before }).items.map((h) => h.href)).toEqual([`/runs/${run.id}#event-${event.id}`]);

    t.db
      .update(runEvents)
      .set({ payload: { text: `now it says ${after}` } })
      .where(eq(runEvents.id, event.id))
      .run();
    expect(searchAll(t.db, { q: before }).items).toEqual([]);
    expect(searchAll(t.db, { q: after }).items).toHaveLength(1);

    t.db.delete(runEvents).where(eq(runEvents.id, event.id)).run();
    expect(searchAll(t.db, { q: after }).items).toEqual([]);
    indexIntact("search_run_events");
  });

  it("deleting a run takes its events out of the index (foreign-key cascade)", () => {
    const run = newRun();
    const word = token();
    publishRunEvent(t.db, run.id, "output", { toolCallId: null, stream: "stdout", text: `${word}\n` });
    expect(searchAll(t.db, { q: word }).items).toHaveLength(1);
    t.db.delete(runs).where(eq(runs.id, run.id)).run();
    expect(searchAll(t.db, { q: word }).items).toEqual([]);
    indexIntact("search_run_events");
  });

  it("a write that rolls back leaves nothing in the index", () => {
    const run = newRun();
    const word = token();
    expect(() =>
      t.db.transaction((tx) => {
        tx.insert(runEvents)
          .values({ runId: run.id, type: "note", payload: { text: word }, at: new Date() })
          .run();
        throw new Error("abandoned");
      }),
    ).toThrow("abandoned");
    expect(searchAll(t.db, { q: word }).items).toEqual([]);
  });

  it("audit entries are indexed as they are appended, with the run they are about", () => {
    const run = newRun("audited run");
    const word = token();
    recordAudit(t.db, actorOf(admin), { action: "run.note", targetType: "run", targetId: run.id, details: { reason: `because ${word}` } });
    const [hit] = searchAll(t.db, { q: word }).items;
    expect(hit).toMatchObject({ kind: "audit", runId: run.id, href: `/runs/${run.id}` });
    expect(searchAll(t.db, { q: word, kinds: ["event"] }).items).toEqual([]);
    indexIntact("search_audit");
  });

  it("rows written before the index existed are found after the upgrade (backfill)", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-search-upgrade-"));
    try {
      const file = path.join(dir, "airlock.db");
      const beforeFts = SHIPPED_VERSIONS.find((v) => v.tag.endsWith("_search_fts"))!.k - 1;
      databaseAtVersion(file, beforeFts);
      fillRepresentativeRows(file, crypto.randomBytes(32));
      const db = openDatabase(file);
      try {
        migrateDatabase(db);
        // run-done's state event ({from: running, to: succeeded}); the audit rows' details.
        expect(searchAll(db, { q: "succeeded", kinds: ["event"] }).items).toMatchObject([{ kind: "event", runId: "run-done" }]);
        expect(searchAll(db, { q: "written by an older", kinds: ["audit"] }).items.length).toBeGreaterThan(0);
      } finally {
        db.$client.close();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("every search trigger is in place (a later table rebuild that dropped one would fail here)", () => {
    const triggers = t.db.$client.prepare("select name from sqlite_master where type = 'trigger' and name like 'search_%' order by name").pluck().all();
    expect(triggers).toEqual([
      "search_audit_ai",
      "search_audit_au",
      "search_audit_bd",
      "search_audit_bu",
      "search_doc_passages_ad",
      "search_doc_passages_ai",
      "search_doc_passages_au",
      "search_run_events_ai",
      "search_run_events_au",
      "search_run_events_bd",
      "search_run_events_bu",
    ]);
  });
});

describe("hits: kinds, snippets and links", () => {
  it("command output links to its tool call's card; a checkpoint's changed paths are file hits", () => {
    const run = newRun();
    const word = token();
    const call = publishRunEvent(t.db, run.id, "tool_call", { toolCallId: "tc-x", seq: 1, tool: "run_command", args: { command: "make" } });
    publishRunEvent(t.db, run.id, "output", { toolCallId: "tc-x", stream: "stdout", text: `built ${word}\n` });
    publishRunEvent(t.db, run.id, "checkpoint", { checkpointId: "c1", seq: 2, label: "after write_file", files: [`src/${word}/main.ts`] });
    const hits = searchAll(t.db, { q: word, runId: run.id }).items;
    expect(hits.map((h) => h.kind).sort()).toEqual(["file", "output"]);
    expect(hits.find((h) => h.kind === "output")!.href).toBe(`/runs/${run.id}#event-${call.id}`);
    expect(searchAll(t.db, { q: `src/${word}/main.ts`, kinds: ["file"] }).items).toMatchObject([{ href: `/runs/${run.id}/checkpoints#checkpoint-2` }]);
  });

  it("the snippet marks the match with delimiters and carries markup as text", () => {
    const run = newRun();
    const word = token();
    publishRunEvent(t.db, run.id, "note", { text: `<img src=x onerror=alert(1)> ${word} </mark>` });
    const [hit] = searchAll(t.db, { q: word }).items;
    expect(hit!.snippet).toContain(`${MARK_START}${word}${MARK_END}`);
    expect(snippetParts(hit!.snippet)).toContainEqual({ text: word, marked: true });
    // The markup is plain text in an unmarked part, which the page renders as text.
    expect(snippetParts(hit!.snippet).find((p) => p.text.includes("<img"))?.marked).toBe(false);
  });

  it("filters by project, tool and time", () => {
    const project = createProject(t.db, actorOf(admin), { slug: `p-${token()}`, name: "Searchable" });
    const inProject = newRun("in project", project.id);
    const elsewhere = newRun("elsewhere");
    const word = token();
    publishRunEvent(t.db, inProject.id, "tool_call", { toolCallId: "a", seq: 1, tool: "write_file", args: { path: `${word}.txt` } });
    publishRunEvent(t.db, elsewhere.id, "tool_call", { toolCallId: "b", seq: 1, tool: "run_command", args: { command: `cat ${word}.txt` } });
    expect(searchAll(t.db, { q: word, projectId: project.id }).items.map((h) => h.runId)).toEqual([inProject.id]);
    expect(searchAll(t.db, { q: word, projectId: "default" }).items.map((h) => h.runId)).toEqual([elsewhere.id]);
    expect(searchAll(t.db, { q: word, tool: "run_command" }).items.map((h) => h.runId)).toEqual([elsewhere.id]);
    expect(searchAll(t.db, { q: word, before: new Date(Date.now() - 60_000) }).items).toEqual([]);
    expect(searchAll(t.db, { q: word, after: new Date(Date.now() - 60_000) }).items).toHaveLength(2);
  });

  it("audit hits follow the project, run and tool filters too", () => {
    const project = createProject(t.db, actorOf(admin), { slug: `a-${token()}`, name: "Audited" });
    const inProject = newRun("audited in project", project.id);
    const elsewhere = newRun("audited elsewhere");
    const word = token();
    t.db
      .insert(toolCalls)
      .values({ id: `tc-${word}`, runId: inProject.id, seq: 1, tool: "http_fetch", args: {}, state: "succeeded" })
      .run();
    recordAudit(t.db, actorOf(admin), { action: "tool.result", targetType: "tool_call", targetId: `tc-${word}`, details: { runId: inProject.id, note: word } });
    recordAudit(t.db, actorOf(admin), { action: "run.note", targetType: "run", targetId: elsewhere.id, details: { note: word } });
    const audit = (f: Partial<SearchQueryInput>) => searchAll(t.db, { q: word, kinds: ["audit"], ...f }).items.map((h) => h.runId);
    expect(audit({}).sort()).toEqual([inProject.id, elsewhere.id].sort());
    expect(audit({ projectId: project.id })).toEqual([inProject.id]);
    expect(audit({ runId: elsewhere.id })).toEqual([elsewhere.id]);
    expect(audit({ tool: "http_fetch" })).toEqual([inProject.id]);
  });

  it("the last word matches as a prefix (search as you type); the others are whole words", () => {
    const run = newRun();
    const word = token();
    publishRunEvent(t.db, run.id, "note", { text: `deploying ${word}` });
    expect(searchAll(t.db, { q: `deploying ${word.slice(0, 6)}` }).items).toHaveLength(1);
    expect(searchAll(t.db, { q: `${word.slice(0, 6)} deploying` }).items).toEqual([]);
  });
});

describe("hostile queries", () => {
  const HOSTILE = [
    '"',
    '"unbalanced',
    'a"b',
    "NEAR(a b",
    "NEAR/3",
    "*",
    "a*b*",
    "(((",
    "a) OR (b",
    "body:secret",
    "run_id: x",
    "{body run_id}: x",
    "- x",
    "^start",
    "AND",
    "x OR",
    "NOT",
    "'; DROP TABLE runs; --",
    "\\",
    "%_%",
    "\u0000\u0002\u0003",
    "é ü 漢字",
    "a ".repeat(200),
  ];

  it("never make an FTS5 error", () => {
    newRun();
    for (const q of HOSTILE) expect(() => searchAll(t.db, { q }), q).not.toThrow();
    expect(ftsMatchExpression("(((")).toBeNull();
    expect(ftsMatchExpression('say "hi" NEAR(x')).toBe('"say" """hi""" "NEAR(x"*');
  });

  it("never find anything outside the run filter, whatever the query says", () => {
    const mine = newRun("mine");
    const other = newRun("other");
    const word = token();
    publishRunEvent(t.db, mine.id, "note", { text: `${word} here` });
    publishRunEvent(t.db, other.id, "note", { text: `${word} there OR run_id` });
    for (const q of [word, `${word} OR there`, `${word} OR x`, `body:${word}`, `${word}) OR (there`, `{body}: ${word}`, `NOT ${word}`]) {
      const hits = searchAll(t.db, { q, runId: mine.id }).items;
      expect(
        hits.every((h) => h.runId === mine.id),
        q,
      ).toBe(true);
    }
    // Operators are words, not operators: "OR there" must be in the text too.
    expect(searchAll(t.db, { q: `${word} OR there` }).items.map((h) => h.runId)).toEqual([other.id]);
  });

  it("bad input is a clear error, not a crash", async () => {
    const caller = await callerFor(viewer);
    await expect(caller.search.query({ q: "   " })).rejects.toThrow(/Type something to search for/);
    await expect(caller.search.query({ q: "x", limit: 1000 })).rejects.toThrow();
  });
});

describe("who may search", () => {
  it("a viewer finds runs and audit entries, like runs.list and audit.list show them", async () => {
    const run = newRun();
    const word = token();
    publishRunEvent(t.db, run.id, "note", { text: word });
    recordAudit(t.db, actorOf(admin), { action: "run.note", targetType: "run", targetId: run.id, details: { text: word } });
    const caller = await callerFor(viewer);
    const { items } = await caller.search.query({ q: word });
    expect(items.map((h) => h.kind).sort()).toEqual(["audit", "event"]);
  });

  it("someone who is not signed in finds nothing: the call is refused", async () => {
    const caller = await callerFor(null);
    await expect(caller.search.query({ q: "anything" })).rejects.toMatchObject({ code: "UNAUTHORIZED" });
  });
});
