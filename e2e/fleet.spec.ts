// Issue 16, the fleet view (/runs) on a desktop and a 375 px phone: a new
// run appears and its state changes reach its row live through one
// subscription (no polling), rows stay dense on a phone, and a run is re-run
// and compared with the run it re-ran.
import { expect, test, type Request } from "@playwright/test";
import { apiSignin, trpcMutation } from "./support/api";
import { getRun, perConversation, planStep, setUpRunWorld, startRun, waitForRunState, type RunWorld } from "./support/runs";

let world: RunWorld | undefined;

test.afterEach(async () => {
  await world?.dispose();
  world = undefined;
});

/** Requests the page makes to a tRPC procedure (batched calls name every procedure in the path). */
function counter(path: string) {
  const times: number[] = [];
  return { times, onRequest: (r: Request) => void (r.url().includes(path) ? times.push(Date.now()) : undefined) };
}

test("the fleet view updates a run's row live, as the server changes its state, with one subscription and no polling", async ({ page, baseURL }, testInfo) => {
  test.setTimeout(180_000);
  world = await setUpRunWorld(baseURL!, perConversation([planStep([{ title: "Look around" }])]));
  await apiSignin(page, world.reviewer);
  const lists = counter("runs.list");
  const usage = counter("runs.usage");
  page.on("request", lists.onRequest);
  page.on("request", usage.onRequest);
  // The Active view, narrowed to this test's operator (the URL holds the filter): other tests' runs running meanwhile
  // change nothing on this page, so "nothing changed, nothing asked" below is this page's own behaviour.
  await page.goto(`/runs?operator=${world.operator.id}`);
  await expect(page.getByTestId("fleet-live")).toHaveText("Live", { timeout: 30_000 });

  // A run started after the page opened shows up and goes through its states without a reload.
  const run = await startRun(world, world.operatorApi, { title: `fleet ${Date.now()}` });
  const row = page.locator(`[data-testid="run-row"][data-run-id="${run.id}"]`);
  await expect(row.locator('[data-state="awaiting_plan_approval"]')).toBeVisible({ timeout: 90_000 });
  await expect(row.getByTestId("run-pending-count")).toHaveText("1 pending");
  await expect(row.getByRole("link", { name: run.title })).toBeVisible();
  if (testInfo.project.name === "phone") {
    // Dense rows: state, title, pending and age in at most 72 px.
    const box = (await row.boundingBox())!;
    expect(box.height, `a run's row is ${box.height} px tall`).toBeLessThanOrEqual(72);
    await expect(row.locator("time")).toBeVisible();
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(width).toBeLessThanOrEqual(page.viewportSize()!.width);
  }

  // The measurement: from the server's state change (the run's end time) to the row showing it.
  await page.evaluate((id) => {
    const w = window as unknown as { __fleetSeenAt?: number };
    const seen = () => document.querySelector(`[data-run-id="${id}"] [data-state="killed"]`) !== null;
    const observer = new MutationObserver(() => {
      if (w.__fleetSeenAt === undefined && seen()) {
        w.__fleetSeenAt = Date.now();
        observer.disconnect();
      }
    });
    observer.observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
  }, run.id);
  await trpcMutation(world.operatorApi, "runs.kill", { id: run.id, reason: "fleet view test" });
  const seenAt = await (
    await page.waitForFunction(() => (window as unknown as { __fleetSeenAt?: number }).__fleetSeenAt, undefined, { timeout: 30_000 })
  ).jsonValue();
  const ended = (await getRun(world.reviewerApi, run.id)) as unknown as { state: string; endedAt: string };
  expect(ended.state).toBe("killed");
  const delay = seenAt! - Date.parse(ended.endedAt);
  console.log(`fleet row update: ${delay} ms (${testInfo.project.name})`);
  testInfo.annotations.push({ type: "fleet row update", description: `${delay} ms` });

  // The ended run leaves the Active view; then, with nothing changing, the page asks the server nothing more.
  await expect(row).toHaveCount(0, { timeout: 10_000 });
  await page.waitForTimeout(1000);
  const [listsBefore, usageBefore] = [lists.times.length, usage.times.length];
  await page.waitForTimeout(7000);
  expect(lists.times.length - listsBefore, "runs.list requests while nothing changed").toBe(0);
  expect(usage.times.length - usageBefore, "runs.usage requests (rows must not poll)").toBe(0);
});

test("a run is re-run with the same task from its page, and the two are compared from the runs list", async ({ page, baseURL }) => {
  test.setTimeout(180_000);
  world = await setUpRunWorld(baseURL!, perConversation([planStep([{ title: "Look around" }])]));
  const run = await startRun(world, world.operatorApi, { title: `original ${Date.now()}`, task: "Look around and report what is there." });
  await waitForRunState(world.operatorApi, run.id, ["awaiting_plan_approval"], 90_000);
  await trpcMutation(world.operatorApi, "runs.kill", { id: run.id, reason: "re-run it" });
  await waitForRunState(world.operatorApi, run.id, ["killed"], 60_000);

  await apiSignin(page, world.operator);
  await page.goto(`/runs/${run.id}`);
  await page.getByTestId("run-lineage").getByRole("button", { name: "Re-run" }).click();
  await expect(page).not.toHaveURL(new RegExp(run.id));
  await expect(page).toHaveURL(/\/runs\/[0-9a-f-]{36}$/);
  const rerunId = page.url().split("/").pop()!;
  world.runs.push(rerunId);
  await expect(page.getByRole("heading", { name: run.title, level: 1 })).toBeVisible();
  await expect(page.getByTestId("run-lineage")).toContainText(`Re-run of ${run.id.slice(0, 8)}`);

  // The original names its re-run.
  await page.goto(`/runs/${run.id}`);
  await expect(page.getByTestId("run-lineage")).toContainText(`Re-run as ${rerunId.slice(0, 8)}`);

  // Pick both in the All view and compare them.
  await page.goto("/runs?view=all");
  for (const id of [run.id, rerunId]) await page.locator(`[data-testid="run-row"][data-run-id="${id}"]`).getByRole("checkbox").check();
  await page.getByRole("link", { name: "Compare", exact: true }).click();
  await expect(page.getByRole("heading", { name: "Compare runs", level: 1 })).toBeVisible();
  const table = page.getByTestId("compare-table");
  await expect(table.getByRole("link", { name: run.title })).toHaveCount(2);
  await expect(table).toContainText(`re-run of ${run.id.slice(0, 8)}`);
  await expect(page.getByTestId("compare-state")).toContainText("Killed");
  await expect(page.getByTestId("compare-source")).toContainText("empty workspace");
  await expect(page.getByRole("heading", { name: "Changes" })).toBeVisible();
});
