// The search page (desktop and phone): a finished run's command output is
// found with the match marked, the hit opens the run at that place, hostile
// query text is just text, and the run's log downloads as a file.
import crypto from "node:crypto";
import { expect, test } from "@playwright/test";
import { apiSignin } from "./support/api";
import { autoApprove, finishStep, perConversation, planStep, setUpRunWorld, startRun, toolStep, waitForRunState, type RunWorld } from "./support/runs";

let world: RunWorld;
test.afterEach(async () => world?.dispose());

test("search finds a finished run's output, marks the match, opens the run at it, and the run's log downloads", async ({ page, baseURL }) => {
  test.setTimeout(180_000);
  const token = `kiwi${crypto.randomBytes(4).toString("hex")}`;
  world = await setUpRunWorld(
    baseURL!,
    perConversation([planStep([{ title: "Print the token" }]), toolStep("run_command", { command: `echo "<b>${token}</b>"` }), finishStep()]),
  );
  const run = await startRun(world, world.operatorApi);
  const stop = autoApprove(world.reviewerApi, run.id);
  try {
    await waitForRunState(world.operatorApi, run.id, ["succeeded"], 120_000);
  } finally {
    stop();
  }

  await apiSignin(page, world.operator);
  await page.goto("/search");
  const form = page.getByRole("search", { name: "Search" });
  await form.getByLabel("Search for").fill(`${token.slice(0, 8)}`); // the last word matches as a prefix
  await form.getByRole("button", { name: "Output" }).click();
  await form.getByRole("button", { name: "Search", exact: true }).click();
  await expect(page).toHaveURL(/[?&]q=kiwi/);

  const hit = page.getByTestId("search-hit").first();
  await expect(hit).toBeVisible({ timeout: 30_000 });
  await expect(hit.locator("mark")).toHaveText(token);
  // The markup the command printed is text, not elements.
  await expect(hit).toContainText(`<b>${token}</b>`);
  await expect(hit.locator("b")).toHaveCount(0);
  const box = await page.locator("main").boundingBox();
  expect(box!.width).toBeLessThanOrEqual(page.viewportSize()!.width);

  await hit.click();
  await expect(page).toHaveURL(new RegExp(`/runs/${run.id}#event-\\d+$`));
  const target = page.locator("[data-search-target]");
  await expect(target).toBeVisible({ timeout: 30_000 });
  await expect(target).toContainText(token);
  await expect(target).toBeInViewport();

  const download = page.waitForEvent("download");
  await page.getByTestId("run-log-download").click();
  const file = await download;
  expect(file.suggestedFilename()).toMatch(/^airlock-run-.*\.log$/);
  const fs = await import("node:fs/promises");
  expect(await fs.readFile((await file.path())!, "utf8")).toContain(token);

  // Quotes, operators and brackets are searched as text: no error, just no matches.
  await page.goto(`/search?q=${encodeURIComponent('"(( NEAR( body: *')}`);
  await expect(page.getByRole("heading", { name: "No matches" })).toBeVisible({ timeout: 30_000 });
});
