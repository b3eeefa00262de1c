// Honest outcomes (issue 11, item 8): an agent that claims success after a
// reviewer denied one of its calls is not shown as a green "Succeeded", plan
// steps are ticked only when the agent reported them done, and the runs list
// counts pending requests and puts runs that wait for a decision first.
import { expect, test } from "@playwright/test";
import { apiSignin } from "./support/api";
import {
  autoApprove,
  decide,
  finishStep,
  planStep,
  setUpRunWorld,
  startRun,
  toolStep,
  waitForPendingApproval,
  waitForRunState,
  type RunWorld,
} from "./support/runs";

test.describe.configure({ mode: "parallel" });
test.setTimeout(180_000);

let world: RunWorld | null = null;
test.afterEach(async () => {
  await world?.dispose();
  world = null;
});

test("a run whose agent reports success after a reviewer denied a command reads 'Finished — the agent reports success · 1 call denied', and only reported steps are ticked", async ({
  page,
  baseURL,
}) => {
  world = await setUpRunWorld(baseURL!, [
    planStep([{ title: "Look around" }, { title: "Print the greeting", risk: "medium", risk_note: "runs a shell command" }]),
    toolStep("complete_step", { step: 1, note: "looked around" }),
    toolStep("run_command", { command: "echo hello-from-sandbox > greeting.txt && cat greeting.txt" }),
    finishStep("All done, everything worked.", "success"),
  ]);
  const run = await startRun(world, world.operatorApi);
  const stop = autoApprove(world.reviewerApi, run.id, (a) => a.tool === "run_command");
  try {
    const command = await waitForPendingApproval(world.reviewerApi, run.id, "run_command", 90_000);
    await decide(world.reviewerApi, command.id, "deny", { reason: "not on this machine" });
    await waitForRunState(world.reviewerApi, run.id, ["succeeded", "failed"], 90_000);
  } finally {
    stop();
  }

  await apiSignin(page, world.reviewer);
  await page.goto(`/runs/${run.id}`);
  await expect(page.getByRole("heading", { name: run.title, level: 1 })).toBeVisible({ timeout: 60_000 });
  const header = page.locator("header").filter({ has: page.getByRole("heading", { name: run.title, level: 1 }) });
  const badge = header.locator("[data-state=succeeded]");
  await expect(badge).toHaveText("Finished — the agent reports success · 1 call denied");
  await expect(badge).toHaveAttribute("data-outcome", "success-with-denials");
  await expect(header.getByText("The run succeeded")).toHaveCount(0);
  await expect(header.getByText("Succeeded", { exact: true })).toHaveCount(0);
  await expect(header.getByRole("status").filter({ hasText: "Finished — the agent reports success · 1 call denied" })).toContainText(
    "All done, everything worked.",
  );

  // Step 1 was reported done; step 2 never was, so it is not ticked although the agent "succeeded".
  const steps = page.getByRole("list", { name: "Plan steps" }).getByRole("listitem");
  await expect(steps).toHaveCount(2);
  await expect(steps.nth(0)).toContainText("Step 1 (reported done)");
  await expect(steps.nth(0)).toContainText("✓");
  await expect(steps.nth(1)).not.toContainText("reported done");
  await expect(steps.nth(1)).not.toContainText("✓");
  await expect(page.getByRole("button", { name: /^Plan\s*2 steps · 1 of 2 steps reported done/ })).toBeVisible();

  // The runs list says the same (All: a finished run is not in the Active view).
  await page.goto("/runs?view=all");
  const row = page.getByTestId("run-row").filter({ has: page.getByRole("link", { name: run.title }) });
  await expect(row.locator("[data-state=succeeded]")).toHaveText("Finished — the agent reports success · 1 call denied", { timeout: 30_000 });
  await expect(row.getByText("Succeeded", { exact: true })).toHaveCount(0);
});

test("the runs list counts a run's pending requests and shows runs waiting for a decision first", async ({ page, baseURL }) => {
  world = await setUpRunWorld(baseURL!, [planStep([{ title: "Look around" }])]);
  const waiting = await startRun(world, world.operatorApi, { title: `waits ${Date.now()}` });
  await waitForPendingApproval(world.reviewerApi, waiting.id, "submit_plan", 90_000);
  // A newer run that does not wait: stopped before it asks anything.
  const newer = await startRun(world, world.operatorApi, { title: `newer ${Date.now()}` });
  await world.adminApi.post("/api/trpc/runs.kill", { data: { json: { id: newer.id, reason: "not needed" } } });
  await waitForRunState(world.reviewerApi, newer.id, ["killed"], 60_000);

  await apiSignin(page, world.reviewer);
  await page.goto("/runs?view=all");
  const rows = page.getByTestId("run-row");
  const waitingRow = rows.filter({ has: page.getByRole("link", { name: waiting.title }) });
  await expect(waitingRow.getByTestId("run-pending-count")).toHaveText("1 pending");
  // Every run that waits comes before every run that does not, whatever their age.
  const order = await rows.evaluateAll((els) =>
    els.map((el) => el.querySelector('[data-testid="run-pending-count"], [data-state="awaiting_plan_approval"], [data-state="awaiting_approval"]') !== null),
  );
  const firstNotWaiting = order.indexOf(false);
  expect(firstNotWaiting === -1 || order.slice(firstNotWaiting).every((w) => !w), `waiting flags in list order: ${order.join(",")}`).toBeTruthy();
  const titles = await rows.getByRole("link").allTextContents();
  expect(titles.indexOf(waiting.title)).toBeLessThan(titles.indexOf(newer.title));
});
