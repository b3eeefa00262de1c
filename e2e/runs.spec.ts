// Runs end to end, in Debian's Chromium against the built dashboard, real
// Docker sandboxes and the scripted model server: starting a run from the
// form, reviewing its plan, a file diff and a command with live output,
// stopping a runaway command, and a 100 000-line log that stays virtualised.
import { expect, test, type Page } from "@playwright/test";
import { apiSignin, trpcMutation } from "./support/api";
import {
  approveIfAsked,
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

test("an operator starts a run from the form with lowered limits and lands on its page", async ({ page, baseURL }) => {
  world = await setUpRunWorld(baseURL!, [planStep([{ title: "Look around" }], "I will look around first.")]);
  await apiSignin(page, world.operator);
  await page.goto("/runs");
  await page.getByRole("link", { name: "New run" }).click();
  await expect(page.getByRole("heading", { name: "New run", level: 1 })).toBeVisible();

  const form = page.getByRole("form", { name: "New run" });
  const title = `form run ${Date.now()}`;
  await form.getByLabel("Title").fill(title);
  await form.getByLabel("Task").fill("List the workspace and say what is there.");
  await form.getByLabel("Model endpoint").selectOption({ label: `${world.modelName} — scripted-model` });
  await form.getByRole("switch", { name: "Step mode" }).check();
  await form.getByRole("button", { name: /^Limits/ }).click();
  await expect(form.getByText("Limits can only be lowered, never raised.")).toBeVisible();
  await expect(form.getByLabel("Memory (MB)")).toHaveAttribute("placeholder", "1024");
  await form.getByLabel("Memory (MB)").fill("512");
  await form.getByLabel("Command timeout (s)").fill("60");
  await form.getByRole("button", { name: "Start run" }).click();

  await expect(page).toHaveURL(/\/runs\/[0-9a-f-]{36}$/);
  world.runs.push(page.url().split("/").pop()!);
  await expect(page.getByRole("heading", { name: title, level: 1 })).toBeVisible();
  await expect(page.getByTestId("run-meta")).toContainText("step mode");
  // The plan arrives and waits for a reviewer; the operator cannot decide it.
  const plan = page.getByRole("article", { name: /^Plan · 1 step/ });
  await expect(plan).toBeVisible({ timeout: 60_000 });
  await expect(plan.getByTestId("cannot-decide")).toHaveText("Only reviewers and admins can decide. You can follow it here.");
  await expect(page.getByTestId("model-message").filter({ hasText: "I will look around first." })).toBeVisible();
  // Which runtime isolates the run, near its limits. The dashboard runs with AIRLOCK_RUNTIME=auto: gVisor where it works fully,
  // runc on Debian 12 (its runsc breaks coreutils' stat); either way the page names it, and the limits list agrees.
  const isolation = page.getByTestId("run-isolation");
  await expect(isolation).toContainText(/Isolated by gVisor \(runsc\)|runc.*shares the host kernel/);
  const gvisor = ((await isolation.textContent()) ?? "").includes("gVisor");
  await expect(page.getByTestId("run-engine")).toHaveText("on the local engine"); // issue 17: where it runs
  await expectNoHorizontalScroll(page); // readable on a 375 px phone too
  await page.getByRole("button", { name: /Task and limits/ }).click();
  await expect(page.getByRole("definition").filter({ hasText: gvisor ? "gVisor (runsc)" : /^runc$/ })).toBeVisible();
  await expect(page.getByRole("definition").filter({ hasText: "512 MB" })).toBeVisible();
  await expect(page.getByRole("definition").filter({ hasText: "60 s" })).toBeVisible();
});

test("a reviewer approves the plan, a file diff and a command, and watches its output arrive", async ({ page, baseURL, isMobile }) => {
  world = await setUpRunWorld(baseURL!, [
    planStep([{ title: "Write the greeting file" }, { title: "Print the greeting", risk: "medium", risk_note: "runs a shell command" }], "I'll plan first."),
    toolStep("write_file", { path: "hello.txt", content: "hello from the agent\n" }),
    toolStep("run_command", { command: "echo hello-from-sandbox > greeting.txt && cat greeting.txt" }),
    finishStep("Wrote hello.txt and greeting.txt."),
  ]);
  const run = await startRun(world, world.operatorApi);
  await apiSignin(page, world.reviewer);
  await page.goto(`/runs/${run.id}`);
  await expect(page.getByRole("heading", { name: run.title, level: 1 })).toBeVisible();

  // Plan: steps with their risks, who asked and why.
  const plan = page.getByRole("article", { name: /^Plan · 2 steps/ });
  await expect(plan).toBeVisible({ timeout: 60_000 });
  await expect(plan.getByText("Write the greeting file")).toBeVisible();
  await expect(plan.getByText("medium risk")).toBeVisible();
  await expect(plan.getByText("plan-review")).toBeVisible();
  await expect(plan.getByText("0 of 1 approval")).toBeVisible();
  await expect(plan.getByRole("timer")).toContainText("Expires in");
  await plan.getByRole("button", { name: "Approve plan" }).click();
  await expect(plan).toBeHidden();
  await expect(page.getByRole("button", { name: /^Plan\s*2 steps · on step 1/ })).toBeVisible();

  // The file change: a diff with the added line.
  const write = page.getByRole("article", { name: /^write_file · hello\.txt/ });
  await expect(write).toBeVisible({ timeout: 30_000 });
  await expect(write.getByText("New file")).toBeVisible();
  const added = write.locator('[data-diff-line="add"]');
  await expect(added).toHaveCount(1);
  await expect(added).toContainText("hello from the agent");
  await expect(write.getByText("workspace-write")).toBeVisible();
  if (isMobile) {
    // Too narrow for two columns: the unified view stays.
    await expect(write.getByRole("button", { name: "Side by side" })).toBeDisabled();
  } else {
    await write.getByRole("button", { name: "Side by side" }).click();
    await expect(write.getByTestId("diff-view")).toHaveAttribute("data-diff-mode", "split");
    await expect(write.locator('[data-diff-side="new"][data-diff-line="add"]')).toContainText("hello from the agent");
  }
  await write.getByRole("button", { name: "Approve", exact: true }).click();
  await expect(write).toBeHidden();

  // The command: its parts with their verdicts, then its output in the log.
  const command = page.getByRole("article", { name: /^run_command · echo hello-from-sandbox/ });
  await expect(command).toBeVisible({ timeout: 30_000 });
  await expect(command.getByLabel("Command", { exact: true })).toContainText("echo hello-from-sandbox > greeting.txt && cat greeting.txt");
  await expect(command.getByRole("list", { name: "Command parts" })).toBeVisible();
  await command.getByRole("button", { name: "Approve", exact: true }).click();

  const log = page.getByRole("log", { name: /^Output of run_command/ });
  await expect(log).toContainText("hello-from-sandbox", { timeout: 30_000 });
  await expect(page.getByText("The run succeeded")).toBeVisible({ timeout: 30_000 });
  await expect(page.getByText("Wrote hello.txt and greeting.txt.").first()).toBeVisible();

  // The timeline keeps every call with its decision and result.
  const writeCall = page.getByRole("article", { name: /^Tool call #\d+ write_file/ });
  await expect(writeCall.getByTestId("approval-state")).toContainText(`Approved by ${world.reviewer.email}`);
  await expect(writeCall.getByTestId("tool-result")).toContainText("Wrote 21 bytes to hello.txt");
  await expect(page.getByTestId("state-change").filter({ hasText: "Succeeded" })).toBeVisible();
  await expectNoHorizontalScroll(page);
});

test("a queued run's page shows its place in line and why it waits, and its operator cancels it there", async ({ page, baseURL }) => {
  world = await setUpRunWorld(baseURL!, [planStep([{ title: "Look around" }]), planStep([{ title: "Look around" }])]);
  // A project that allows one run at a time: the second run waits for the first, whatever else runs on the instance.
  const slug = `queue-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
  const { id: projectId } = await trpcMutation<{ id: string }>(world.adminApi, "projects.create", { slug, name: `Queue ${slug}`, maxConcurrentRuns: 1 });
  const first = await startRun(world, world.operatorApi, { projectId });
  await waitForPendingApproval(world.reviewerApi, first.id, "submit_plan");
  const second = await startRun(world, world.operatorApi, { projectId });

  await apiSignin(page, world.operator);
  await page.goto(`/runs/${second.id}`);
  await expect(page.locator("h1 + [data-state]")).toHaveAttribute("data-state", "queued");
  const status = page.getByTestId("queue-status");
  await expect(status).toContainText(/Queued: #\d+ in line/);
  await expect(status).toContainText(`project Queue ${slug} allows 1 run at a time`);
  await expectNoHorizontalScroll(page);

  await page.getByRole("button", { name: "Cancel run" }).click();
  const dialog = page.getByRole("dialog", { name: "Cancel this queued run?" });
  await dialog.getByLabel("Reason (optional)").fill("not needed after all");
  await dialog.getByRole("button", { name: "Cancel run now" }).click();
  await expect(dialog).toBeHidden();
  await expect(page.locator("h1 + [data-state]")).toHaveAttribute("data-state", "killed");
  await expect(page.getByTestId("ended-reason")).toContainText("not needed after all");
  await expect(status).toHaveCount(0);
  expect((await waitForRunState(world.operatorApi, second.id, ["killed"])).endedReason).toBe("not needed after all");
});

test("a reviewer stops a run during a long command and sees it marked killed with the reason", async ({ page, baseURL }) => {
  world = await setUpRunWorld(baseURL!, [planStep([{ title: "Wait a long time" }]), toolStep("run_command", { command: "sleep 300" }), finishStep()]);
  const run = await startRun(world, world.operatorApi);
  await decide(world.reviewerApi, (await waitForPendingApproval(world.reviewerApi, run.id, "submit_plan")).id, "approve");
  await approveIfAsked(world.reviewerApi, run.id, "run_command");

  await apiSignin(page, world.reviewer);
  await page.goto(`/runs/${run.id}`);
  const call = page.getByRole("article", { name: /^Tool call #\d+ run_command/ });
  await expect(call.getByText("Running…")).toBeVisible({ timeout: 30_000 });

  await page.getByRole("button", { name: "Stop run" }).click();
  const dialog = page.getByRole("dialog", { name: "Stop this run?" });
  await dialog.getByLabel("Reason (optional)").fill("runaway sleep");
  await dialog.getByRole("button", { name: "Stop run now" }).click();
  await expect(dialog).toBeHidden();

  await expect(page.locator("h1 + [data-state]")).toHaveAttribute("data-state", "killed");
  await expect(page.getByTestId("ended-reason")).toContainText("The run was killed");
  await expect(page.getByTestId("ended-reason")).toContainText("runaway sleep");
  await expect(page.getByTestId("ended-reason")).toContainText(world.reviewer.email);
  await expect(page.getByRole("button", { name: "Stop run" })).toHaveCount(0);
  await expect(page.getByTestId("state-change").filter({ hasText: "Killed" })).toContainText("runaway sleep");
  expect((await waitForRunState(world.reviewerApi, run.id, ["killed"])).endedReason).toBe("runaway sleep");
});

test("a reviewer sees the agent's service on the run page, with its command and output, and stops it there", async ({ page, baseURL }) => {
  world = await setUpRunWorld(baseURL!, [
    planStep([{ title: "Serve the workspace" }]),
    toolStep("start_service", { name: "web", command: "echo serving-now; exec python3 -m http.server 8140 --bind 127.0.0.1" }),
    toolStep("run_command", { command: "sleep 300" }),
    finishStep(),
  ]);
  const run = await startRun(world, world.operatorApi);
  const stopApproving = autoApprove(world.reviewerApi, run.id);
  try {
    await apiSignin(page, world.reviewer);
    await page.goto(`/runs/${run.id}`);
    const service = page.getByTestId("services-panel").getByTestId("service");
    await expect(service).toHaveAttribute("data-state", "running", { timeout: 60_000 });
    await expect(service).toContainText("web");
    await expect(service).toContainText("python3 -m http.server 8140");
    await expect(service.getByLabel("Output of web")).toContainText("serving-now");
    await service.getByRole("button", { name: "Stop" }).click();
    await expect(service).toHaveAttribute("data-state", "stopped");
    await expect(service).toContainText(`by ${world.reviewer.email}`);
    await expect(service.getByRole("button", { name: "Stop" })).toHaveCount(0);
  } finally {
    stopApproving();
  }
});

test("@desktop-only a 100 000-line command output stays virtualised, follows the tail and offers a jump back to it", async ({ page, baseURL }) => {
  world = await setUpRunWorld(baseURL!, [
    planStep([{ title: "Count to 100000" }]),
    toolStep("run_command", { command: "seq 1 100000" }),
    finishStep("Counted."),
  ]);
  const run = await startRun(world, world.operatorApi);
  await apiSignin(page, world.reviewer);
  await page.goto(`/runs/${run.id}`);
  await decide(world.reviewerApi, (await waitForPendingApproval(world.reviewerApi, run.id, "submit_plan")).id, "approve");
  await approveIfAsked(world.reviewerApi, run.id, "run_command");

  const log = page.getByRole("log", { name: /^Output of run_command/ });
  const viewer = page.getByTestId("log-view");
  await expect(viewer.getByTestId("log-line-count")).toContainText("100,000 lines", { timeout: 60_000 });
  // Following the tail: the last line is on screen, and only a window of rows is in the DOM.
  await expect(log.getByText("100000", { exact: true })).toBeVisible();
  const rendered = await log.locator("[data-log-line]").count();
  expect(rendered).toBeGreaterThan(5);
  expect(rendered).toBeLessThan(200);

  // Scrolling up stops following and offers the way back.
  await log.evaluate((el) => el.scrollBy(0, -2000));
  const jump = page.getByRole("button", { name: "Jump to latest" });
  await expect(jump).toBeVisible();
  await expect(log.getByText("100000", { exact: true })).toBeHidden();
  await log.evaluate((el) => (el.scrollTop = 0));
  await expect(log.getByText("1", { exact: true })).toBeVisible();
  await jump.click();
  await expect(jump).toBeHidden();
  await expect(log.getByText("100000", { exact: true })).toBeVisible();
});

test("a reviewer who started a run is told another reviewer must decide", async ({ page, baseURL }) => {
  world = await setUpRunWorld(baseURL!, [planStep([{ title: "Do something" }])]);
  const run = await startRun(world, world.reviewerApi);
  await apiSignin(page, world.reviewer);
  await page.goto(`/runs/${run.id}`);
  const plan = page.getByRole("article", { name: /^Plan · 1 step/ });
  await expect(plan).toBeVisible({ timeout: 60_000 });
  await expect(plan.getByTestId("cannot-decide")).toHaveText("You started this run; another reviewer must decide.");
  await expect(plan.getByRole("button", { name: "Approve plan" })).toHaveCount(0);
  // They may still stop their own run.
  await expect(page.getByRole("button", { name: "Stop run" })).toBeVisible();
});

test("@desktop-only in step mode a reviewer lets the run continue after a step, then stops it after the next", async ({ page, baseURL }) => {
  world = await setUpRunWorld(baseURL!, [
    planStep([{ title: "Look around" }, { title: "Summarise" }]),
    toolStep("complete_step", { step: 1, note: "listed the workspace" }),
    toolStep("complete_step", { step: 2, note: "wrote the summary" }),
    finishStep("Stopped after step 2.", "failure"),
  ]);
  const run = await startRun(world, world.operatorApi, { stepMode: true });
  await decide(world.reviewerApi, (await waitForPendingApproval(world.reviewerApi, run.id, "submit_plan")).id, "approve");
  await apiSignin(page, world.reviewer);
  await page.goto(`/runs/${run.id}`);

  const step1 = page.getByRole("article", { name: /^Step 1 done/ });
  await expect(step1).toBeVisible({ timeout: 30_000 });
  await expect(step1).toContainText("Step 1 done: Look around");
  await expect(step1).toContainText("listed the workspace");
  await expect(step1).toContainText("Next: Summarise");
  await expect(step1.getByText("step-mode")).toBeVisible();
  await step1.getByRole("button", { name: "Continue" }).click();
  await expect(step1).toBeHidden();

  const step2 = page.getByRole("article", { name: /^Step 2 done/ });
  await expect(step2).toBeVisible({ timeout: 30_000 });
  await expect(step2).toContainText("That was the last step");
  await step2.getByRole("button", { name: "Stop here" }).click();
  await step2.getByLabel("Why stop here?").fill("good enough for now");
  await step2.getByRole("button", { name: "Stop after this step" }).click();
  await expect(step2).toBeHidden();
  const call = page.getByRole("article", { name: /^Tool call #\d+ complete_step/ }).last();
  await expect(call.getByTestId("tool-error")).toContainText("DENIED_BY_REVIEWER", { timeout: 30_000 });
  await expect(call.getByTestId("tool-error")).toContainText("good enough for now");
});
