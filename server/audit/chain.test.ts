import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTestDb, type TestDb } from "@/test/helpers/db";
import { recordAudit, SYSTEM_ACTOR, verifyAuditChain } from "@/server/audit/chain";

let t: TestDb;
beforeEach(() => {
  t = createTestDb();
});
afterEach(() => t.close());

describe("audit chain", () => {
  it("an untouched chain verifies", () => {
    for (let i = 0; i < 5; i++) recordAudit(t.db, SYSTEM_ACTOR, { action: "test.event", details: { i } });
    expect(verifyAuditChain(t.db)).toEqual({ ok: true, count: 5 });
  });
});
