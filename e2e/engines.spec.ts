// Settings → Engines (issue 17): an admin registers an engine, sees it down
// with the reason, drains it and deletes it; a viewer does not see the section
// (and the server refuses the procedures to them anyway).
import { expect, test } from "@playwright/test";
import { admin, apiSignin, createUser, signedInApi, trpcQuery } from "./support/api";

test("an admin adds an engine on a closed loopback port, sees it down with the reason, drains it and deletes it", async ({ page }, testInfo) => {
  // Per project and attempt: desktop and phone run side by side against one dashboard.
  const name = `closed-${testInfo.project.name}-${Date.now().toString(36)}`.slice(0, 40);
  await apiSignin(page, admin);
  await page.goto("/settings");
  const section = page.getByRole("region", { name: "Engines", exact: true });
  await expect(page.getByRole("heading", { name: "Engines", exact: true })).toBeVisible();
  await expect(section.getByTestId("engine-row").filter({ hasText: "local" }).first()).toBeVisible();

  await section.getByRole("button", { name: "Add engine" }).click();
  const form = page.getByRole("form", { name: "Add engine" });
  await form.getByLabel("Name").fill(name);
  await form.getByLabel("Endpoint").fill("tcp://127.0.0.1:1");
  await form.getByLabel("Labels").fill("gpu, e2e");
  await form.getByLabel("Runs at once").fill("2");
  await form.getByRole("button", { name: "Add engine" }).click();
  await expect(form).toBeHidden();

  const row = page.getByTestId("engine-row").filter({ has: page.getByRole("heading", { name, exact: true }) });
  await expect(row.getByText("Down", { exact: true })).toBeVisible();
  await expect(row.getByTestId("engine-down")).toContainText("Unreachable since");
  await expect(row.getByTestId("engine-down")).toContainText("refused the connection: nothing listens there");
  await expect(row).toContainText("2 runs");
  await expect(row.getByText("gpu", { exact: true })).toBeVisible();

  await row.getByRole("switch", { name: "Drain" }).check();
  await expect(row.getByText("Draining", { exact: true })).toBeVisible();
  await page.reload();
  await expect(
    page
      .getByTestId("engine-row")
      .filter({ has: page.getByRole("heading", { name, exact: true }) })
      .getByRole("switch", { name: "Drain" }),
  ).toBeChecked();

  await page.getByRole("button", { name: `Delete engine ${name}` }).click();
  const dialog = page.getByRole("dialog", { name: `Delete engine ${name}?` });
  await dialog.getByRole("button", { name: "Delete engine" }).click();
  await expect(dialog).toBeHidden();
  await expect(page.getByRole("heading", { name, exact: true })).toHaveCount(0);
});

test("a viewer does not see Settings → Engines, and the server refuses them the list", async ({ page, baseURL }) => {
  const adminApi = await signedInApi(baseURL!);
  const viewer = await createUser(adminApi, "viewer");
  await adminApi.dispose();

  await apiSignin(page, viewer);
  await page.goto("/settings");
  await expect(page.getByRole("heading", { name: "Your account" })).toBeVisible();
  await expect(page.getByRole("heading", { name: "Engines", exact: true })).toHaveCount(0);
  await expect(page.getByRole("link", { name: "Engines" })).toHaveCount(0);
  const res = await trpcQuery(page.request, "engines.list");
  expect(res.status()).toBe(403);
});
