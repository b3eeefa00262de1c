// The order a reviewer notices, over real loopback HTTP through the real tRPC
// route and a real webhook receiver: the live approvals list (approvals.changes)
// hears of a new request before any notification work starts, and deferring
// that work loses no notification and keeps commit order.
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

const env = vi.hoisted(() => {
  process.env.NEXTAUTH_SECRET = "dispatch-order-test-secret-0123456789";
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  process.env.AIRLOCK_DATA_DIR = require("node:fs").mkdtempSync(require("node:path").join(require("node:os").tmpdir(), "airlock-dispatch-"));
  process.env.AIRLOCK_NOTIFY_ALLOW_HOSTS = "127.0.0.1";
  return { dataDir: process.env.AIRLOCK_DATA_DIR as string };
});

import { db as processDb } from "@/db/client";
import { appRouter } from "@/server/api/root";
import { createCallerFactory } from "@/server/api/trpc";
import { notificationsIdle, startDispatcher, stopDispatcher } from "@/server/notify/dispatcher";
import { registerNotifyChannel } from "@/server/notify/registry";
import type { NotifyEvent } from "@/server/notify/types";
import { webhookChannel, webhookDeliveriesSettled } from "@/server/notify/webhooks";
import type { PublicUser } from "@/server/users/users";
import { requestApproval, seedRun } from "@/test/helpers/notify";
import { serveRoute, type RouteServer } from "@/test/helpers/route-server";
import { addUser, identityOfToken, issueToken } from "@/test/helpers/users";

let feed: RouteServer;
let hooks: http.Server;
let hookUrl: string;
const received: string[] = [];
/** When the webhook channel was handed each event (the start of notification work), in order. */
const handedOff: { at: number; event: NotifyEvent }[] = [];
let admin: PublicUser;
let operator: PublicUser;
let reviewer: PublicUser;

beforeAll(async () => {
  const { GET } = await import("@/app/api/trpc/[trpc]/route");
  feed = await serveRoute("/api/trpc/approvals.changes", { GET });
  hooks = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push(Buffer.concat(chunks).toString("utf8"));
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => hooks.listen(0, "127.0.0.1", resolve));
  hookUrl = `http://127.0.0.1:${(hooks.address() as AddressInfo).port}/hooks/airlock`;

  const db = processDb();
  admin = await addUser(db, "admin");
  operator = await addUser(db, "operator");
  reviewer = await addUser(db, "reviewer");
  const caller = createCallerFactory(appRouter)({ db, identity: await identityOfToken(db, issueToken(db, admin.id).token), sourceIp: "192.0.2.9" });
  await caller.webhooks.create({ url: hookUrl, events: ["approval.requested"], format: "standard" });
  // The real webhook channel (its durable outbox and sender), noting when it is handed each event.
  registerNotifyChannel({
    name: "webhook",
    deliver(database, event, recipients) {
      handedOff.push({ at: performance.now(), event });
      return webhookChannel.deliver(database, event, recipients);
    },
  });
  startDispatcher(db, { tickMs: 3_600_000 });
}, 120_000); // importing the whole router is slow on a loaded machine

afterAll(async () => {
  stopDispatcher();
  await notificationsIdle();
  await webhookDeliveriesSettled();
  await feed?.close();
  await new Promise<void>((resolve) => (hooks ? hooks.close(() => resolve()) : resolve()));
  const g = globalThis as unknown as { __airlockDb?: { $client: { close(): void } } };
  g.__airlockDb?.$client.close();
  delete g.__airlockDb;
  fs.rmSync(env.dataDir, { recursive: true, force: true });
});

/** The reviewer's browser on approvals.changes: resolves `ready`, then records when each "changed" arrived. */
async function openFeed(user: PublicUser) {
  const aborter = new AbortController();
  const res = await fetch(feed.url, {
    headers: { accept: "text/event-stream", authorization: `Bearer ${issueToken(processDb(), user.id).token}` },
    signal: aborter.signal,
  });
  expect(res.status).toBe(200);
  const changedAt: number[] = [];
  let text = "";
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  void (async () => {
    for (;;) {
      const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
      if (done) break;
      const at = performance.now();
      const chunk = decoder.decode(value, { stream: true });
      text += chunk;
      if (text.includes('"ready"')) onReady();
      for (const _ of chunk.matchAll(/"changed"/g)) changedAt.push(at);
    }
  })();
  await ready;
  return { changedAt, close: () => aborter.abort() };
}

async function until(what: string, probe: () => boolean, timeoutMs = 15_000) {
  const started = Date.now();
  while (!probe()) {
    if (Date.now() - started > timeoutMs) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("notification dispatch off the reviewer's critical path", () => {
  it("the reviewer's live list is told before notifications are sent", async () => {
    const browser = await openFeed(reviewer);
    try {
      const before = handedOff.length;
      const approval = requestApproval(processDb(), seedRun(processDb(), operator), operator);
      await until("the webhook channel is handed the request", () => handedOff.length > before);
      await until("the browser hears of it", () => browser.changedAt.length > 0);
      const handed = handedOff[before]!;
      expect(handed.event.approvalId).toBe(approval.id);
      expect(browser.changedAt[0]!, "the approvals.changes ping reached the browser before any notification work began").toBeLessThan(handed.at);
      await webhookDeliveriesSettled();
      await until("the webhook arrives", () => received.some((b) => b.includes(approval.id)));
    } finally {
      browser.close();
    }
  });

  it("every notification still arrives when dispatch is deferred, handed to the channels in commit order", async () => {
    const before = handedOff.length;
    const db = processDb();
    const runId = seedRun(db, operator);
    // A burst, as a busy agent makes: created back to back in one tick.
    const created = Array.from({ length: 12 }, (_, i) => requestApproval(db, runId, operator, { args: { command: `make step-${i}` } }).id);
    await until("all twelve are handed to the webhook channel", () => handedOff.length >= before + 12);
    await notificationsIdle();
    expect(handedOff.slice(before).map((h) => h.event.approvalId)).toEqual(created);
    await webhookDeliveriesSettled();
    await until("all twelve webhooks arrive", () => created.every((id) => received.some((b) => b.includes(id))));
    for (const id of created)
      expect(
        received.filter((b) => b.includes(id)),
        `one webhook for ${id}`,
      ).toHaveLength(1);
  });
});
