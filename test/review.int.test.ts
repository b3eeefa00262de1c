// Issue 16, part 1: reviewing a run like a pull request, against a real run
// (real container, real shadow git, real SQLite, the scripted model server).
// One live run serves the whole file: the agent writes two files, waits in a
// model turn while the test reviews, then changes one of them and finishes.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { auditEvents, reviewComments } from "@/db/schema";
import { type TestDb } from "@/test/helpers/db";
import { actorOf, addUser } from "@/test/helpers/users";
import { startScriptedModelServer, type ScriptedModelServer, type ScriptStep } from "@/test/helpers/model-server";
import { approveEverything, registerModel, setUpSupervisedWorld, startRun, stopSupervisor, waitFor, waitForState } from "@/test/helpers/runs";
import { listCheckpoints } from "@/server/workspace/checkpoints";
import {
  addReviewComment,
  deleteReviewComment,
  listReviewComments,
  markFileViewed,
  requestChanges,
  reviewFiles,
  updateReviewComment,
  type Reviewer,
} from "@/server/review/review";
import type { PublicUser } from "@/server/users/users";
import type { Supervisor } from "@/server/supervisor/supervisor";
import type { Run } from "@/db/schema";

let t: TestDb;
let supervisor: Supervisor;
let admin: PublicUser;
let operator: PublicUser;
let reviewer: PublicUser;
let viewer: PublicUser;
let otherOperator: PublicUser;
let server: ScriptedModelServer;
let run: Run;
let stopApproving: () => void;
let releaseTurn: () => void = () => undefined;
const turnReleased = new Promise<void>((resolve) => (releaseTurn = resolve));

const write = (path: string, content: string): ScriptStep => ({ type: "tool_calls", calls: [{ name: "write_file", arguments: { path, content } }] });
const as = (u: PublicUser): Reviewer => ({ ...actorOf(u), userId: u.id, role: u.role });

beforeAll(async () => {
  ({ t, supervisor, admin, operator, reviewer } = await setUpSupervisedWorld());
  viewer = await addUser(t.db, "viewer");
  otherOperator = await addUser(t.db, "operator");
  server = await startScriptedModelServer(async (_req, i) => {
    if (i === 0)
      return { type: "tool_calls", calls: [{ name: "submit_plan", arguments: { steps: [{ title: "write", risk: "low", risk_note: "two files" }] } }] };
    if (i === 1) return write("src/a.txt", "one\ntwo\nthree\n");
    if (i === 2) return write("b.txt", "bee\n");
    if (i === 3) {
      // The agent "thinks" until the test has reviewed; then it changes a.txt (not b.txt).
      await turnReleased;
      return write("src/a.txt", "one\nTWO\nthree\n");
    }
    return { type: "tool_calls", calls: [{ name: "finish", arguments: { summary: "done", status: "success" } }] };
  });
  run = startRun(t.db, supervisor, operator, registerModel(t.db, admin, server.baseUrl));
  stopApproving = approveEverything(t.db, run.id, reviewer);
  await waitFor("the agent's fourth model turn", () => server.requests.length >= 4);
}, 180_000);

afterAll(async () => {
  stopApproving?.();
  releaseTurn();
  await stopSupervisor(supervisor);
  await server?.close();
  t?.close();
});

describe("issue 16: review a run like a pull request", () => {
  let commentId: string;
  let commentCheckpoint: string;

  it("Files changed lists the run's cumulative diff per file with +/− counts", async () => {
    const review = await reviewFiles(t.db, run.id, reviewer.id);
    expect(review.files.map((f) => [f.path, f.status, f.additions, f.deletions])).toEqual([
      ["b.txt", "added", 1, 0],
      ["src/a.txt", "added", 3, 0],
    ]);
    expect(review.files.every((f) => !f.viewed && !f.changedSinceViewed)).toBe(true);
    expect(review.toCheckpointId).toBe(listCheckpoints(t.db, run.id).at(-1)!.id);
  });

  it("a viewer reads the review but cannot comment, and an operator cannot comment on someone else's run", async () => {
    const input = { runId: run.id, path: "src/a.txt", side: "new" as const, line: 2, body: "no" };
    expect(() => addReviewComment(t.db, as(viewer), input)).toThrow(/needs the operator role/);
    expect(() => addReviewComment(t.db, as(otherOperator), input)).toThrow(/only on their own runs/);
    expect(() => requestChanges(t.db, as(viewer), { runId: run.id })).toThrow(/needs the operator role/);
    expect((await reviewFiles(t.db, run.id, viewer.id)).files).toHaveLength(2);
  });

  it("a line comment is kept with the run and the checkpoint it was made on; only its author edits or deletes it", () => {
    const latest = listCheckpoints(t.db, run.id).at(-1)!;
    const c = addReviewComment(t.db, as(reviewer), { runId: run.id, path: "src/a.txt", side: "new", line: 2, body: "Spell two in capitals." });
    commentId = c.id;
    commentCheckpoint = c.checkpointId;
    expect(c.checkpointId).toBe(latest.id);
    // The run's operator may comment on their own run too; a draft of theirs is theirs alone to change.
    const own = addReviewComment(t.db, as(operator), { runId: run.id, path: "b.txt", side: "new", line: 1, body: "draft" });
    expect(() => updateReviewComment(t.db, as(reviewer), { id: own.id, body: "hijack" })).toThrow(/Only the comment's author/);
    expect(() => deleteReviewComment(t.db, as(reviewer), own.id)).toThrow(/Only the comment's author/);
    deleteReviewComment(t.db, as(operator), own.id);
    updateReviewComment(t.db, as(reviewer), { id: c.id, body: "Spell two in capitals, please." });
    expect(listReviewComments(t.db, run.id).map((x) => [x.path, x.line, x.side, x.body, x.authorEmail, x.sentAt])).toEqual([
      ["src/a.txt", 2, "new", "Spell two in capitals, please.", reviewer.email, null],
    ]);
  });

  it("Request changes delivers the comments to the live agent as its next input, marks them sent and audits it", async () => {
    const files = (await reviewFiles(t.db, run.id, reviewer.id)).files;
    for (const f of files) markFileViewed(t.db, run.id, reviewer.id, { path: f.path, diffHash: f.hash, viewed: true });

    const sent = requestChanges(t.db, as(reviewer), { runId: run.id });
    expect(sent).toMatchObject({ sent: 1, agent: "builtin" });
    const stored = listReviewComments(t.db, run.id)[0]!;
    expect(stored.sentAt).toBeInstanceOf(Date);
    expect(stored.sentByEmail).toBe(reviewer.email);
    expect(() => updateReviewComment(t.db, as(reviewer), { id: commentId, body: "later" })).toThrow(/already sent/);
    const audit = t.db.select().from(auditEvents).where(eq(auditEvents.action, "review.changes_requested")).all();
    expect(audit).toHaveLength(1);
    expect(audit[0]!.targetId).toBe(run.id);

    releaseTurn();
    // The model's next request carries the feedback: file:line and the comment's text, as a user message.
    await waitFor("the agent's turn after the feedback", () => server.requests.length >= 5, 90_000);
    const userMessages = server.requests[4]!.body.messages.filter((m) => m.role === "user").map((m) => String(m.content));
    const feedback = userMessages.find((m) => m.includes("requested changes"));
    expect(feedback).toContain("src/a.txt:2");
    expect(feedback).toContain("Spell two in capitals, please.");
    expect(server.requests[3]!.body.messages.some((m) => String(m.content ?? "").includes("Spell two in capitals"))).toBe(false);
  }, 120_000);

  it("a viewed file that changes in a later checkpoint is no longer viewed ('changed since you viewed'); an unchanged one stays viewed", async () => {
    await waitForState(t.db, run.id, "succeeded", 90_000);
    const files = (await reviewFiles(t.db, run.id, reviewer.id)).files;
    const a = files.find((f) => f.path === "src/a.txt")!;
    const b = files.find((f) => f.path === "b.txt")!;
    expect(a).toMatchObject({ viewed: false, changedSinceViewed: true });
    expect(b).toMatchObject({ viewed: true, changedSinceViewed: false });
    // The marks are the reviewer's own.
    expect((await reviewFiles(t.db, run.id, operator.id)).files.every((f) => !f.viewed)).toBe(true);
    // The comment still names the checkpoint it was made on, not the later one that changed the line.
    expect(listCheckpoints(t.db, run.id).at(-1)!.id).not.toBe(commentCheckpoint);
    expect(listReviewComments(t.db, run.id)[0]!.checkpointId).toBe(commentCheckpoint);
  }, 120_000);

  it("an ended run refuses Request changes with a clear error and keeps the comments", async () => {
    const c = addReviewComment(t.db, as(reviewer), { runId: run.id, path: "b.txt", side: "new", line: 1, body: "Too late?" });
    expect(() => requestChanges(t.db, as(reviewer), { runId: run.id })).toThrow(/has ended \(succeeded\).*comments stay stored/);
    const kept = t.db.select().from(reviewComments).where(eq(reviewComments.id, c.id)).get()!;
    expect(kept.sentAt).toBeNull();
  });
});
