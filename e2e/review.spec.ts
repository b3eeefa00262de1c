// Issue 16, part 1, end to end (desktop and a 375 px phone): a reviewer opens
// a live run's Files changed tab, comments on a line, presses Request
// changes, and the scripted model server receives the comment in the agent's
// next turn. On a 1440 px desktop the side-by-side diff uses the width and
// cuts no line off.
import { expect, test, type Page } from "@playwright/test";
import { apiSignin } from "./support/api";
import { autoApprove, finishStep, planStep, setUpRunWorld, startRun, toolStep, type RunWorld } from "./support/runs";

test.setTimeout(150_000);

let world: RunWorld | null = null;
let stopApproving: (() => void) | null = null;
let release: () => void = () => undefined;
test.afterEach(async () => {
  stopApproving?.();
  release();
  await world?.dispose();
  world = null;
});

const LONG_LINE = `export const greeting = "${"a long line that a side-by-side diff must not cut off ".repeat(2).trim()}";`;

async function expectNoHorizontalScroll(page: Page) {
  const width = page.viewportSize()!.width;
  const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
  expect(scrollWidth, `page is ${scrollWidth}px wide in a ${width}px viewport`).toBeLessThanOrEqual(width);
}

test("a line comment on Files changed reaches the live agent with Request changes", async ({ page, baseURL }, testInfo) => {
  const phone = testInfo.project.name === "phone";
  const turnReleased = new Promise<void>((resolve) => (release = resolve));
  world = await setUpRunWorld(baseURL!, async (_req, i) => {
    if (i === 0) return planStep([{ title: "Write the greeting" }]);
    if (i === 1) return toolStep("write_file", { path: "src/greeting.ts", content: `// greeting\n${LONG_LINE}\nexport default greeting;\n` });
    if (i === 2) {
      // The agent is still thinking (the run is live) while the reviewer reviews.
      await turnReleased;
      return toolStep("list_files", {});
    }
    return finishStep("Done.");
  });
  const run = await startRun(world, world.operatorApi);
  stopApproving = autoApprove(world.reviewerApi, run.id);
  const server = world.server;
  await expect.poll(() => server.requests.length, { timeout: 90_000 }).toBeGreaterThanOrEqual(3);

  if (!phone) await page.setViewportSize({ width: 1440, height: 900 });
  await apiSignin(page, world.reviewer);
  await page.goto(`/runs/${run.id}`);
  const tabs = page.getByRole("navigation", { name: "Run pages" });
  await expect(tabs.getByRole("link", { name: "Activity" })).toHaveAttribute("aria-current", "page", { timeout: 30_000 });
  await tabs.getByRole("link", { name: "Files changed" }).click();
  await expect(page.getByRole("heading", { name: "Files changed", level: 1 })).toBeVisible();
  await expect(tabs.getByRole("link", { name: "Files changed" })).toHaveAttribute("aria-current", "page");

  const file = page.getByRole("region", { name: "src/greeting.ts" });
  await expect(file).toBeVisible({ timeout: 30_000 });
  await expect(file.getByLabel("3 lines added, 0 removed")).toBeVisible();
  // The file tree: open beside the diffs on a desktop, behind its summary on a phone.
  if (phone) await page.locator("summary").filter({ hasText: "0 of 1 viewed" }).click();
  await expect(page.getByTestId("file-tree").getByRole("link", { name: /greeting\.ts/ })).toBeVisible();

  if (!phone) {
    // 1440 px: the diff is no longer held to the old 896 px column, and no side-by-side line is cut off.
    await expect(file.locator('[data-diff-mode="split"]')).toBeVisible();
    const width = (await file.boundingBox())!.width;
    expect(width, `the file's diff is ${width}px wide at 1440 px`).toBeGreaterThan(1000);
    const cut = await file.locator("[data-diff-side]").evaluateAll((els) => els.filter((el) => el.scrollWidth > el.clientWidth + 1).length);
    expect(cut).toBe(0);
  }

  await file.getByRole("button", { name: "Comment on line 2 of src/greeting.ts" }).click();
  await file.getByLabel("Comment on src/greeting.ts line 2").fill("Make the greeting shorter, please.");
  await file.getByRole("button", { name: "Comment", exact: true }).click();
  const comment = file.getByTestId("review-comment");
  await expect(comment).toContainText("Make the greeting shorter, please.");
  await expect(comment).toContainText(world.reviewer.email);
  await expect(comment).toContainText("Not sent yet");
  await expect(page.getByTestId("unsent-count")).toContainText("1 unsent comment");

  await page.getByRole("button", { name: "Request changes" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Sent 1 comment to the agent" })).toBeVisible();
  await expect(comment).toContainText(`Sent`);
  await expect(comment).toContainText(`by ${world.reviewer.email}`);
  await expect(comment.getByRole("button", { name: "Edit" })).toHaveCount(0);
  await expectNoHorizontalScroll(page);

  // The agent's next turn: the model server receives the comment, naming file:line.
  release();
  await expect.poll(() => server.requests.length, { timeout: 60_000 }).toBeGreaterThanOrEqual(4);
  const feedback = server.requests[3]!.body.messages.filter((m) => m.role === "user").map((m) => String(m.content));
  expect(feedback.join("\n")).toContain("src/greeting.ts:2");
  expect(feedback.join("\n")).toContain("Make the greeting shorter, please.");
});
