// Who may scrape /metrics: an admin's token or a token with the metrics scope;
// the scope is an optional, audited part of tokens.create.
import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { auditEvents } from "@/db/schema";
import { appRouter } from "@/server/api/root";
import { createCallerFactory } from "@/server/api/trpc";
import { createApiToken, revokeApiToken } from "@/server/auth/tokens";
import { authorizeScrape } from "@/server/metrics/scrape";
import { setUserDisabled } from "@/server/users/users";
import { createTestDb, type TestDb } from "@/test/helpers/db";
import { addUser, bearerHeaders, identityOfToken, issueToken, SETUP_ACTOR } from "@/test/helpers/users";

let t: TestDb;
beforeEach(() => {
  t = createTestDb();
});
afterEach(() => t.close());

const callerWithToken = async (token: string) => createCallerFactory(appRouter)({ db: t.db, identity: await identityOfToken(t.db, token), sourceIp: null });

describe("the metrics scope on API tokens", () => {
  it("tokens have no scope unless asked for, and tokens.create records an asked-for scope in the audit trail", async () => {
    const viewer = await addUser(t.db, "viewer");
    const caller = await callerWithToken(issueToken(t.db, viewer.id).token);
    const plain = await caller.tokens.create({ name: "laptop" });
    const scoped = await caller.tokens.create({ name: "prometheus", scopes: ["metrics"] });
    const listed = (await caller.tokens.list()).items;
    expect(listed.find((x) => x.id === plain.id)?.scopes).toEqual([]);
    expect(listed.find((x) => x.id === scoped.id)?.scopes).toEqual(["metrics"]);
    const audit = t.db.select().from(auditEvents).where(eq(auditEvents.targetId, scoped.id)).get();
    expect(JSON.parse(audit!.details)).toMatchObject({ name: "prometheus", scopes: ["metrics"] });
  });

  it("an unknown scope is refused with the list of scopes", async () => {
    const viewer = await addUser(t.db, "viewer");
    const caller = await callerWithToken(issueToken(t.db, viewer.id).token);
    await expect(caller.tokens.create({ name: "x", scopes: ["admin" as "metrics"] })).rejects.toThrow(/A token scope is one of: metrics/);
    expect(() => createApiToken(t.db, SETUP_ACTOR, { userId: viewer.id, name: "x", scopes: ["everything"] })).toThrow(/Unknown token scope "everything"/);
  });
});

describe("authorizeScrape", () => {
  it("accepts an admin's token and a scoped token of any role; refuses other tokens with 403 and no token with 401", async () => {
    const [admin, operator] = [await addUser(t.db, "admin"), await addUser(t.db, "operator")];
    expect(authorizeScrape(t.db, bearerHeaders(issueToken(t.db, admin.id).token))).toMatchObject({ ok: true });
    expect(authorizeScrape(t.db, bearerHeaders(issueToken(t.db, operator.id).token))).toMatchObject({ ok: false, status: 403 });
    const scoped = createApiToken(t.db, SETUP_ACTOR, { userId: operator.id, name: "scraper", scopes: ["metrics"] });
    expect(authorizeScrape(t.db, bearerHeaders(scoped.token))).toMatchObject({ ok: true, userId: operator.id });
    expect(authorizeScrape(t.db, new Headers())).toMatchObject({ ok: false, status: 401 });
    expect(authorizeScrape(t.db, new Headers({ authorization: "Basic YWRtaW46YWRtaW4=" }))).toMatchObject({ ok: false, status: 401 });
  });

  it("a scoped token stops working when it is revoked or its user is disabled", async () => {
    const operator = await addUser(t.db, "operator");
    const revoked = createApiToken(t.db, SETUP_ACTOR, { userId: operator.id, name: "a", scopes: ["metrics"] });
    revokeApiToken(t.db, SETUP_ACTOR, { tokenId: revoked.id });
    expect(authorizeScrape(t.db, bearerHeaders(revoked.token))).toMatchObject({ ok: false, status: 401 });
    const live = createApiToken(t.db, SETUP_ACTOR, { userId: operator.id, name: "b", scopes: ["metrics"] });
    setUserDisabled(t.db, SETUP_ACTOR, operator.id, true);
    expect(authorizeScrape(t.db, bearerHeaders(live.token))).toMatchObject({ ok: false, status: 401 });
  });
});
