// Reviewers approve from phones: the same approval flow at 375 px, from the
// approvals inbox (live, no reloads), with edits, a denial with a reason, and
// a request someone else decided first.
import { expect, test, type Page } from "@playwright/test";
import { apiSignin, createUser, signedInApi } from "./support/api";
import { decide, finishStep, planStep, setUpRunWorld, startRun, toolStep, waitForPendingApproval, type RunWorld } from "./support/runs";

test.describe.configure({ mode: "parallel" });
test.setTimeout(150_000);

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

function cardFor(page: Page, runTitle: string, subject: RegExp) {
  return page.getByRole("article", { name: subject }).filter({ has: page.getByRole("link", { name: runTitle }) });
}

test("@phone-only a reviewer edits and approves a plan, approves a diff and an edited command from the inbox", async ({ page, baseURL }) => {
  world = await setUpRunWorld(baseURL!, [
    planStep([{ title: "Write the greeting file" }, { title: "Print it", risk: "high", risk_note: "runs a command" }]),
    toolStep("write_file", { path: "hello.txt", content: "hello from the agent\n" }),
    toolStep("run_command", { command: "echo hello-from-sandbox > greeting.txt && cat greeting.txt" }),
    finishStep("All done from a phone review."),
  ]);
  const run = await startRun(world, world.operatorApi);
  await apiSignin(page, world.reviewer);
  await page.goto("/runs");
  const nav = page.getByRole("navigation", { name: "Main" });
  await nav.getByRole("link", { name: /Approvals/ }).click();
  await expect(page.getByRole("heading", { name: "Approvals", level: 1 })).toBeVisible();
  await expect(page.getByRole("tab", { name: /Pending/ })).toHaveAttribute("aria-selected", "true");

  // The plan: edit a title, drop a step, approve the edited plan.
  const plan = cardFor(page, run.title, /^Plan · 2 steps/);
  await expect(plan).toBeVisible({ timeout: 60_000 });
  await expect(nav.getByTestId("pending-approvals-badge")).toBeVisible();
  await expect(plan.getByText("high risk")).toBeVisible();
  await plan.getByRole("button", { name: "Edit plan" }).click();
  await plan.getByLabel("Step 1 title").fill("Write hello.txt (edited)");
  await plan.getByRole("button", { name: "Remove step 2" }).click();
  await expect(plan.getByLabel("Step 2 title")).toHaveCount(0);
  await expectNoHorizontalScroll(page);
  await plan.getByRole("button", { name: "Approve edited" }).click();
  await expect(plan).toBeHidden();

  // The file change arrives without a reload; side by side is not offered at this width.
  const write = cardFor(page, run.title, /^write_file · hello\.txt/);
  await expect(write).toBeVisible({ timeout: 30_000 });
  await expect(write.locator('[data-diff-line="add"]')).toContainText("hello from the agent");
  await expect(write.getByRole("button", { name: "Side by side" })).toBeDisabled();
  await expect(write.getByTestId("diff-view")).toHaveAttribute("data-diff-mode", "unified");
  await expectNoHorizontalScroll(page);
  await write.getByRole("button", { name: "Approve", exact: true }).click();
  await expect(write).toBeHidden();

  // The command, edited before approving.
  const command = cardFor(page, run.title, /^run_command · /);
  await expect(command).toBeVisible({ timeout: 30_000 });
  await expect(command.getByText("command-writes-file").first()).toBeVisible();
  await command.getByRole("button", { name: "Edit command" }).click();
  await command.getByLabel("Command to run instead").fill("echo edited-on-phone");
  await command.getByRole("button", { name: "Approve edited" }).click();
  await expect(command).toBeHidden();

  // On the run page: the edited plan, the command's output, the run's success.
  await page.goto(`/runs/${run.id}`);
  await expect(page.getByRole("log", { name: /^Output of run_command/ })).toContainText("edited-on-phone", { timeout: 30_000 });
  await expect(page.getByText("The run succeeded")).toBeVisible({ timeout: 30_000 });
  await expect(page.getByRole("list", { name: "Plan steps" })).toContainText("Write hello.txt (edited)");
  await expect(page.getByRole("list", { name: "Plan steps" }).getByRole("listitem")).toHaveCount(1);
  const commandCall = page.getByRole("article", { name: /^Tool call #\d+ run_command/ });
  await expect(commandCall.getByTestId("approval-state")).toContainText("edited");
  await expectNoHorizontalScroll(page);

  // Decided requests are listed with their outcome.
  await page.goto("/approvals?tab=decided");
  await expect(page.getByTestId("approval-history-row").filter({ hasText: run.title }).first()).toBeVisible();
});

test("@phone-only a reviewer denies a write with a reason and the agent is told why", async ({ page, baseURL }) => {
  world = await setUpRunWorld(baseURL!, [
    planStep([{ title: "Create a secret" }]),
    toolStep("write_file", { path: "secret.txt", content: "nope\n" }),
    finishStep("Gave up.", "failure"),
  ]);
  const run = await startRun(world, world.operatorApi);
  await decide(world.reviewerApi, (await waitForPendingApproval(world.reviewerApi, run.id, "submit_plan")).id, "approve");

  await apiSignin(page, world.reviewer);
  await page.goto("/approvals");
  const write = cardFor(page, run.title, /^write_file · secret\.txt/);
  await expect(write).toBeVisible({ timeout: 60_000 });
  await write.getByRole("button", { name: "Deny", exact: true }).click();
  await write.getByRole("button", { name: "Deny request" }).click();
  await expect(write.getByRole("alert")).toHaveText("Reason for denying is required.");
  await write.getByLabel("Reason for denying").fill("do not create secrets");
  await write.getByRole("button", { name: "Deny request" }).click();
  await expect(write).toBeHidden();

  await page.goto(`/runs/${run.id}`);
  const call = page.getByRole("article", { name: /^Tool call #\d+ write_file/ });
  await expect(call.getByTestId("tool-error")).toContainText("DENIED_BY_REVIEWER", { timeout: 30_000 });
  await expect(call.getByTestId("tool-error")).toContainText("do not create secrets");
  await expect(call.getByTestId("approval-state")).toContainText(`Denied by ${world.reviewer.email}`);
  await expectNoHorizontalScroll(page);
});

test("@phone-only when another reviewer decides first, the server's message is shown and the list refreshes", async ({ page, baseURL }) => {
  world = await setUpRunWorld(baseURL!, [planStep([{ title: "Anything" }])]);
  const run = await startRun(world, world.operatorApi);
  const pending = await waitForPendingApproval(world.reviewerApi, run.id, "submit_plan");
  const adminApi = await signedInApi(baseURL!);
  const other = await createUser(adminApi, "reviewer", "other-reviewer");
  await adminApi.dispose();
  const otherApi = await signedInApi(baseURL!, other);

  // Without live updates this page does not learn about the other decision until it acts.
  await page.route("**/api/trpc/approvals.changes**", (route) => route.abort());
  await apiSignin(page, world.reviewer);
  await page.goto("/approvals");
  const plan = cardFor(page, run.title, /^Plan · 1 step/);
  await expect(plan).toBeVisible({ timeout: 30_000 });
  await decide(otherApi, pending.id, "approve");
  await otherApi.dispose();

  await plan.getByRole("button", { name: "Approve plan" }).click();
  const notice = page.getByRole("status").filter({ hasText: "Someone else got there first" });
  await expect(notice).toContainText(`This request was already approved by ${other.email}; nothing changed.`);
  await expect(plan).toBeHidden();
});
