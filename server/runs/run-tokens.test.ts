import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { runTokens } from "@/db/schema";
import { hashToken } from "@/server/auth/tokens";
import { createRunWithToken } from "@/server/runs/runs";
import { checkRunToken, mcpUrl, touchRunToken } from "@/server/runs/run-tokens";
import { transitionRun } from "@/server/runs/state-machine";
import { SYSTEM_ACTOR } from "@/server/audit/chain";
import { DomainError } from "@/server/errors/domain-error";
import { createTestDb, type TestDb } from "@/test/helpers/db";
import { actorOf, addUser, issueToken } from "@/test/helpers/users";
import type { PublicUser } from "@/server/users/users";
import { readPublicUrl } from "@/server/config/env";

let t: TestDb;
let operator: PublicUser;

beforeEach(async () => {
  t = createTestDb();
  operator = await addUser(t.db, "operator");
});
afterEach(() => t.close());

const createExternal = () => createRunWithToken(t.db, { ...actorOf(operator), userId: operator.id }, { title: "ext", task: "do it", agent: "external" });
const bearer = (token: string) => `Bearer ${token}`;

describe("run tokens", () => {
  it("an external run gets a token that is stored only as its hash", () => {
    const { run, mcpToken } = createExternal();
    expect(mcpToken).toMatch(/^alr_/);
    const row = t.db.select().from(runTokens).where(eq(runTokens.runId, run.id)).get()!;
    expect(row.tokenHash).toBe(hashToken(mcpToken!));
    expect(JSON.stringify(row)).not.toContain(mcpToken!.slice(4));
  });

  it("a built-in run gets no token, and an external run takes no model", () => {
    expect(() => createRunWithToken(t.db, { ...actorOf(operator), userId: operator.id }, { title: "b", task: "t" })).toThrow(/model endpoint/);
    expect(() => createRunWithToken(t.db, { ...actorOf(operator), userId: operator.id }, { title: "b", task: "t", agent: "external", modelId: "m" })).toThrow(
      DomainError,
    );
  });

  it("opens exactly its own run while the run is live", () => {
    const a = createExternal();
    const b = createExternal();
    const checkA = checkRunToken(t.db, bearer(a.mcpToken!));
    expect(checkA.ok && checkA.run.id).toBe(a.run.id);
    const checkB = checkRunToken(t.db, bearer(b.mcpToken!));
    expect(checkB.ok && checkB.run.id).toBe(b.run.id);
  });

  it("says why a header opens nothing", () => {
    expect(checkRunToken(t.db, null)).toMatchObject({ ok: false, reason: "missing" });
    expect(checkRunToken(t.db, "Basic abc")).toMatchObject({ ok: false, reason: "malformed" });
    expect(checkRunToken(t.db, bearer("alr_nope"))).toMatchObject({ ok: false, reason: "unknown" });
    expect(checkRunToken(t.db, bearer(issueToken(t.db, operator.id).token))).toMatchObject({ ok: false, reason: "api_token" });
  });

  it("is revoked in the transition that ends the run", () => {
    const { run, mcpToken } = createExternal();
    transitionRun(t.db, run.id, "killed", SYSTEM_ACTOR, { reason: "stop" });
    expect(t.db.select().from(runTokens).where(eq(runTokens.runId, run.id)).get()!.revokedAt).toBeInstanceOf(Date);
    expect(checkRunToken(t.db, bearer(mcpToken!))).toMatchObject({ ok: false, reason: "ended" });
  });

  it("records the first connection once", () => {
    const { run } = createExternal();
    expect(touchRunToken(t.db, run.id)).toBe(true);
    expect(touchRunToken(t.db, run.id)).toBe(false);
    expect(t.db.select().from(runTokens).where(eq(runTokens.runId, run.id)).get()!.connectedAt).toBeInstanceOf(Date);
  });

  it("builds the MCP URL from the dashboard's public URL", () => {
    expect(mcpUrl(readPublicUrl({ NEXTAUTH_URL: "https://airlock.example.com/" }))).toBe("https://airlock.example.com/api/mcp");
    expect(mcpUrl(readPublicUrl({ PORT: "4000" }))).toBe("http://localhost:4000/api/mcp");
  });
});
