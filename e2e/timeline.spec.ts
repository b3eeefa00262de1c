// A run's timeline and the trends page (issue 16, parts 3 and 5), on a
// desktop and a 375 px phone: a finished run's totals (the plan's wait, the
// calls by verdict, the reviewer who decided), its events filtered by kind,
// and the trends of the period, each chart with its figures as text.
import { expect, test, type Page } from "@playwright/test";
import { apiSignin } from "./support/api";
import { decide, finishStep, planStep, setUpRunWorld, startRun, toolStep, waitForPendingApproval, waitForRunState, type RunWorld } from "./support/runs";

test.describe.configure({ mode: "parallel" });
test.setTimeout(180_000);

let world: RunWorld | null = null;
test.afterEach(async () => {
  await world?.dispose();
  world = null;
});

async function expectNoHorizontalScroll(page: Page) {
  const width = page.viewportSize()!.width;
  const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
  expect(scrollWidth, `page is ${scrollWidth}px wide in a ${width}px viewport`).toBeLessThanOrEqual(width);
}

test("a finished run's timeline shows its totals and who decided its plan, filters its events by kind, and Trends states its figures", async ({
  page,
  baseURL,
}) => {
  world = await setUpRunWorld(baseURL!, [
    planStep([{ title: "Write the greeting file" }]),
    toolStep("write_file", { path: "hello.txt", content: "hello\n" }),
    finishStep("Wrote the greeting."),
  ]);
  const run = await startRun(world, world.operatorApi);
  const plan = await waitForPendingApproval(world.reviewerApi, run.id, "submit_plan", 90_000);
  await new Promise((r) => setTimeout(r, 1500)); // the plan waits a noticeable moment for the reviewer
  await decide(world.reviewerApi, plan.id, "approve");
  const write = await waitForPendingApproval(world.reviewerApi, run.id, "write_file", 90_000).catch(() => null);
  if (write) await decide(world.reviewerApi, write.id, "approve");
  await waitForRunState(world.reviewerApi, run.id, ["succeeded"], 90_000);

  await apiSignin(page, world.reviewer);
  await page.goto(`/runs/${run.id}/timeline`);
  await expect(page.getByRole("heading", { name: run.title, level: 1 })).toBeVisible({ timeout: 60_000 });
  const totals = page.getByTestId("timeline-totals");
  await expect(totals).toContainText("Waiting for people");
  await expect(page.getByText("No cap was hit.")).toBeVisible();

  const items = page.getByTestId("timeline-items");
  const planApproval = items.locator("[data-kind=approval]").filter({ hasText: "Plan approval" });
  await expect(planApproval).toContainText(`decided by ${world.reviewer.email}`);
  await expect(planApproval).toContainText(/waited \d+ s/);
  await expect(items.locator("[data-kind=model]").first()).toContainText(/in · .* out/);
  await expect(items.locator("[data-kind=tool]").filter({ hasText: "write_file" })).toHaveCount(1);
  const calls = await items.locator("[data-kind=tool]").count();
  await expect(totals.getByTestId("total-calls")).toHaveText(String(calls));
  await expect(totals).toContainText(/\d+ allowed · \d+ asked · 0 denied/);

  // Filters: hiding tool calls leaves the rest.
  const chip = page.getByRole("group", { name: "Show kinds" }).getByRole("button", { name: /^Tool calls/ });
  await chip.click();
  await expect(chip).toHaveAttribute("aria-pressed", "false");
  await expect(items.locator("[data-kind=tool]")).toHaveCount(0);
  await expect(items.locator("[data-kind=approval]").first()).toBeVisible();
  await chip.click();
  await expect(items.locator("[data-kind=tool]")).toHaveCount(calls);
  await expectNoHorizontalScroll(page);

  await page.goto("/trends");
  await expect(page.getByRole("heading", { name: "Trends", level: 1 })).toBeVisible();
  await page.getByRole("group", { name: "Period" }).getByRole("button", { name: "7 days" }).click();
  await expect(page.getByRole("button", { name: "7 days" })).toHaveAttribute("aria-pressed", "true");
  await expect(page.getByTestId("trend-runs-by-outcome")).toContainText(/\d+ succeeded/);
  await expect(page.getByTestId("approval-wait-figures")).toContainText(/p50 .* · p95 .* over \d+ decided request/);
  await expect(page.getByTestId("trend-runs-by-outcome").getByRole("img")).toHaveAttribute("aria-label", /Runs by outcome per day: \d+ succeeded/);
  await expectNoHorizontalScroll(page);
});
