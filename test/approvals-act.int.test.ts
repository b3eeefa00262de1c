// POST /api/approvals/act over real loopback HTTP, as a service worker calls
// it: the token decides only together with the same user's session (cookie
// from the dashboard's own origin, or an API token), and every refusal comes
// back with a stable code and a message the notification can show.
import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

const env = vi.hoisted(() => {
  const secret = "approvals-act-test-secret-0123456789";
  process.env.NEXTAUTH_SECRET = secret;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  process.env.AIRLOCK_DATA_DIR = require("node:fs").mkdtempSync(require("node:path").join(require("node:os").tmpdir(), "airlock-act-route-"));
  return { secret, dataDir: process.env.AIRLOCK_DATA_DIR as string };
});

import { eq } from "drizzle-orm";
import { encode } from "next-auth/jwt";
import { db as processDb } from "@/db/client";
import { approvals, type Approval } from "@/db/schema";
import { SESSION_MAX_AGE_S } from "@/server/auth/options";
import { createSession } from "@/server/auth/sessions";
import { issueActionTokens } from "@/server/notify/action-tokens";
import { findUserById, type PublicUser } from "@/server/users/users";
import { requestApproval, seedRun } from "@/test/helpers/notify";
import { serveRoute, type RouteServer } from "@/test/helpers/route-server";
import { addUser, issueToken } from "@/test/helpers/users";

let server: RouteServer;
let operator: PublicUser;
let reviewer: PublicUser;
let colleague: PublicUser;

beforeAll(async () => {
  const { POST } = await import("@/app/api/approvals/act/route");
  server = await serveRoute("/api/approvals/act", { POST });
  const database = processDb();
  operator = await addUser(database, "operator");
  reviewer = await addUser(database, "reviewer");
  colleague = await addUser(database, "reviewer");
}, 120_000);
afterAll(async () => {
  await server?.close();
  const g = globalThis as unknown as { __airlockDb?: { $client: { close(): void } } };
  g.__airlockDb?.$client.close();
  delete g.__airlockDb;
  fs.rmSync(env.dataDir, { recursive: true, force: true });
});

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

function pending(): { approval: Approval; approve: string; deny: string } {
  const database = processDb();
  const approval = requestApproval(database, seedRun(database, operator), operator);
  const issued = issueActionTokens(database, approval, { id: reviewer.id, role: reviewer.role });
  return { approval, approve: issued.approve!, deny: issued.deny! };
}

/** A POST as the service worker sends it: same origin, JSON, the browser's cookie. */
function post(body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  const host = new URL(server.url).host;
  return fetch(server.url, {
    method: "POST",
    headers: { "content-type": "application/json", origin: `http://${host}`, "sec-fetch-site": "same-origin", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

const stateOf = (id: string) => processDb().select().from(approvals).where(eq(approvals.id, id)).get()!.state;

describe("POST /api/approvals/act", () => {
  it("the same user's session cookie from the dashboard's origin decides with the token", async () => {
    const { approval, approve } = pending();

    const res = await post({ token: approve, decision: "approve" }, { cookie: await sessionCookie(reviewer) });

    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ state: "approved", approvalId: approval.id });
    expect(stateOf(approval.id)).toBe("approved");
  });

  it("refused without any session: 401 SIGN_IN_REQUIRED, nothing decided", async () => {
    const { approval, approve } = pending();

    const res = await post({ token: approve, decision: "approve" });

    expect(res.status).toBe(401);
    expect((await res.json()).error.code).toBe("SIGN_IN_REQUIRED");
    expect(stateOf(approval.id)).toBe("pending");
  });

  it("refused for another user's session: 403 TOKEN_OTHER_USER, with the request to open", async () => {
    const { approval, approve } = pending();

    const res = await post({ token: approve, decision: "approve" }, { cookie: await sessionCookie(colleague) });

    expect(res.status).toBe(403);
    expect((await res.json()).error).toMatchObject({ code: "TOKEN_OTHER_USER", approvalId: approval.id });
    expect(stateOf(approval.id)).toBe("pending");
  });

  it("refused after replay: 409 TOKEN_USED", async () => {
    const { deny } = pending();
    const cookie = await sessionCookie(reviewer);
    expect((await post({ token: deny, decision: "deny", reason: "not now" }, { cookie })).status).toBe(200);

    const again = await post({ token: deny, decision: "deny", reason: "not now" }, { cookie });

    expect(again.status).toBe(409);
    expect((await again.json()).error.code).toBe("TOKEN_USED");
  });

  it("a cookie request from another site is refused as cross-site before the token is looked at", async () => {
    const { approval, approve } = pending();

    const res = await post(
      { token: approve, decision: "approve" },
      { cookie: await sessionCookie(reviewer), origin: "http://evil.test", "sec-fetch-site": "cross-site" },
    );

    expect(res.status).toBe(403);
    expect((await res.json()).error.code).toBe("CROSS_SITE_REQUEST");
    expect(stateOf(approval.id)).toBe("pending");
  });

  it("the same user's API token decides too", async () => {
    const { approval, approve } = pending();

    const res = await post({ token: approve, decision: "approve" }, { authorization: `Bearer ${issueToken(processDb(), reviewer.id).token}` });

    expect(res.status).toBe(200);
    expect(stateOf(approval.id)).toBe("approved");
  });

  it("a body over the limit is refused with 413 before it is read", async () => {
    const res = await post({ token: "x".repeat(20_000), decision: "approve" }, { cookie: await sessionCookie(reviewer) });
    expect(res.status).toBe(413);
    expect((await res.json()).error.code).toBe("PAYLOAD_TOO_LARGE");
  });

  it("a malformed body gets 400 saying what to send", async () => {
    const res = await post({ token: "t", decision: "maybe" }, { cookie: await sessionCookie(reviewer) });
    expect(res.status).toBe(400);
    const { error } = await res.json();
    expect(error.code).toBe("INVALID_INPUT");
    expect(error.message).toMatch(/decision/);
  });
});
