import { expect, test } from "@playwright/test";
import { admin, apiSignin } from "./support/api";
import { finishStep, planStep, setUpRunWorld, startRun, toolStep } from "./support/runs";

test.setTimeout(200_000);
test("screens", async ({ page, baseURL, isMobile }) => {
  test.skip(isMobile);
  await page.emulateMedia({ colorScheme: "dark" });
  const world = await setUpRunWorld(baseURL!, [
    planStep([{ title: "Edit the config" }]),
    toolStep("write_file", { path: "config.json", content: "{\n  \"name\": \"demo\",\n  \"port\": 8080,\n  \"debug\": true\n}\n" }),
    toolStep("edit_file", { path: "config.json", old_string: "\"port\": 8080", new_string: "\"port\": 9090" }),
    finishStep(),
  ]);
  const run = await startRun(world, world.operatorApi, { title: "Tune the config" });
  await apiSignin(page, world.reviewer);
  await page.goto(`/runs/${run.id}`);
  await page.getByRole("button", { name: "Approve plan" }).click({ timeout: 60000 });
  await page.getByRole("article", { name: /^write_file/ }).getByRole("button", { name: "Approve", exact: true }).click({ timeout: 30000 });
  const edit = page.getByRole("article", { name: /^edit_file/ });
  await expect(edit).toBeVisible({ timeout: 30000 });
  await edit.getByRole("button", { name: "Side by side" }).click();
  await edit.screenshot({ path: `/tmp/shots/mine-dark-edit-card.png` });
  await page.screenshot({ path: `/tmp/shots/mine-dark-run.png` });
  await world.dispose();
  await page.context().clearCookies();
  await apiSignin(page, admin);
  await page.goto("/runs");
  await page.waitForTimeout(1000);
  await page.screenshot({ path: `/tmp/shots/mine-dark-admin-runs.png` });
});
