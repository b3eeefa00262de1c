// Settings → Webhooks: an admin adds an endpoint (a receiver this test runs on
// loopback, allowed by AIRLOCK_NOTIFY_ALLOW_HOSTS=127.0.0.1 in scripts/e2e.sh),
// copies the secret shown once, sends a test the receiver can verify, reads the
// delivery log, disables and deletes it; a refused address gets the server's
// reason; non-admins are told why they cannot manage webhooks.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { expect, test } from "@playwright/test";
import { Webhook } from "standardwebhooks";
import { admin, apiSignin, createUser, signedInApi } from "./support/api";

async function startReceiver() {
  const received: { headers: http.IncomingHttpHeaders; body: string }[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/airlock-hook`;
  return {
    url,
    received,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

test("an admin adds a webhook, copies its secret once, sends a test that verifies, reads the log, disables and deletes it", async ({ page }) => {
  test.slow(); // many steps, each a round trip to a shared, busy machine
  const receiver = await startReceiver();
  try {
    await apiSignin(page, admin);
    await page.goto("/settings");
    const section = page.locator("#webhooks");
    await expect(section.getByRole("heading", { name: "Webhooks" })).toBeVisible();
    const form = page.getByRole("form", { name: "Add webhook" });

    // A loopback address that is not allowed: the server's reason, nothing saved.
    await form.getByLabel("Receiver URL").fill("http://127.0.0.2:9/hook");
    await form.getByRole("button", { name: "Add webhook" }).click();
    await expect(form.getByRole("alert")).toContainText("AIRLOCK_NOTIFY_ALLOW_HOSTS");

    await form.getByLabel("Receiver URL").fill(receiver.url);
    await form.getByLabel("Format").selectOption("standard");
    await form.getByLabel(/Run failed/).check();
    await form.getByRole("button", { name: "Add webhook" }).click();

    const shown = page.getByTestId("new-webhook-secret");
    await expect(shown).toBeVisible();
    const secret = await shown.getByRole("textbox", { name: "Signing secret" }).inputValue();
    expect(secret).toMatch(/^whsec_/);
    await shown.getByRole("button", { name: "I have copied it" }).click();
    await expect(shown).toHaveCount(0);

    const row = page.getByTestId("webhook-row").filter({ hasText: new URL(receiver.url).host });
    await expect(row.getByText("Enabled", { exact: true })).toBeVisible();
    await row.getByRole("button", { name: /^Send a test to/ }).click();
    await expect(row.getByText("Test delivered")).toBeVisible();
    await expect(row).toContainText("The receiver answered 204");

    // Only the test delivery: other specs running at the same time raise approvals, which this webhook also receives.
    const tests = receiver.received.filter((r) => String((r.headers as Record<string, unknown>)["webhook-id"] ?? "").startsWith("test_"));
    expect(tests).toHaveLength(1);
    const { headers, body } = tests[0]!;
    const verified = new Webhook(secret).verify(body, headers as Record<string, string>) as { type: string; data: { url: string } };
    expect(verified.type).toBe("webhook.test");

    await row.getByRole("button", { name: /^Delivery log of/ }).click();
    const entry = row.getByTestId("webhook-delivery").first();
    await expect(entry).toContainText("webhook.test");
    await expect(entry).toContainText("Delivered · 204");

    // The secret is never shown again.
    await page.reload();
    await expect(page.getByTestId("new-webhook-secret")).toHaveCount(0);
    await expect(page.getByText(secret)).toHaveCount(0);

    const again = page.getByTestId("webhook-row").filter({ hasText: new URL(receiver.url).host });
    await again.getByRole("button", { name: /^Disable / }).click();
    await expect(again.getByText("Disabled", { exact: true })).toBeVisible();
    await expect(again).toContainText(`Disabled by ${admin.email}`);

    await again.getByRole("button", { name: /^Delete / }).click();
    const dialog = page.getByRole("dialog", { name: "Delete this webhook?" });
    await dialog.getByRole("button", { name: "Delete webhook" }).click();
    await expect(dialog).toBeHidden();
    await expect(page.getByTestId("webhook-row").filter({ hasText: new URL(receiver.url).host })).toHaveCount(0);
  } finally {
    await receiver.close();
  }
});

test("a reviewer is told that only admins manage webhooks", async ({ page, baseURL }) => {
  const adminApi = await signedInApi(baseURL!);
  const reviewer = await createUser(adminApi, "reviewer", "hooks");
  await adminApi.dispose();

  await apiSignin(page, reviewer);
  await page.goto("/settings");
  await expect(page.getByRole("heading", { name: "Webhooks" })).toBeVisible();
  await expect(page.getByText(/Only admins add or change them/)).toBeVisible();
  await expect(page.getByRole("form", { name: "Add webhook" })).toHaveCount(0);
});
