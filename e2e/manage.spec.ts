// Issue 16, everyday management, on a desktop and a 375 px phone: model
// endpoints tested, edited and deleted from Settings; every section reached
// from the phone navigation; read-only views that say who may change them.
import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Page } from "@playwright/test";
import crypto from "node:crypto";
import { startScriptedModelServer } from "../test/helpers/model-server";
import { admin, apiSignin, createUser, signedInApi, trpcMutation } from "./support/api";

// Several page loads and round trips to the model server per test, on a machine shared with other suites.
test.setTimeout(120_000);

/** axe-core's WCAG 2.0/2.1 A and AA rules, as e2e/a11y.spec.ts runs them on the main pages. */
async function expectNoAxeViolations(page: Page, what: string) {
  const results = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21aa"]).setLegacyMode().analyze();
  expect(
    results.violations.map((v) => `${v.id}: ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`),
    `axe violations on ${what}`,
  ).toEqual([]);
}

async function expectNoHorizontalScroll(page: Page) {
  const width = page.viewportSize()!.width;
  const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
  expect(scrollWidth, `page is ${scrollWidth}px wide in a ${width}px viewport`).toBeLessThanOrEqual(width);
}

test("model endpoints cannot be tested, edited or deleted — now an admin tests, edits and deletes one from Settings", async ({ page, baseURL }) => {
  const server = await startScriptedModelServer([], { model: "e2e-llama", apiKey: "sk-e2e-right" });
  const adminApi = await signedInApi(baseURL!);
  const name = `managed-${crypto.randomBytes(3).toString("hex")}`;
  try {
    await trpcMutation(adminApi, "models.create", { name, baseUrl: server.baseUrl, model: "e2e-llama", apiKey: "sk-e2e-wrong" });
    await apiSignin(page, admin);
    await page.goto("/settings");
    // The section links take a phone to the endpoints.
    await page.getByRole("navigation", { name: "Settings sections" }).getByRole("link", { name: "Model endpoints" }).click();
    await expect(page).toHaveURL(/#models-title$/);

    const row = page.getByTestId("model-row").filter({ hasText: name });
    await expect(row).toBeVisible({ timeout: 30_000 });
    // Wrong key: the 401 in plain words.
    await row.getByRole("button", { name: "Test connection" }).click();
    await expect(row.getByTestId("model-test-result")).toContainText("The API key was refused");
    await expect(row.getByTestId("model-test-result")).toContainText("HTTP 401");

    // Edit: rename and replace the key; test the new settings before saving.
    await row.getByRole("button", { name: "Edit" }).click();
    const dialog = page.getByRole("dialog", { name: `Edit ${name}` });
    await dialog.getByLabel("Endpoint name").fill(`${name}-edited`);
    await dialog.getByLabel("API key", { exact: true }).selectOption("replace");
    await dialog.getByLabel("New API key").fill("sk-e2e-right");
    await dialog.getByRole("button", { name: "Test these settings" }).click();
    await expect(dialog.getByText(/Connected in \d+ ms/)).toBeVisible();
    await dialog.getByRole("button", { name: "Save" }).click();
    await expect(dialog).toBeHidden();

    const edited = page.getByTestId("model-row").filter({ hasText: `${name}-edited` });
    await edited.getByRole("button", { name: "Test connection" }).click();
    const result = edited.getByTestId("model-test-result");
    await expect(result).toContainText(/Connected in \d+ ms/);
    await expect(result).toContainText("1 model listed: e2e-llama.");
    await expectNoHorizontalScroll(page);

    // No run used it: deleted.
    await edited.getByRole("button", { name: "Delete" }).click();
    const confirm = page.getByRole("dialog", { name: `Delete ${name}-edited?` });
    await expect(confirm).toContainText("No run used this endpoint");
    await confirm.getByRole("button", { name: "Delete" }).click();
    await expect(page.getByTestId("model-row").filter({ hasText: `${name}-edited` })).toHaveCount(0);
  } finally {
    await adminApi.dispose();
    await server.close();
  }
});

test("@phone-only Projects and Red team cannot be reached from the phone navigation — now the More tab lists them", async ({ page }) => {
  await apiSignin(page, admin);
  await page.goto("/runs");
  const nav = page.getByRole("navigation", { name: "Main" });
  for (const [link, heading] of [
    ["Projects", "Projects"],
    ["Red team", "Red team"],
  ] as const) {
    await nav.getByRole("button", { name: "More" }).click();
    const sheet = page.getByRole("dialog", { name: "More sections" });
    await expect(sheet).toBeVisible();
    await sheet.getByRole("link", { name: new RegExp(`^${link}`) }).click();
    await expect(page.getByRole("heading", { name: heading, level: 1 })).toBeVisible();
    await expect(sheet).toBeHidden();
    await expectNoHorizontalScroll(page);
  }
  // The More tab shows where you are.
  await nav.getByRole("button", { name: "More" }).click();
  await expect(page.getByRole("dialog", { name: "More sections" }).getByRole("link", { name: /^Red team/ })).toHaveAttribute("aria-current", "page");
  await expectNoAxeViolations(page, "the More sheet");
});

test("read-only users see greyed-out inputs with no explanation — now a viewer sees values as text and who may change them", async ({ page, baseURL }) => {
  const adminApi = await signedInApi(baseURL!);
  const name = `visible-${crypto.randomBytes(3).toString("hex")}`;
  try {
    await trpcMutation(adminApi, "models.create", { name, baseUrl: "http://127.0.0.1:9/v1", model: "shown-model" });
    const viewer = await createUser(adminApi, "viewer", "manage-viewer");
    await apiSignin(page, viewer);

    await page.goto("/settings");
    const models = page.getByRole("region", { name: "Model endpoints" });
    const row = page.getByTestId("model-row").filter({ hasText: name });
    await expect(row).toContainText("shown-model", { timeout: 30_000 });
    await expect(models.getByRole("note")).toHaveText("Only admins can change model endpoints.");
    // Values as text: no inputs, no buttons to change them.
    await expect(row.getByRole("button")).toHaveCount(0);
    await expect(page.getByRole("form", { name: "Add model endpoint" })).toHaveCount(0);
    await expect(models.getByRole("textbox")).toHaveCount(0);
    await expectNoAxeViolations(page, "Settings as a viewer");

    // The red team's reports are readable; starting one is not offered.
    await page.goto("/redteam");
    await expect(page.getByRole("heading", { name: "Red team", level: 1 })).toBeVisible();
    await expect(page.getByText("Only admins can start a red-team run.")).toBeVisible();
    await expect(page.getByRole("button", { name: "Run the red team" })).toHaveCount(0);

    // A project's settings as text, with the same line.
    await page.goto("/projects/default");
    await expect(page.getByTestId("project-settings-read-only")).toBeVisible();
    await expect(page.getByText("Only admins can change projects and their members.").first()).toBeVisible();
    await expect(page.getByRole("form", { name: "Project settings" })).toHaveCount(0);
    await expectNoHorizontalScroll(page);
  } finally {
    await adminApi.dispose();
  }
});

test("the New run form has no project picker and no workspace source — now it has both, and a repository outside the allowed roots is refused saying which roots", async ({
  page,
  baseURL,
}) => {
  const adminApi = await signedInApi(baseURL!);
  try {
    await trpcMutation(adminApi, "models.create", { name: `form-${crypto.randomBytes(3).toString("hex")}`, baseUrl: "http://127.0.0.1:9/v1", model: "m" });
    await apiSignin(page, admin);
    await page.goto("/runs/new");
    const form = page.getByRole("form", { name: "New run" });
    await expect(form.getByText(/Its policy and defaults apply/)).toBeVisible({ timeout: 30_000 });
    await form.getByLabel("Title").fill("from a repository");
    await form.getByLabel("Task").fill("Look around.");
    await form.getByRole("group", { name: "Workspace source" }).getByRole("button", { name: "Git repository" }).click();
    await form.getByLabel("Repository path").fill("/etc");
    await form.getByRole("button", { name: "Start run" }).click();
    // This dashboard allows no roots (AIRLOCK_REPO_ROOTS unset): the server says so and how to allow them.
    await expect(form.getByRole("alert")).toContainText(/AIRLOCK_REPO_ROOTS|not under an allowed repository root/);
    await expect(page).toHaveURL(/\/runs\/new$/);
    await expectNoHorizontalScroll(page);
  } finally {
    await adminApi.dispose();
  }
});
