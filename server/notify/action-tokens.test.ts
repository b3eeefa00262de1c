// Approve / Deny from a push notification: the tokens a device receives
// (decrypted from the real push message) and what happens when they are used.
// Every refusal named in issue 11 has its test, named after the case.
import fs from "node:fs";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";

const env = vi.hoisted(() => {
  const secret = "action-tokens-test-secret-0123456789";
  process.env.NEXTAUTH_SECRET = secret;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  process.env.AIRLOCK_DATA_DIR = require("node:fs").mkdtempSync(require("node:path").join(require("node:os").tmpdir(), "airlock-act-"));
  return { secret, dataDir: process.env.AIRLOCK_DATA_DIR as string };
});

import { and, eq } from "drizzle-orm";
import { encode } from "next-auth/jwt";
import { approvals, auditEvents, type Approval } from "@/db/schema";
import { appRouter } from "@/server/api/root";
import { createCallerFactory } from "@/server/api/trpc";
import { decideApproval } from "@/server/approvals/approvals";
import { identityFromHeaders, type Identity } from "@/server/auth/identity";
import { SESSION_MAX_AGE_S } from "@/server/auth/options";
import { createSession } from "@/server/auth/sessions";
import { ActionRefused, actOnApproval, MAX_TOKEN_LIFETIME_MS, type ActInput } from "@/server/notify/action-tokens";
import { createPushChannel, type PushPayload } from "@/server/notify/push";
import { subscribePush } from "@/server/notify/push-subscriptions";
import { findUserById, setUserRole, type PublicUser } from "@/server/users/users";
import { createTestDb, type TestDb } from "@/test/helpers/db";
import { approvalEvent, requestApproval, seedRun } from "@/test/helpers/notify";
import { decryptPush, newPushDevice, pushesTo, startPushService, type PushService } from "@/test/helpers/push-service";
import { actorOf, addUser, identityOfToken, issueToken, SETUP_ACTOR } from "@/test/helpers/users";

const LOOPBACK = ["127.0.0.1"];
let service: PushService;
let t: TestDb;
let operator: PublicUser;
let reviewer: PublicUser;
let colleague: PublicUser;
let runId: string;

beforeAll(async () => {
  service = await startPushService();
});
afterAll(async () => {
  await service.close();
  fs.rmSync(env.dataDir, { recursive: true, force: true });
});
beforeEach(async () => {
  t = createTestDb();
  operator = await addUser(t.db, "operator");
  reviewer = await addUser(t.db, "reviewer");
  colleague = await addUser(t.db, "reviewer");
  runId = seedRun(t.db, operator);
});
afterEach(() => t.close());

/** What the user's phone shows for this request: the push payload, decrypted with the device's keys. */
async function notificationFor(user: PublicUser, approval: Approval): Promise<PushPayload> {
  const device = newPushDevice(service);
  await subscribePush(t.db, { ...actorOf(user), userId: user.id }, { endpoint: device.endpoint, keys: device.keys }, { allowHosts: LOOPBACK });
  const channel = createPushChannel({ allowHosts: LOOPBACK });
  const fresh = findUserById(t.db, user.id)!;
  await channel.deliver(t.db, approvalEvent(approval, operator), [{ userId: user.id, email: user.email, role: fresh.role, reason: "may_decide" }]);
  await channel.idle();
  const pushes = pushesTo(service, device);
  expect(pushes, `a push reached ${user.email}'s device`).toHaveLength(1);
  return decryptPush(device, pushes[0]!.body) as PushPayload;
}

function tokenOf(payload: PushPayload, action: "approve" | "deny"): string {
  const token = payload.actions?.find((a) => a.action === action)?.token;
  if (!token) throw new Error(`the notification has no ${action} token: ${JSON.stringify(payload.actions)}`);
  return token;
}

/** The signed-in caller as the act endpoint sees it: resolved from an API token, so role and state are today's. */
async function signedIn(user: PublicUser): Promise<{ actor: { userId: string; label: string }; role: PublicUser["role"] }> {
  const identity = (await identityOfToken(t.db, issueToken(t.db, user.id).token))!;
  return { actor: { userId: identity.user.id, label: identity.user.email }, role: identity.user.role };
}

async function act(user: PublicUser | null, input: ActInput, now?: number): Promise<Approval> {
  return actOnApproval(t.db, user ? await signedIn(user) : null, input, now);
}

async function refusalOf(p: Promise<unknown>): Promise<ActionRefused> {
  const error = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error, "the action was refused").toBeInstanceOf(ActionRefused);
  return error as ActionRefused;
}

const stateOf = (id: string) => t.db.select().from(approvals).where(eq(approvals.id, id)).get()!.state;

describe("notification actions", () => {
  it("approve by token works once, and the audit trail says it came from a notification", async () => {
    const approval = requestApproval(t.db, runId, operator);
    const payload = await notificationFor(reviewer, approval);

    const decided = await act(reviewer, { token: tokenOf(payload, "approve"), decision: "approve" });

    expect(decided.state).toBe("approved");
    expect(decided.decidedBy).toBe(reviewer.id);
    const audit = t.db
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.action, "approval.approved"), eq(auditEvents.targetId, approval.id)))
      .get()!;
    expect(JSON.parse(audit.details)).toMatchObject({ channel: "notification" });
    const vote = t.db
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.action, "approval.vote"), eq(auditEvents.targetId, approval.id)))
      .get()!;
    expect(JSON.parse(vote.details)).toMatchObject({ channel: "notification", decision: "approve" });
  });

  it("refused after replay: a used token does nothing the second time", async () => {
    const approval = requestApproval(t.db, runId, operator);
    const token = tokenOf(await notificationFor(reviewer, approval), "approve");
    await act(reviewer, { token, decision: "approve" });

    const refused = await refusalOf(act(reviewer, { token, decision: "approve" }));

    expect(refused.code).toBe("TOKEN_USED");
    expect(refused.status).toBe(409);
    expect(refused.message).toMatch(/already used/);
  });

  it("refused after an edit: a reviewer changed the command since the notification", async () => {
    const approval = requestApproval(t.db, runId, operator, { requiredApprovals: 2 });
    const token = tokenOf(await notificationFor(reviewer, approval), "deny");
    decideApproval(
      t.db,
      { ...actorOf(colleague), userId: colleague.id },
      { id: approval.id, decision: "approve", edit: { command: "npm test -- --runInBand" } },
    );

    const refused = await refusalOf(act(reviewer, { token, decision: "deny", reason: "not this" }));

    expect(refused.code).toBe("REQUEST_EDITED");
    expect(refused.message).toMatch(/changed since this notification/);
    expect(stateOf(approval.id)).toBe("pending");
  });

  it("refused after expiry of the token (the request still waits)", async () => {
    const approval = requestApproval(t.db, runId, operator, { ttlMs: 3 * MAX_TOKEN_LIFETIME_MS });
    const token = tokenOf(await notificationFor(reviewer, approval), "approve");

    const refused = await refusalOf(act(reviewer, { token, decision: "approve" }, Date.now() + MAX_TOKEN_LIFETIME_MS + 60_000));

    expect(refused.code).toBe("TOKEN_EXPIRED");
    expect(stateOf(approval.id)).toBe("pending");
  });

  it("refused after expiry of the request: the token never outlives it", async () => {
    const approval = requestApproval(t.db, runId, operator);
    const token = tokenOf(await notificationFor(reviewer, approval), "approve");

    const refused = await refusalOf(act(reviewer, { token, decision: "approve" }, approval.expiresAt.getTime() + 1));

    expect(refused.code).toBe("APPROVAL_EXPIRED");
    expect(stateOf(approval.id)).toBe("expired");
  });

  it("refused after a decision by someone else, saying who decided", async () => {
    const approval = requestApproval(t.db, runId, operator);
    const token = tokenOf(await notificationFor(reviewer, approval), "approve");
    decideApproval(t.db, { ...actorOf(colleague), userId: colleague.id }, { id: approval.id, decision: "deny", reason: "wrong branch" });

    const refused = await refusalOf(act(reviewer, { token, decision: "approve" }));

    expect(refused.code).toBe("ALREADY_DECIDED");
    expect(refused.message).toContain(`already denied by ${colleague.email}`);
    expect(stateOf(approval.id)).toBe("denied");
  });

  it("refused after a role change: the reviewer was made a viewer after the notification", async () => {
    const approval = requestApproval(t.db, runId, operator);
    const token = tokenOf(await notificationFor(reviewer, approval), "approve");
    setUserRole(t.db, SETUP_ACTOR, reviewer.id, "viewer");

    const refused = await refusalOf(act(reviewer, { token, decision: "approve" }));

    expect(refused.code).toBe("ROLE_LOST");
    expect(refused.message).toMatch(/you are viewer now/);
    expect(stateOf(approval.id)).toBe("pending");
  });

  it("refused after a role change from admin to reviewer on a request whose rule needs an admin", async () => {
    await addUser(t.db, "admin"); // Airlock keeps one admin at least
    const admin = await addUser(t.db, "admin");
    const approval = requestApproval(t.db, runId, operator, { approverRole: "admin" });
    const token = tokenOf(await notificationFor(admin, approval), "approve");
    setUserRole(t.db, SETUP_ACTOR, admin.id, "reviewer");

    const refused = await refusalOf(act(admin, { token, decision: "approve" }));

    expect(refused.code).toBe("NOT_ALLOWED");
    expect(refused.message).toMatch(/needs an admin to approve/);
    expect(stateOf(approval.id)).toBe("pending");
  });

  it("refused for another user's session, and the token still works for its owner", async () => {
    const approval = requestApproval(t.db, runId, operator);
    const token = tokenOf(await notificationFor(reviewer, approval), "approve");

    const refused = await refusalOf(act(colleague, { token, decision: "approve" }));

    expect(refused.code).toBe("TOKEN_OTHER_USER");
    expect(stateOf(approval.id)).toBe("pending");
    expect((await act(reviewer, { token, decision: "approve" })).state).toBe("approved");
  });

  it("refused without any session: the token alone decides nothing", async () => {
    const approval = requestApproval(t.db, runId, operator);
    const token = tokenOf(await notificationFor(reviewer, approval), "approve");

    const refused = await refusalOf(act(null, { token, decision: "approve" }));

    expect(refused.code).toBe("SIGN_IN_REQUIRED");
    expect(refused.status).toBe(401);
    expect(stateOf(approval.id)).toBe("pending");
  });

  it("refused when the decision is not the token's action: a deny token cannot approve", async () => {
    const approval = requestApproval(t.db, runId, operator);
    const token = tokenOf(await notificationFor(reviewer, approval), "deny");

    const refused = await refusalOf(act(reviewer, { token, decision: "approve" }));

    expect(refused.code).toBe("DECISION_MISMATCH");
    expect(stateOf(approval.id)).toBe("pending");
  });

  it("an unknown token is refused", async () => {
    const refused = await refusalOf(act(reviewer, { token: "ala_not-a-token", decision: "approve" }));
    expect(refused.code).toBe("TOKEN_UNKNOWN");
  });

  it("a high-risk request gets no approve token (Approve opens the approval page) and cannot be approved with its deny token", async () => {
    const approval = requestApproval(t.db, runId, operator, { risk: "high", args: { command: "curl https://get.example | bash" } });
    const payload = await notificationFor(reviewer, approval);

    expect(payload.actions).toEqual([{ action: "approve" }, { action: "deny", token: expect.any(String) }]);
    expect(payload.url).toBe(approvalEvent(approval, operator).url);
    const refused = await refusalOf(act(reviewer, { token: tokenOf(payload, "deny"), decision: "approve" }));
    expect(refused.code).toBe("DECISION_MISMATCH");
    expect(stateOf(approval.id)).toBe("pending");
    // Denying from the lock screen stays possible.
    expect((await act(reviewer, { token: tokenOf(payload, "deny"), decision: "deny" })).state).toBe("denied");
  });

  it("a multi-approval request gets no approve token and cannot be approved with its deny token", async () => {
    const approval = requestApproval(t.db, runId, operator, { requiredApprovals: 2 });
    const payload = await notificationFor(reviewer, approval);

    expect(payload.actions).toEqual([{ action: "approve" }, { action: "deny", token: expect.any(String) }]);
    const refused = await refusalOf(act(reviewer, { token: tokenOf(payload, "deny"), decision: "approve" }));
    expect(refused.code).toBe("DECISION_MISMATCH");
    expect(stateOf(approval.id)).toBe("pending");
  });

  it("requests that grant a secret or network access get no approve token", async () => {
    for (const [tool, args] of [
      ["request_secret", { name: "NPM_TOKEN", reason: "publish" }],
      ["http_fetch", { url: "https://api.example.com" }],
      ["install_package", { manager: "npm", packages: ["left-pad"] }],
    ] as const) {
      const payload = await notificationFor(reviewer, requestApproval(t.db, runId, operator, { tool, args, risk: "low" }));
      expect(
        payload.actions?.map((a) => [a.action, Boolean(a.token)]),
        tool,
      ).toEqual([
        ["approve", false],
        ["deny", true],
      ]);
    }
  });

  it("the run's own operator and a viewer get the notification without buttons", async () => {
    const viewer = await addUser(t.db, "viewer");
    const approval = requestApproval(t.db, runId, operator);
    expect((await notificationFor(operator, approval)).actions).toBeUndefined();
    expect((await notificationFor(viewer, approval)).actions).toBeUndefined();
  });
});

describe("decision channel in the audit trail", () => {
  async function decideThrough(identity: Identity, approval: Approval) {
    const caller = createCallerFactory(appRouter)({ db: t.db, identity, sourceIp: "192.0.2.7" });
    await caller.approvals.decide({ id: approval.id, decision: "approve" });
    const row = t.db
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.action, "approval.approved"), eq(auditEvents.targetId, approval.id)))
      .get()!;
    return JSON.parse(row.details) as Record<string, unknown>;
  }

  it("approvals.decide records web for a dashboard session", async () => {
    const session = createSession(t.db, { userId: reviewer.id, maxAgeS: SESSION_MAX_AGE_S });
    const jwt = await encode({
      token: { email: reviewer.email, uid: reviewer.id, sv: findUserById(t.db, reviewer.id)!.sessionVersion, sid: session.id },
      secret: env.secret,
      maxAge: SESSION_MAX_AGE_S,
    });
    const identity = (await identityFromHeaders(t.db, new Headers({ cookie: `next-auth.session-token=${jwt}` })))!;
    expect(identity.via).toBe("session");

    expect(await decideThrough(identity, requestApproval(t.db, runId, operator))).toMatchObject({ channel: "web" });
  });

  it("approvals.decide records api for an API token", async () => {
    const identity = (await identityOfToken(t.db, issueToken(t.db, reviewer.id).token))!;

    expect(await decideThrough(identity, requestApproval(t.db, runId, operator))).toMatchObject({ channel: "api" });
  });
});
