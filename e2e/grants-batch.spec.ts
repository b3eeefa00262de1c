// Issue 12, item 6 in the browser: a reviewer approves a turn's writes
// together after reading their combined diff, and approves a write with a
// bounded grant that the run page then shows and lets them revoke.
import { expect, test } from "@playwright/test";
import { apiSignin } from "./support/api";
import {
  decide,
  finishStep,
  planStep,
  setUpRunWorld,
  startRun,
  toolStep,
  waitForPendingApproval,
  waitForRunState,
  type RunWorld,
  type ScriptStep,
} from "./support/runs";

test.describe.configure({ mode: "parallel" });
test.setTimeout(300_000); // a run with a sandbox, two decisions and a browser: slow on a loaded machine

let world: RunWorld | null = null;
test.afterEach(async () => {
  await world?.dispose();
  world = null;
});

const twoWrites: ScriptStep = {
  type: "tool_calls",
  calls: [
    { name: "write_file", arguments: { path: "notes/one.txt", content: "first file from the batch\n" } },
    { name: "write_file", arguments: { path: "notes/two.txt", content: "second file from the batch\n" } },
  ],
};

test("a reviewer reads a run's pending writes as one combined diff and approves them all at once", async ({ page, baseURL }) => {
  world = await setUpRunWorld(baseURL!, [planStep([{ title: "Write two notes" }]), twoWrites, finishStep("Both notes written.")]);
  const run = await startRun(world, world.operatorApi);
  await decide(world.reviewerApi, (await waitForPendingApproval(world.reviewerApi, run.id, undefined, 120_000)).id, "approve");
  await apiSignin(page, world.reviewer);
  await page.goto(`/runs/${run.id}`);

  const batch = page.getByTestId("batch-approve");
  await batch.getByRole("button", { name: "Review 2 pending writes together" }).click({ timeout: 60_000 });
  const combined = batch.getByRole("list", { name: "Combined diff" });
  await expect(combined.getByTestId("file-change")).toHaveCount(2);
  await expect(combined).toContainText("first file from the batch");
  await expect(combined).toContainText("second file from the batch");
  await batch.getByRole("button", { name: "Approve all 2" }).click();
  await expect(batch.getByTestId("batch-outcome")).toContainText("2 of 2 decided");
  await expect(page.getByText("The run succeeded")).toBeVisible({ timeout: 120_000 });
});

test("@desktop-only approving a write with a grant lets the next write under that directory run without asking, until revoked", async ({ page, baseURL }) => {
  world = await setUpRunWorld(baseURL!, [
    planStep([{ title: "Write sources" }]),
    toolStep("write_file", { path: "src/a.txt", content: "a\n" }),
    toolStep("write_file", { path: "src/b.txt", content: "b\n" }),
    finishStep("Sources written."),
  ]);
  const run = await startRun(world, world.operatorApi);
  await decide(world.reviewerApi, (await waitForPendingApproval(world.reviewerApi, run.id, undefined, 120_000)).id, "approve");
  await apiSignin(page, world.reviewer);
  await page.goto(`/runs/${run.id}`);

  await page.getByRole("button", { name: "Approve and allow write_file under src/ for 15 min / 20 calls" }).click({ timeout: 60_000 });
  await waitForRunState(world.reviewerApi, run.id, ["succeeded"], 120_000);
  const panel = page.getByTestId("grants-panel");
  const grant = panel.getByTestId("grant");
  await expect(grant).toContainText("src/");
  await expect(grant).toContainText("19 of 20 calls left", { timeout: 15_000 });
  await expect(grant).toContainText("while approving approval");
  await grant.getByRole("button", { name: "Revoke" }).click();
  await expect(panel.getByTestId("grant")).toHaveCount(0);
  await panel.getByText(/Ended grants \(1\)/).click();
  await expect(panel).toContainText("1 of 20 calls used, revoked");
});
