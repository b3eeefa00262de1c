// Access changes and long-lived streams, over real loopback HTTP through the
// real tRPC route: an open run-event stream or approvals feed ends as soon as
// its caller is disabled, demoted, given a new password or signed out
// elsewhere, and API tokens do not outlive a password reset or a disable.
import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

const env = vi.hoisted(() => {
  const secret = "access-changes-test-secret-0123456789";
  process.env.NEXTAUTH_SECRET = secret;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  process.env.AIRLOCK_DATA_DIR = require("node:fs").mkdtempSync(require("node:path").join(require("node:os").tmpdir(), "airlock-access-"));
  return { secret, dataDir: process.env.AIRLOCK_DATA_DIR as string };
});

import { encode } from "next-auth/jwt";
import { db as processDb } from "@/db/client";
import { SESSION_MAX_AGE_S } from "@/server/auth/options";
import { watchAccess } from "@/server/auth/access-watch";
import { identityFromHeaders } from "@/server/auth/identity";
import { createSession, revokeOtherSessions } from "@/server/auth/sessions";
import { publishRunEvent } from "@/server/events/bus";
import { createRun } from "@/server/runs/runs";
import { findUserById, setUserDisabled, setUserPassword, setUserRole, type PublicUser } from "@/server/users/users";
import { serveRoute, type RouteServer } from "@/test/helpers/route-server";
import { actorOf, addUser, bearerHeaders, issueToken, identityOfToken, SETUP_ACTOR } from "@/test/helpers/users";

let runEvents: RouteServer;
let approvalFeed: RouteServer;

beforeAll(async () => {
  const { GET } = await import("@/app/api/trpc/[trpc]/route");
  runEvents = await serveRoute("/api/trpc/runs.events", { GET });
  approvalFeed = await serveRoute("/api/trpc/approvals.changes", { GET });
}, 120_000); // importing the whole router is slow on a loaded machine
afterAll(async () => {
  await runEvents?.close();
  await approvalFeed?.close();
  const g = globalThis as unknown as { __airlockDb?: { $client: { close(): void } } };
  g.__airlockDb?.$client.close();
  delete g.__airlockDb;
  fs.rmSync(env.dataDir, { recursive: true, force: true });
});

/** A signed-in browser's cookie for the user, with its own sign-in session. */
async function sessionCookie(user: PublicUser): Promise<{ cookie: string; sessionId: string }> {
  const database = processDb();
  const session = createSession(database, { userId: user.id, maxAgeS: SESSION_MAX_AGE_S });
  const jwt = await encode({
    token: { email: user.email, uid: user.id, sv: findUserById(database, user.id)!.sessionVersion, sid: session.id },
    secret: env.secret,
    maxAge: SESSION_MAX_AGE_S,
  });
  return { cookie: `next-auth.session-token=${jwt}`, sessionId: session.id };
}

/** An open SSE stream: its text so far, and a way to wait for something in it. */
interface OpenStream {
  text(): string;
  waitFor(what: string | RegExp, timeoutMs?: number): Promise<number>;
  closed: Promise<void>;
  close(): void;
}

async function openStream(url: string, headers: Record<string, string>): Promise<OpenStream> {
  const aborter = new AbortController();
  const res = await fetch(url, { headers: { accept: "text/event-stream", ...headers }, signal: aborter.signal });
  expect(res.status, await (res.status === 200 ? "" : res.clone().text())).toBe(200);
  let text = "";
  const waiters = new Set<() => void>();
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const closed = (async () => {
    for (;;) {
      const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
      if (done) break;
      text += decoder.decode(value, { stream: true });
      for (const w of waiters) w();
    }
  })();
  return {
    text: () => text,
    closed,
    close: () => aborter.abort(),
    async waitFor(what, timeoutMs = 5000) {
      const started = Date.now();
      const found = () => (typeof what === "string" ? text.includes(what) : what.test(text));
      while (!found()) {
        if (Date.now() - started > timeoutMs) throw new Error(`not seen within ${timeoutMs} ms: ${String(what)}\n--- stream so far ---\n${text}`);
        await new Promise<void>((resolve) => {
          const w = () => {
            waiters.delete(w);
            resolve();
          };
          waiters.add(w);
          setTimeout(w, 50);
        });
      }
      return Date.now() - started;
    },
  };
}

function runEventsUrl(runId: string): string {
  return `${runEvents.url}?input=${encodeURIComponent(JSON.stringify({ json: { id: runId } }))}`;
}

async function aRun(): Promise<string> {
  const operator = await addUser(processDb(), "operator");
  return createRun(processDb(), { ...actorOf(operator), userId: operator.id }, { title: "watched", task: "nothing", agent: "external" }).id;
}

const ACCESS_CHANGED = "Your access changed";

describe("access changes", () => {
  it("access changes: a disabled user's open run-event stream stops at once and gets no later events", async () => {
    const database = processDb();
    const runId = await aRun();
    const viewer = await addUser(database, "viewer");
    const stream = await openStream(runEventsUrl(runId), { cookie: (await sessionCookie(viewer)).cookie });
    publishRunEvent(database, runId, "note", { text: "before-disable" });
    await stream.waitFor("before-disable");

    setUserDisabled(database, SETUP_ACTOR, viewer.id, true);
    const ms = await stream.waitFor(ACCESS_CHANGED);
    await stream.closed;
    publishRunEvent(database, runId, "note", { text: "after-disable" });
    await new Promise((r) => setTimeout(r, 200));

    expect(ms).toBeLessThan(2000);
    expect(stream.text()).not.toContain("after-disable");
  });

  it("access changes: a lowered role ends the approvals feed (the client re-subscribes and is checked again)", async () => {
    const database = processDb();
    const reviewer = await addUser(database, "reviewer");
    const stream = await openStream(approvalFeed.url, { cookie: (await sessionCookie(reviewer)).cookie });
    await stream.waitFor('"ready"');

    setUserRole(database, SETUP_ACTOR, reviewer.id, "viewer");

    await stream.waitFor(ACCESS_CHANGED);
    await stream.closed;
  });

  it("access changes: signing out other sessions ends their streams and keeps this one's", async () => {
    const database = processDb();
    const user = await addUser(database, "viewer");
    const here = await sessionCookie(user);
    const elsewhere = await sessionCookie(user);
    const kept = await openStream(approvalFeed.url, { cookie: here.cookie });
    const ended = await openStream(approvalFeed.url, { cookie: elsewhere.cookie });
    await kept.waitFor('"ready"');
    await ended.waitFor('"ready"');

    revokeOtherSessions(database, actorOf(user), user.id, here.sessionId);

    await ended.waitFor(ACCESS_CHANGED);
    await new Promise((r) => setTimeout(r, 300));
    expect(kept.text()).not.toContain(ACCESS_CHANGED);
    kept.close();
  });

  it("access changes: an admin's password reset ends the user's token stream and revokes the token", async () => {
    const database = processDb();
    const runId = await aRun();
    const user = await addUser(database, "viewer", { password: "the old password" });
    const { token } = issueToken(database, user.id);
    const stream = await openStream(runEventsUrl(runId), { authorization: `Bearer ${token}` });
    publishRunEvent(database, runId, "note", { text: "token-sees-this" });
    await stream.waitFor("token-sees-this");

    const admin = await addUser(database, "admin");
    const { tokensRevoked } = await setUserPassword(database, actorOf(admin), user.id, "a new password 1");

    await stream.waitFor(ACCESS_CHANGED);
    expect(tokensRevoked).toBe(1);
    expect(await identityOfToken(database, token)).toBeNull();
    // Reconnecting with the old token: the stream answers with the sign-in error and no events.
    const again = await openStream(runEventsUrl(runId), { authorization: `Bearer ${token}` });
    await again.waitFor("Sign in or send an API token");
    await again.closed;
    expect(again.text()).not.toContain("token-sees-this");
  });

  it("access changes: disabling a user revokes their API tokens, and enabling them again does not bring the tokens back", async () => {
    const database = processDb();
    const user = await addUser(database, "operator");
    const { token } = issueToken(database, user.id);
    expect(await identityFromHeaders(database, bearerHeaders(token))).not.toBeNull();

    setUserDisabled(database, SETUP_ACTOR, user.id, true);
    setUserDisabled(database, SETUP_ACTOR, user.id, false);

    expect(await identityOfToken(database, token)).toBeNull();
  });

  it("access changes: a change made by another process (no bus event) is caught by the periodic re-check", async () => {
    const database = processDb();
    const user = await addUser(database, "viewer");
    const identity = (await identityFromHeaders(database, new Headers({ cookie: (await sessionCookie(user)).cookie })))!;
    const watch = watchAccess(database, identity, undefined, 50);

    // As the CLI would, from its own connection: no event reaches this process's bus.
    database.$client.prepare("update users set disabled_at = ?, session_version = session_version + 1 where id = ?").run(Date.now(), user.id);
    const started = Date.now();
    await new Promise<void>((resolve) => watch.signal.addEventListener("abort", () => resolve(), { once: true }));

    expect(watch.lost()).toBe(true);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it("a stream whose caller keeps access runs on, and ends quietly when the caller leaves", async () => {
    const database = processDb();
    const user = await addUser(database, "viewer");
    const identity = (await identityFromHeaders(database, new Headers({ cookie: (await sessionCookie(user)).cookie })))!;
    const leaving = new AbortController();
    const watch = watchAccess(database, identity, leaving.signal, 20);
    await new Promise((r) => setTimeout(r, 100));
    expect(watch.signal.aborted).toBe(false);

    leaving.abort();

    expect(watch.signal.aborted).toBe(true);
    expect(watch.lost()).toBe(false);
  });
});
