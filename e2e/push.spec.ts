// Push notifications in Chromium: the Settings device list (name, last use,
// Remove), and the service worker's push handler (public/sw-push.js) showing a
// request with the buttons the payload allows. Pushes are delivered through the
// DevTools protocol (ServiceWorker.deliverPushMessage): no push service is
// reachable from here, and the handler is the same either way.
import crypto from "node:crypto";
import { expect, test, type Page } from "@playwright/test";
import { apiSignin, createUser, signedInApi, trpcMutation } from "./support/api";

function deviceKeys(): { p256dh: string; auth: string } {
  const ecdh = crypto.createECDH("prime256v1");
  ecdh.generateKeys();
  return { p256dh: ecdh.getPublicKey().toString("base64url"), auth: crypto.randomBytes(16).toString("base64url") };
}

test("Settings lists your notification devices with their last use, and Remove takes one off", async ({ page, baseURL }) => {
  const adminApi = await signedInApi(baseURL!);
  const reviewer = await createUser(adminApi, "reviewer", "push-devices");
  await adminApi.dispose();
  await apiSignin(page, reviewer);
  // A public https endpoint (an IP literal: nothing is resolved, and nothing is sent without an event).
  await trpcMutation(page.context().request, "notifications.subscribe", {
    endpoint: `https://93.184.216.34/push/e2e-${crypto.randomBytes(6).toString("hex")}`,
    keys: deviceKeys(),
    label: "Work laptop",
  });

  await page.goto("/settings");
  const section = page.getByRole("region", { name: "Push notifications" });
  await expect(section.getByRole("button", { name: "Turn on notifications for this device" })).toBeVisible();
  const device = section.getByTestId("push-device").filter({ hasText: "Work laptop" });
  await expect(device).toContainText("not notified yet");
  // The sections above load their lists too; wait for them so the button stops moving (phone layout).
  await expect(page.getByTestId("sessions")).toBeVisible();

  await section.getByRole("button", { name: "Remove Work laptop" }).click();
  await expect(section.getByText("No device gets notifications yet.")).toBeVisible();
  await page.reload();
  await expect(page.getByRole("region", { name: "Push notifications" }).getByTestId("push-device")).toHaveCount(0);
});

/** Registers the dashboard's service worker (sw.js, which loads sw-push.js) and returns a way to push to it. */
async function pushWorker(page: Page, origin: string): Promise<(payload: unknown) => Promise<void>> {
  await page.context().grantPermissions(["notifications"], { origin });
  const cdp = await page.context().newCDPSession(page);
  const registrations = new Map<string, string>();
  cdp.on("ServiceWorker.workerRegistrationUpdated", (e: { registrations: { registrationId: string; scopeURL: string; isDeleted: boolean }[] }) => {
    for (const r of e.registrations) if (!r.isDeleted) registrations.set(r.scopeURL, r.registrationId);
  });
  await cdp.send("ServiceWorker.enable");
  await page.evaluate(async () => {
    await navigator.serviceWorker.register("/sw.js", { scope: "/" });
    await navigator.serviceWorker.ready;
  });
  await expect.poll(() => registrations.get(`${origin}/`)).toBeTruthy();
  return async (payload) => {
    await cdp.send("ServiceWorker.deliverPushMessage", { origin, registrationId: registrations.get(`${origin}/`)!, data: JSON.stringify(payload) });
  };
}

interface ShownNotification {
  title: string;
  body: string;
  tag: string;
  requireInteraction: boolean;
  actions: { action: string; title: string }[];
  data: { url?: string; actions?: { action: string; token?: string }[] };
}

function shown(page: Page): Promise<ShownNotification[]> {
  return page.evaluate(async () => {
    const registration = await navigator.serviceWorker.ready;
    const list = await registration.getNotifications();
    return list.map((n) => ({
      title: n.title,
      body: n.body,
      tag: n.tag,
      requireInteraction: n.requireInteraction,
      actions: ((n as Notification & { actions?: { action: string; title: string }[] }).actions ?? []).map((a) => ({ action: a.action, title: a.title })),
      data: n.data as ShownNotification["data"],
    }));
  });
}

test("a pushed request shows with Approve and Deny, and stays until acted on", async ({ page, baseURL }) => {
  const origin = new URL(baseURL!).origin;
  await page.goto("/login");
  const push = await pushWorker(page, origin);

  await push({
    type: "approval.requested",
    approvalId: "apr-e2e-1",
    runId: "run-e2e-1",
    title: "Decision needed: run_command (medium risk)",
    body: "Payments · Fix the flaky test — run_command: npm test",
    url: `${origin}/approvals/apr-e2e-1`,
    actions: [
      { action: "approve", token: "ala_approve-token" },
      { action: "deny", token: "ala_deny-token" },
    ],
  });

  await expect.poll(async () => (await shown(page)).length).toBe(1);
  const [n] = await shown(page);
  expect(n).toMatchObject({
    title: "Decision needed: run_command (medium risk)",
    body: "Payments · Fix the flaky test — run_command: npm test",
    tag: "apr-e2e-1",
    requireInteraction: true,
    actions: [
      { action: "approve", title: "Approve" },
      { action: "deny", title: "Deny" },
    ],
  });
  expect(n!.data.url).toBe(`${origin}/approvals/apr-e2e-1`);
});

test("a high-risk request's Approve button says it opens the request (no token), Deny stays", async ({ page, baseURL }) => {
  const origin = new URL(baseURL!).origin;
  await page.goto("/login");
  const push = await pushWorker(page, origin);

  await push({
    type: "approval.requested",
    approvalId: "apr-e2e-2",
    runId: "run-e2e-2",
    title: "Decision needed: run_command (high risk)",
    body: "curl … | bash",
    url: `${origin}/approvals/apr-e2e-2`,
    actions: [{ action: "approve" }, { action: "deny", token: "ala_deny-token" }],
  });

  await expect.poll(async () => (await shown(page)).length).toBe(1);
  const [n] = await shown(page);
  expect(n!.actions).toEqual([
    { action: "approve", title: "Review to approve" },
    { action: "deny", title: "Deny" },
  ]);
});
