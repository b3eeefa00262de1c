import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createRunWithToken } from "@/server/runs/runs";
import { findRun, requireRun } from "@/server/runs/lookup";
import { transitionRun } from "@/server/runs/state-machine";
import { SYSTEM_ACTOR } from "@/server/audit/chain";
import { createTestDb, type TestDb } from "@/test/helpers/db";
import { actorOf, addUser } from "@/test/helpers/users";
import type { PublicUser } from "@/server/users/users";

let t: TestDb;
let operator: PublicUser;

beforeEach(async () => {
  t = createTestDb();
  operator = await addUser(t.db, "operator");
});
afterEach(() => t.close());

describe("reading one run", () => {
  it("I4: findRun and requireRun read the run as it is now; a missing run is null, or NOT_FOUND naming its id", () => {
    const { run } = createRunWithToken(t.db, { ...actorOf(operator), userId: operator.id }, { title: "ext", task: "do it", agent: "external" });
    expect(findRun(t.db, run.id)?.state).toBe("queued");
    transitionRun(t.db, run.id, "killed", SYSTEM_ACTOR, { reason: "test" });
    expect(requireRun(t.db, run.id).state).toBe("killed");

    expect(findRun(t.db, "no-such-run")).toBeNull();
    expect(() => requireRun(t.db, "no-such-run")).toThrow(expect.objectContaining({ code: "NOT_FOUND", message: "No run with id no-such-run." }));
  });
});
