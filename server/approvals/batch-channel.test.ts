// A batch decision keeps where it was made (dashboard or API token) on every
// vote and on the batch event, as a single decision does: the SIEM stream
// (server/audit/stream.ts) reports it as the approval channel.
import { and, eq } from "drizzle-orm";
import { afterEach, beforeEach, expect, it } from "vitest";
import { auditEvents } from "@/db/schema";
import { appRouter } from "@/server/api/root";
import { createCallerFactory } from "@/server/api/trpc";
import { createTestDb, type TestDb } from "@/test/helpers/db";
import { requestApproval, seedRun } from "@/test/helpers/notify";
import { addUser, identityOfToken, issueToken } from "@/test/helpers/users";

let t: TestDb;
beforeEach(() => {
  t = createTestDb();
});
afterEach(() => t.close());

it("a batch decided with an API token records channel api on its votes and on the batch", async () => {
  const [operator, reviewer] = [await addUser(t.db, "operator"), await addUser(t.db, "reviewer")];
  const runId = seedRun(t.db, operator);
  requestApproval(t.db, runId, operator, { tool: "write_file", args: { path: "a.txt", content: "a" } });
  requestApproval(t.db, runId, operator, { tool: "write_file", args: { path: "b.txt", content: "b" } });
  const caller = createCallerFactory(appRouter)({ db: t.db, identity: await identityOfToken(t.db, issueToken(t.db, reviewer.id).token), sourceIp: null });
  const shown = await caller.approvals.pendingWrites({ runId });
  expect(shown.items).toHaveLength(2);

  const result = await caller.approvals.decideBatch({
    runId,
    approvalIds: shown.items.map((w) => w.id),
    hashes: Object.fromEntries(shown.items.map((w) => [w.id, w.contentHash])),
    decision: "approve",
  });
  expect(result.items.map((i) => i.outcome)).toEqual(["approved", "approved"]);

  const details = (action: string) =>
    t.db
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.action, action), eq(auditEvents.actorId, reviewer.id)))
      .all()
      .map((e) => JSON.parse(e.details) as { channel?: string });
  expect(details("approval.vote").map((d) => d.channel)).toEqual(["api", "api"]);
  expect(details("approval.approved").map((d) => d.channel)).toEqual(["api", "api"]);
  expect(details("approval.batch").map((d) => d.channel)).toEqual(["api"]);
});
