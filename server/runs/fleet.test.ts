// Issue 16, the fleet view's server side: runs.list filters, search and
// sorts; runs.changes; runs.rerun (same settings, or a clear refusal when
// the source is gone); who may do what. Real SQLite, real git, no Docker.
import crypto from "node:crypto";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { approvals, runs, toolCalls, uploads, workspaces } from "@/db/schema";
import { createCallerFactory } from "@/server/api/trpc";
import { appRouter } from "@/server/api/root";
import { createModel } from "@/server/models/models";
import { createProject } from "@/server/projects/projects";
import { holdFleetPlace, MAX_FLEET_STREAMS_PER_USER, streamRunChanges, type FleetEvent } from "@/server/runs/changes";
import { rerunRun } from "@/server/runs/rerun";
import { compareRuns } from "@/server/runs/compare";
import { checkpointWorkspace } from "@/server/workspace/checkpoints";
import { createRun, getRunView, listRunViews, listRunsInput } from "@/server/runs/runs";
import { transitionRun } from "@/server/runs/state-machine";
import { emitSignal } from "@/server/events/bus";
import { uploadPath } from "@/server/workspace/uploads";
import { overrideWorkspaceSettings } from "@/server/workspace/settings";
import type { PublicUser } from "@/server/users/users";
import { createTestDb, type TestDb } from "@/test/helpers/db";
import { actorOf, addUser, identityOfToken, issueToken } from "@/test/helpers/users";

const createCaller = createCallerFactory(appRouter);

let t: TestDb;
let admin: PublicUser;
let alice: PublicUser;
let bob: PublicUser;
let viewer: PublicUser;
let modelA: string;
let modelB: string;
let projectId: string;
let dataDir: string;
const ids: Record<string, string> = {};

const as = (u: PublicUser) => ({ ...actorOf(u), userId: u.id });
const list = (input: Parameters<typeof listRunsInput.parse>[0]) => listRunViews(t.db, listRunsInput.parse(input));
const titles = (r: { items: { title: string }[] }) => r.items.map((i) => i.title);

function setTimes(id: string, created: number, started: number | null, ended: number | null) {
  t.db
    .update(runs)
    .set({ createdAt: new Date(created), startedAt: started === null ? null : new Date(started), endedAt: ended === null ? null : new Date(ended) })
    .where(eq(runs.id, id))
    .run();
}

function pendingRequest(runId: string) {
  t.db
    .insert(approvals)
    .values({
      id: crypto.randomUUID(),
      runId,
      kind: "tool",
      tool: "run_command",
      args: {},
      verdict: "ask",
      reason: "asks",
      state: "pending",
      requestedBy: admin.id,
      expiresAt: new Date(Date.now() + 60_000),
    })
    .run();
}

beforeAll(async () => {
  t = createTestDb();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-fleet-"));
  admin = await addUser(t.db, "admin");
  alice = await addUser(t.db, "operator", { email: `alice-${crypto.randomUUID()}@example.test` });
  bob = await addUser(t.db, "operator", { email: `bob-${crypto.randomUUID()}@example.test` });
  viewer = await addUser(t.db, "viewer");
  modelA = createModel(t.db, actorOf(admin), { name: "model a", baseUrl: "http://127.0.0.1:9/v1", model: "a" }).id;
  modelB = createModel(t.db, actorOf(admin), { name: "model b", baseUrl: "http://127.0.0.1:9/v1", model: "b" }).id;
  projectId = createProject(t.db, actorOf(admin), { slug: "payments", name: "Payments" }).id;
  const base = Date.parse("2026-01-01T00:00:00Z");
  // Five runs with known creators, models, projects, states and times.
  const mk = (key: string, user: PublicUser, opts: { title: string; task: string; modelId: string; projectId?: string }) => {
    ids[key] = createRun(t.db, as(user), opts).id;
  };
  mk("old", alice, { title: "Fix the login form", task: "The form loses focus", modelId: modelA });
  mk("waiting", bob, { title: "Upgrade lodash", task: "Bump 100% of the deps", modelId: modelB, projectId });
  mk("running", alice, { title: "Write docs", task: "Explain the queue", modelId: modelA, projectId });
  mk("queued1", bob, { title: "Queued first", task: "later", modelId: modelA });
  mk("queued2", alice, { title: "Queued second", task: "later", modelId: modelB });
  setTimes(ids.old!, base, base + 1000, base + 10 * 60_000); // 10 min, finished
  setTimes(ids.waiting!, base + 60_000, base + 61_000, null); // live since 2026
  setTimes(ids.running!, base + 120_000, Date.now() - 5_000, null); // live for 5 s
  setTimes(ids.queued1!, base + 180_000, null, null);
  setTimes(ids.queued2!, base + 240_000, null, null);
  for (const s of ["starting", "running", "succeeded"] as const) transitionRun(t.db, ids.old!, s, actorOf(admin));
  for (const s of ["starting", "running", "awaiting_approval"] as const) transitionRun(t.db, ids.waiting!, s, actorOf(admin));
  for (const s of ["starting", "running"] as const) transitionRun(t.db, ids.running!, s, actorOf(admin));
  // transitions stamp times; put the known ones back.
  setTimes(ids.old!, base, base + 1000, base + 10 * 60_000);
  setTimes(ids.waiting!, base + 60_000, base + 61_000, null);
  setTimes(ids.running!, base + 120_000, Date.now() - 5_000, null);
  pendingRequest(ids.waiting!);
  pendingRequest(ids.waiting!);
  pendingRequest(ids.running!);
}, 120_000);

afterAll(() => {
  overrideWorkspaceSettings(null);
  t?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe("runs.list for the fleet view", () => {
  it("F1: filters by state, by active, by project, by operator and by model, and every filter narrows the others", () => {
    expect(titles(list({ states: ["queued"] })).sort()).toEqual(["Queued first", "Queued second"]);
    expect(titles(list({ active: true })).sort()).toEqual(["Queued first", "Queued second", "Upgrade lodash", "Write docs"]);
    expect(titles(list({ projectId })).sort()).toEqual(["Upgrade lodash", "Write docs"]);
    expect(titles(list({ projectId: "default" })).sort()).toEqual(["Fix the login form", "Queued first", "Queued second"]);
    expect(titles(list({ createdBy: alice.id })).sort()).toEqual(["Fix the login form", "Queued second", "Write docs"]);
    expect(titles(list({ modelId: modelB })).sort()).toEqual(["Queued second", "Upgrade lodash"]);
    expect(titles(list({ createdBy: alice.id, modelId: modelA, active: true }))).toEqual(["Write docs"]);
    // The old single-state filter still works as before.
    expect(titles(list({ state: "succeeded" }))).toEqual(["Fix the login form"]);
  });

  it("F2: the text search finds words in the title, the task or the id, case-insensitively, and takes % literally", () => {
    expect(titles(list({ q: "LOGIN" }))).toEqual(["Fix the login form"]);
    expect(titles(list({ q: "queue explain" }))).toEqual(["Write docs"]);
    expect(titles(list({ q: ids.waiting!.slice(0, 8) }))).toEqual(["Upgrade lodash"]);
    expect(titles(list({ q: "100%" }))).toEqual(["Upgrade lodash"]);
    expect(titles(list({ q: "%" }))).toEqual(["Upgrade lodash"]);
    expect(list({ q: "nothing-matches-this" }).items).toEqual([]);
  });

  it("F3: sorts newest, oldest, longest running and most pending, and pages through each with its cursor", () => {
    expect(titles(list({}))).toEqual(["Queued second", "Queued first", "Write docs", "Upgrade lodash", "Fix the login form"]);
    expect(titles(list({ sort: "oldest" }))).toEqual(["Fix the login form", "Upgrade lodash", "Write docs", "Queued first", "Queued second"]);
    // "Upgrade lodash" has been running since 2026-01-01; the finished run took 10 minutes; queued runs have not started.
    expect(titles(list({ sort: "longest" })).slice(0, 3)).toEqual(["Upgrade lodash", "Fix the login form", "Write docs"]);
    expect(titles(list({ sort: "pending" })).slice(0, 2)).toEqual(["Upgrade lodash", "Write docs"]);
    const first = list({ sort: "oldest", limit: 2 });
    expect(titles(first)).toEqual(["Fix the login form", "Upgrade lodash"]);
    const second = list({ sort: "oldest", limit: 2, cursor: first.nextCursor });
    expect(titles(second)).toEqual(["Write docs", "Queued first"]);
    const third = list({ sort: "oldest", limit: 2, cursor: second.nextCursor });
    expect(titles(third)).toEqual(["Queued second"]);
    expect(third.nextCursor).toBeUndefined();
    expect(() => list({ sort: "oldest", cursor: "12345" })).toThrow(/cursor is not one this API returned/);
  });

  it("F4: the Active view puts runs waiting for a decision first (most pending first), then working runs, then queued runs by their place", () => {
    const active = list({ active: true, sort: "attention" });
    // "Write docs" runs but has one pending request: it waits for a decision too, after the run with two.
    expect(titles(active)).toEqual(["Upgrade lodash", "Write docs", "Queued first", "Queued second"]);
    expect(active.items.map((r) => r.queuePosition)).toEqual([null, null, 1, 2]);
    expect(active.items[0]).toMatchObject({ pendingApprovals: 2, state: "awaiting_approval" });
  });

  it("F5: a viewer sees every operator's runs with the same filters; an anonymous caller is refused", async () => {
    const asViewer = createCaller({ db: t.db, identity: await identityOfToken(t.db, issueToken(t.db, viewer.id).token), sourceIp: "127.0.0.1" });
    const out = await asViewer.runs.list({ active: true, sort: "attention" });
    expect(out.items.map((r) => r.createdByEmail).sort()).toEqual([alice.email, alice.email, bob.email, bob.email].sort());
    expect((await asViewer.runs.list({ createdBy: bob.id, q: "lodash" })).items.map((r) => r.id)).toEqual([ids.waiting]);
    // The operator filter's choices: everyone who started a run, and nobody else.
    expect((await asViewer.runs.operators()).items.map((o) => o.email)).toEqual([alice.email, bob.email].sort());
    const anonymous = createCaller({ db: t.db, identity: null, sourceIp: "127.0.0.1" });
    await expect(anonymous.runs.list({})).rejects.toMatchObject({ code: "UNAUTHORIZED" });
    await expect(asViewer.runs.rerun({ id: ids.old! })).rejects.toMatchObject({ code: "FORBIDDEN" });
  });
});

describe("runs.changes", () => {
  it("F6: a state change reaches the stream at once, with the run's pending count and every queued run's new place", async () => {
    const abort = new AbortController();
    const stream = streamRunChanges(t.db, abort.signal);
    try {
      expect((await stream.next()).value).toEqual({ type: "ready" });
      const started = Date.now();
      transitionRun(t.db, ids.queued1!, "starting", actorOf(admin));
      const next = (await stream.next()).value as FleetEvent;
      expect(Date.now() - started).toBeLessThan(1000);
      expect(next.type).toBe("runs");
      const items = next.type === "runs" ? next.items : [];
      expect(items.find((i) => i.id === ids.queued1)).toMatchObject({ state: "starting", queuePosition: null });
      // The run behind it moves up to first place.
      expect(items.find((i) => i.id === ids.queued2)).toMatchObject({ state: "queued", queuePosition: 1 });
      // An approval change updates that run's pending count.
      pendingRequest(ids.queued1!);
      emitSignal("approvals:changed", { id: "x", runId: ids.queued1, state: "pending" });
      const after = (await stream.next()).value as FleetEvent;
      expect(after).toMatchObject({ type: "runs", items: [{ id: ids.queued1, pendingApprovals: 1 }] });
    } finally {
      abort.abort();
      await stream.return(undefined);
    }
  });

  it(`F7: one user may hold at most ${MAX_FLEET_STREAMS_PER_USER} live runs lists; past that runs.changes is refused with what to do`, async () => {
    const held = Array.from({ length: MAX_FLEET_STREAMS_PER_USER }, () => holdFleetPlace(viewer.id));
    try {
      expect(held.every(Boolean)).toBe(true);
      const asViewer = createCaller({ db: t.db, identity: await identityOfToken(t.db, issueToken(t.db, viewer.id).token), sourceIp: "127.0.0.1" });
      const refused = async () => {
        for await (const _ of await asViewer.runs.changes()) return null;
      };
      await expect(refused()).rejects.toMatchObject({ code: "TOO_MANY_REQUESTS", message: expect.stringMatching(/Close the runs page in another tab/) });
      // Another user is not affected by this one's streams.
      expect(holdFleetPlace(alice.id)).not.toBeNull();
    } finally {
      for (const release of held) release?.();
    }
  });
});

describe("runs.rerun", () => {
  let repo: string;

  beforeAll(() => {
    repo = path.join(dataDir, "repos", "app");
    fs.mkdirSync(repo, { recursive: true });
    const git = (...args: string[]) =>
      execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.test", ...args], { cwd: repo })
        .toString()
        .trim();
    git("init", "-q", "-b", "main");
    fs.writeFileSync(path.join(repo, "README"), "hello\n");
    git("add", ".");
    git("commit", "-qm", "first");
    overrideWorkspaceSettings({ repoRoots: [path.join(dataDir, "repos")] });
  });

  it("F8: a re-run gets the same task, settings, model, project and pinned source, records which run it re-ran, and is owned by who asked", async () => {
    const commit = execFileSync("git", ["rev-parse", "HEAD"], { cwd: repo }).toString().trim();
    const original = createRun(
      t.db,
      as(alice),
      {
        title: "Refactor",
        task: "Split the module",
        modelId: modelB,
        projectId,
        stepMode: true,
        testCommand: "npm test",
        limits: { memoryMb: 512, pids: 64 },
        autoRollback: "on_failure",
      },
      { source: { type: "git", path: repo, commit, branch: "main" } },
    );
    // The branch moves on; the re-run still starts from the commit the original did.
    fs.writeFileSync(path.join(repo, "README"), "changed\n");
    execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.test", "commit", "-qam", "second"], { cwd: repo });
    const { run } = await rerunRun(t.db, as(bob), dataDir, original.id);
    expect(run).toMatchObject({
      title: "Refactor",
      task: "Split the module",
      modelId: modelB,
      projectId,
      stepMode: true,
      testCommand: "npm test",
      limits: original.limits,
      autoRollback: "on_failure",
      createdBy: bob.id,
      state: "queued",
    });
    const ws = t.db.select().from(workspaces).where(eq(workspaces.runId, run.id)).get();
    expect(ws?.source).toMatchObject({ type: "git", path: fs.realpathSync(repo), commit });
    expect(getRunView(t.db, run.id).rerunOf).toBe(original.id);
    expect(getRunView(t.db, original.id).reruns).toEqual([run.id]);
    expect(list({ q: run.id }).items[0]?.rerunOf).toBe(original.id);
  });

  it("F9: a run whose source repository, commit or archive is gone cannot be re-run, and the refusal says what is missing", async () => {
    const gone = path.join(dataDir, "repos", "gone");
    fs.mkdirSync(gone);
    execFileSync("git", ["init", "-q"], { cwd: gone });
    const fromRepo = createRun(t.db, as(alice), { title: "r", task: "t", modelId: modelA }, { source: { type: "git", path: gone, commit: "0".repeat(40) } });
    await expect(rerunRun(t.db, as(alice), dataDir, fromRepo.id)).rejects.toMatchObject({
      code: "PRECONDITION_FAILED",
      message: expect.stringMatching(/commit 0{40} is no longer in .*Start a new run with another workspace source/),
    });
    fs.rmSync(gone, { recursive: true });
    await expect(rerunRun(t.db, as(alice), dataDir, fromRepo.id)).rejects.toMatchObject({
      code: "PRECONDITION_FAILED",
      message: expect.stringMatching(/its source repository is no longer usable \(No repository at/),
    });

    const uploadId = crypto.randomUUID();
    t.db
      .insert(uploads)
      .values({ id: uploadId, userId: alice.id, filename: "site.tar", format: "tar", sizeBytes: 10, fileCount: 1, expandedBytes: 10, sha256: "0".repeat(64) })
      .run();
    fs.mkdirSync(path.dirname(uploadPath(dataDir, uploadId)), { recursive: true });
    fs.writeFileSync(uploadPath(dataDir, uploadId), "not used here");
    const fromArchive = createRun(t.db, as(alice), { title: "a", task: "t", modelId: modelA, source: { type: "archive", uploadId } });
    // While the archive is on disk, a re-run (by another operator) starts from it again.
    const again = await rerunRun(t.db, as(bob), dataDir, fromArchive.id);
    expect(t.db.select().from(workspaces).where(eq(workspaces.runId, again.run.id)).get()?.source).toMatchObject({ type: "archive", uploadId });
    fs.rmSync(uploadPath(dataDir, uploadId));
    await expect(rerunRun(t.db, as(alice), dataDir, fromArchive.id)).rejects.toMatchObject({
      code: "PRECONDITION_FAILED",
      message: expect.stringMatching(/its uploaded archive site\.tar .* is no longer on the server/),
    });
  });

  it("F10: an operator who may not start runs in the run's project cannot re-run it there", async () => {
    const closed = createProject(t.db, actorOf(admin), { slug: "closed", name: "Closed" });
    const original = createRun(t.db, as(admin), { title: "c", task: "t", modelId: modelA, projectId: closed.id });
    const { addProjectMember } = await import("@/server/projects/projects");
    addProjectMember(t.db, actorOf(admin), { projectId: closed.id, email: admin.email });
    await expect(rerunRun(t.db, as(alice), dataDir, original.id)).rejects.toMatchObject({ code: "FORBIDDEN" });
  });
});

describe("runs.compare", () => {
  it("F11: two runs side by side: state, tokens, calls by verdict, each run's diff and the diff from A's final workspace to B's", async () => {
    const workRun = async (title: string, files: Record<string, string>, tokens: number) => {
      const run = createRun(t.db, as(alice), { title, task: "edit", modelId: modelA });
      const workspaceDir = path.join(dataDir, "workspaces", run.id);
      fs.mkdirSync(workspaceDir, { recursive: true });
      fs.writeFileSync(path.join(workspaceDir, "app.txt"), "line one\nline two\n");
      t.db.update(runs).set({ workspaceDir, tokensUsed: tokens }).where(eq(runs.id, run.id)).run();
      await checkpointWorkspace(t.db, run.id, { label: "start", kind: "start", force: true });
      for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(workspaceDir, name), content);
      await checkpointWorkspace(t.db, run.id, { label: "edit", kind: "tool" });
      return run;
    };
    const a = await workRun("compare a", { "app.txt": "line one\nline 2 from A\n" }, 1200);
    const b = await workRun("compare b", { "app.txt": "line one\nline 2 from B\n", "notes.md": "B only\n" }, 3400);
    const seq = { n: 0 };
    for (const [runId, verdict] of [
      [a.id, "allow"],
      [a.id, "ask"],
      [b.id, "deny"],
    ] as const)
      t.db.insert(toolCalls).values({ id: crypto.randomUUID(), runId, seq: ++seq.n, tool: "run_command", args: {}, verdict, state: "succeeded" }).run();

    const out = await compareRuns(t.db, a.id, b.id);
    expect(out.a.run.tokensUsed).toBe(1200);
    expect(out.b.run.tokensUsed).toBe(3400);
    expect(out.a.calls).toEqual({ allow: 1, ask: 1, deny: 0, none: 0 });
    expect(out.b.calls).toEqual({ allow: 0, ask: 0, deny: 1, none: 0 });
    expect(out.a.diff.diff).toContain("+line 2 from A");
    expect(out.a.diff.diff).not.toContain("notes.md");
    expect(out.between.diff).toContain("-line 2 from A");
    expect(out.between.diff).toContain("+line 2 from B");
    expect(out.between.diff).toContain("+++ b/notes.md");
    await expect(compareRuns(t.db, a.id, a.id)).rejects.toMatchObject({ code: "INVALID_INPUT" });
  });
});
