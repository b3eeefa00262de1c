// The notification channels as the dashboard boots them (startNotifications:
// push, email and webhooks registered on the dispatcher), driven by a real
// supervised run: a reviewer's device and a signed webhook receiver hear of
// the request, a receiver that never answers holds up neither the decision
// nor the run, and the operator's receiver hears how the run ended.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Webhook } from "standardwebhooks";
import { decideApproval } from "@/server/approvals/approvals";
import { startNotifications } from "@/server/notify/boot";
import { approvalUrl, notificationsIdle, runUrl, stopDispatcher } from "@/server/notify/dispatcher";
import { subscribePush } from "@/server/notify/push-subscriptions";
import { createWebhook } from "@/server/notify/webhook-endpoints";
import { WEBHOOK_DELIVERY, webhookDeliveriesSettled } from "@/server/notify/webhooks";
import type { Supervisor } from "@/server/supervisor/supervisor";
import type { PublicUser } from "@/server/users/users";
import type { TestDb } from "@/test/helpers/db";
import { startScriptedModelServer, type ScriptedModelServer, type ScriptStep } from "@/test/helpers/model-server";
import { decryptPush, newPushDevice, pushesTo, startPushService, type PushService } from "@/test/helpers/push-service";
import { registerModel, setUpSupervisedWorld, startRun, stopSupervisor, waitFor, waitForPendingApproval, waitForState } from "@/test/helpers/runs";
import { actorOf } from "@/test/helpers/users";

vi.hoisted(() => {
  // Read once by config(): the webhook secrets' key lives under the data dir; loopback receivers are allowed as an admin would allow them.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  process.env.AIRLOCK_DATA_DIR = require("node:fs").mkdtempSync(require("node:path").join(require("node:os").tmpdir(), "airlock-notify-channels-"));
  process.env.AIRLOCK_NOTIFY_ALLOW_HOSTS = "127.0.0.1";
});

interface Hit {
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A webhook receiver on loopback; `hang` never answers. */
async function receiver(hang = false) {
  const hits: Hit[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      hits.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      if (!hang) res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return {
    url,
    hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

let t: TestDb;
let supervisor: Supervisor;
let admin: PublicUser;
let operator: PublicUser;
let reviewer: PublicUser;
let model: ScriptedModelServer | undefined;
let push: PushService;
let good: Awaited<ReturnType<typeof receiver>>;
let dead: Awaited<ReturnType<typeof receiver>>;

const call = (name: string, args: Record<string, unknown>): ScriptStep => ({ type: "tool_calls", calls: [{ name, arguments: args }] });
const OUTPUT_MARKER = "printed-by-the-sandbox-9123";

beforeAll(async () => {
  ({ t, supervisor, admin, operator, reviewer } = await setUpSupervisedWorld());
  push = await startPushService();
  good = await receiver();
  dead = await receiver(true);
  startNotifications(t.db, { tickMs: 3_600_000 });
});

afterAll(async () => {
  await stopSupervisor(supervisor);
  await notificationsIdle().catch(() => undefined);
  stopDispatcher();
  await model?.close();
  await push?.close();
  await good?.close();
  // Closing the hanging receiver fails its deliveries; with one attempt each they settle before the database closes.
  WEBHOOK_DELIVERY.maxAttempts = 1;
  await dead?.close();
  await webhookDeliveriesSettled();
  t?.close();
});

describe("notification channels as the dashboard boots them", () => {
  it("a reviewer's phone and a signed webhook hear of the plan; a dead receiver delays nothing; the run's end reaches the webhook", async () => {
    const device = newPushDevice(push);
    await subscribePush(t.db, { ...actorOf(reviewer), userId: reviewer.id }, { endpoint: device.endpoint, keys: device.keys, label: "Reviewer's phone" });
    const events = ["approval.requested", "approval.decided", "run.finished", "run.failed"];
    const hook = await createWebhook(t.db, actorOf(admin), { url: good.url, events, format: "standard" });
    await createWebhook(t.db, actorOf(admin), { url: dead.url, events, format: "standard" });

    model = await startScriptedModelServer([
      call("submit_plan", { steps: [{ title: "say hello", risk: "low", risk_note: "prints a line" }] }),
      call("run_command", { command: `echo ${OUTPUT_MARKER}` }),
      call("finish", { summary: "said hello", status: "success" }),
    ]);
    const run = startRun(t.db, supervisor, operator, registerModel(t.db, admin, model.baseUrl), { title: "Say hello" });
    const plan = await waitForPendingApproval(t.db, run.id, "plan");

    // The reviewer's device: one encrypted push for the plan, with the deep link.
    await waitFor("the plan's push", () => pushesTo(push, device).length >= 1, 30_000);
    const payload = decryptPush(device, pushesTo(push, device)[0]!.body) as { type: string; approvalId: string; url: string; runId: string };
    expect(payload).toMatchObject({ type: "approval.requested", approvalId: plan.id, runId: run.id, url: approvalUrl(plan.id) });

    // The live receiver: the same request, signed per Standard Webhooks with the secret create returned.
    await waitFor("the plan's webhook", () => good.hits.length >= 1, 30_000);
    const first = good.hits[0]!;
    const verified = new Webhook(hook.secret).verify(first.body, {
      "webhook-id": String(first.headers["webhook-id"]),
      "webhook-timestamp": String(first.headers["webhook-timestamp"]),
      "webhook-signature": String(first.headers["webhook-signature"]),
    }) as { type: string; data: { approvalId: string; url: string } };
    expect(verified.type).toBe("approval.requested");
    expect(verified.data).toMatchObject({ approvalId: plan.id, url: approvalUrl(plan.id) });
    // The dead receiver got the request and is still holding it: deciding must not wait for it.
    await waitFor("the dead receiver's first request", () => dead.hits.length >= 1, 30_000);

    const before = Date.now();
    decideApproval(t.db, { ...actorOf(reviewer), userId: reviewer.id }, { id: plan.id, decision: "approve" });
    expect(Date.now() - before, "a decision while a webhook receiver hangs").toBeLessThan(2_000);

    // The echo may be allowed or asked, depending on the policy; approve it if asked.
    const outcome = await Promise.race([
      waitForState(t.db, run.id, ["succeeded", "failed"], 120_000).then(() => "ended" as const),
      waitForPendingApproval(t.db, run.id, "tool", 120_000).then((a) => a),
    ]);
    if (outcome !== "ended") decideApproval(t.db, { ...actorOf(reviewer), userId: reviewer.id }, { id: outcome.id, decision: "approve" });
    const done = await waitForState(t.db, run.id, ["succeeded", "failed"], 120_000);
    expect(done.state).toBe("succeeded");

    await waitFor("the run's end at the webhook", () => good.hits.some((h) => h.body.includes('"run.finished"')), 30_000);
    const end = JSON.parse(good.hits.find((h) => h.body.includes('"run.finished"'))!.body) as { data: { runId: string; url: string } };
    expect(end.data).toMatchObject({ runId: run.id, url: runUrl(run.id) });
    // Nothing the sandbox printed left the machine.
    for (const h of good.hits) expect(h.body.replaceAll(`echo ${OUTPUT_MARKER}`, "")).not.toContain(OUTPUT_MARKER);
  });
});
