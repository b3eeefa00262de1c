// The audit page: events just made, filters in the URL, paging, verify, export.
import fs from "node:fs/promises";
import { expect, test, type Page } from "@playwright/test";
import { apiSignin, createUser, signedInApi, trpcMutation } from "./support/api";

async function openFilters(page: Page) {
  // On phones the filter form is folded away behind a button.
  const toggle = page.getByRole("button", { name: /^Filters/ });
  if (await toggle.isVisible()) await toggle.click();
}

test("shows the events just made, filters by action, verifies the chain and exports the filtered events", async ({ page, baseURL }) => {
  // A user of its own, so events from tests running in parallel don't push ours off the first page.
  const adminApi = await signedInApi(baseURL!);
  const operator = await createUser(adminApi, "operator", "auditor");
  await adminApi.dispose();
  const api = await signedInApi(baseURL!, operator);
  const name = `audit-e2e-${Date.now()}`;
  const created = await trpcMutation<{ id: string; token: string }>(api, "tokens.create", { name });
  await api.dispose();

  await apiSignin(page, operator);
  await page.goto(`/audit?actor=${encodeURIComponent(operator.email)}`);
  const rows = page.getByTestId("audit-event");
  // This user's sign-ins (API helper, then browser) and the token they created.
  await expect(rows.filter({ hasText: "auth.sign_in" })).toHaveCount(2);
  const target = page.getByRole("link", { name: `token:${created.id.slice(0, 8)}…` });
  await expect(target).toBeVisible();

  await openFilters(page);
  const filters = page.getByRole("form", { name: "Audit filters" });
  await filters.getByLabel("Action").fill("token.create");
  await filters.getByRole("button", { name: "Apply filters" }).click();
  await expect(page).toHaveURL(/[?&]action=token\.create(&|$)/);
  await expect(page.getByRole("list", { name: "Active filters" })).toContainText("token.create");

  // This actor and token.create: exactly the one token, the sign-ins are gone.
  await expect(rows).toHaveCount(1);
  await expect(rows.locator("td:nth-child(3) .font-mono")).toHaveText("token.create");

  // Details are collapsed until asked for.
  const row = rows.filter({ has: page.getByRole("link", { name: `token:${created.id.slice(0, 8)}…` }) });
  await expect(page.getByText(name)).toHaveCount(0);
  await row.getByRole("button", { name: /^Details/ }).click();
  await expect(page.getByText(`"name": "${name}"`)).toBeVisible();

  // The filter survives a reload (it lives in the URL).
  await page.reload();
  await expect(page.getByRole("list", { name: "Active filters" })).toContainText("token.create");

  await page.getByRole("button", { name: "Verify chain" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Chain intact" })).toBeVisible();

  const jsonlDownload = page.waitForEvent("download");
  await page.getByRole("link", { name: "Export JSONL" }).click();
  const jsonl = await jsonlDownload;
  expect(jsonl.suggestedFilename()).toMatch(/^airlock-audit-.*\.jsonl$/);
  const lines = (await fs.readFile((await jsonl.path())!, "utf8"))
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { action: string; targetId: string; details: { name?: string } });
  // Same filters as the page (this actor, token.create): exactly the one token.
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatchObject({ action: "token.create", targetId: created.id, details: { name } });

  const csvDownload = page.waitForEvent("download");
  await page.getByRole("link", { name: "Export CSV" }).click();
  const csv = await fs.readFile((await (await csvDownload).path())!, "utf8");
  const csvLines = csv.trim().split("\r\n");
  expect(csvLines[0]).toContain("seq,id,at,actorId,actorLabel,action");
  expect(csvLines).toHaveLength(2);
  expect(csvLines[1]).toContain(`"${created.id}"`);
});

test("loads older events page by page and filters by actor and time range", async ({ page, baseURL }) => {
  const adminApi = await signedInApi(baseURL!);
  const operator = await createUser(adminApi, "operator", "busy");
  await adminApi.dispose();

  // 55 events by one actor: more than one page (50).
  const api = await signedInApi(baseURL!, operator);
  for (let i = 0; i < 55; i++) await trpcMutation(api, "tokens.create", { name: `bulk-${i}` });
  await api.dispose();

  await apiSignin(page, operator);
  await page.goto(`/audit?actor=${encodeURIComponent(operator.email)}&action=token.create`);
  const rows = page.getByTestId("audit-event");
  await expect(rows).toHaveCount(50);
  await expect(page.getByText("50 events shown")).toBeVisible();
  await page.getByRole("button", { name: "Load more" }).click();
  await expect(rows).toHaveCount(55);
  await expect(page.getByText("55 events shown · no older events")).toBeVisible();
  await expect(page.getByRole("button", { name: "Load more" })).toHaveCount(0);

  // A time range entirely in the future matches nothing.
  await openFilters(page);
  const filters = page.getByRole("form", { name: "Audit filters" });
  await filters.getByLabel("From").fill("2099-01-01T00:00");
  await filters.getByRole("button", { name: "Apply filters" }).click();
  await expect(page).toHaveURL(/[?&]from=2099-/);
  await expect(page.getByRole("heading", { name: "No events match these filters" })).toBeVisible();
  await page.getByRole("button", { name: "Remove from filter" }).click();
  // Back to the earlier filter: both pages loaded before come back.
  await expect(rows).toHaveCount(55);
});
