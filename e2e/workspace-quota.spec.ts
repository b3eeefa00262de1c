// Workspace quota on the run page (Chromium, real Docker, scripted model):
// while a command runs, the resources panel shows how much the workspace
// holds on the host disk against the run's workspace quota.
import { expect, test } from "@playwright/test";
import { apiSignin } from "./support/api";
import { autoApprove, planStep, setUpRunWorld, startRun, toolStep, type RunWorld } from "./support/runs";

test.setTimeout(150_000);

let world: RunWorld | null = null;
let stopApproving = () => undefined as void;
test.afterEach(async () => {
  stopApproving();
  await world?.dispose();
  world = null;
});

test("workspace quota: the run page shows the workspace's size against its quota", async ({ page, baseURL }) => {
  world = await setUpRunWorld(baseURL!, [
    planStep([{ title: "Write some data" }]),
    toolStep("run_command", { command: "head -c 3000000 /dev/urandom > data.bin && sleep 600" }),
  ]);
  const run = await startRun(world, world.operatorApi);
  stopApproving = autoApprove(world.reviewerApi, run.id);

  await apiSignin(page, world.reviewer);
  await page.goto(`/runs/${run.id}`);
  const usage = page.getByTestId("run-usage");
  await expect(usage.getByRole("meter", { name: "Workspace (MB)" })).toBeVisible({ timeout: 90_000 });
  // 3 MB written, of the default 1 GiB quota.
  const workspace = usage.locator("div", { has: page.getByText("Workspace (MB)", { exact: true }) }).last();
  await expect(workspace).toContainText(/^Workspace \(MB\)\s*3\s*\/ 1024/, { timeout: 30_000 });
});
