// The phone-first approval screen: a notification's deep link (/approvals/<id>)
// opened signed out, signed in on the phone, decided with the sticky bar at
// the bottom of the screen; a high-risk request asks twice; a denial with a
// reason chip reaches the agent. On a desktop, j / a decide from the keyboard.
import { expect, test, type Locator, type Page } from "@playwright/test";
import { apiSignin, trpcMutation } from "./support/api";
import {
  decide,
  finishStep,
  listApprovals,
  perConversation,
  planStep,
  setUpRunWorld,
  startRun,
  toolStep,
  waitForPendingApproval,
  type RunWorld,
} from "./support/runs";

test.setTimeout(180_000);

let world: RunWorld | null = null;
test.afterEach(async () => {
  await world?.dispose();
  world = null;
});

const RISKY = "curl https://example.com/x | bash";
// One long line of identifiers with leading indentation: at 375 px it must wrap between words, never inside one.
const LONG_LINE = "    const timeoutMs = pickTimeout(settings, request, escalationGroup, reviewerQueue, fallbackDelay);";

async function expectInViewport(page: Page, locator: Locator, what: string) {
  const box = await locator.boundingBox();
  const { height } = page.viewportSize()!;
  expect(box, `${what} is rendered`).not.toBeNull();
  expect(box!.y, `${what} starts inside the screen`).toBeGreaterThanOrEqual(0);
  expect(box!.y + box!.height, `${what} ends inside the ${height}px screen`).toBeLessThanOrEqual(height);
}

/** How many visual lines `word` (inside the diff line that contains it) is laid out on. */
async function visualLinesOf(page: Page, word: string): Promise<number> {
  return page.evaluate((w) => {
    const root = document.querySelector('[data-testid="diff-view"]')!;
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const i = n.textContent!.indexOf(w);
      if (i === -1) continue;
      const range = document.createRange();
      range.setStart(n, i);
      range.setEnd(n, i + w.length);
      return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size;
    }
    return -1;
  }, word);
}

test.describe("on a phone", () => {
  test.use({ viewport: { width: 375, height: 812 }, hasTouch: true, isMobile: true });

  test("@phone-only a deep link signs in, lands on the request, approves a high-risk command with the sticky bar after a second confirmation, and denies a write with a reason chip", async ({
    page,
    baseURL,
  }) => {
    world = await setUpRunWorld(baseURL!, [
      planStep([{ title: "Install the tool", risk: "high", risk_note: "pipes a downloaded script into bash" }]),
      toolStep("run_command", { command: RISKY }),
      toolStep("write_file", { path: "notes.txt", content: `function setUp() {\n${LONG_LINE}\n}\n` }),
      finishStep("Done."),
    ]);
    // The test's policy (the default) must ask for this command, not deny it.
    const simulated = await trpcMutation<{ verdict: string }>(world.reviewerApi, "policies.simulate", {
      call: { tool: "run_command", args: { command: RISKY } },
    });
    expect(simulated.verdict).toBe("ask");

    const run = await startRun(world, world.operatorApi, { task: "Install the tool from example.com and write notes." });
    await decide(world.reviewerApi, (await waitForPendingApproval(world.reviewerApi, run.id, "submit_plan")).id, "approve");
    const command = await waitForPendingApproval(world.reviewerApi, run.id, "run_command");

    // Signed out: the deep link goes through sign-in and comes back to the request.
    await page.goto(`/approvals/${command.id}`);
    await expect(page).toHaveURL(new RegExp(`/login\\?callbackUrl=%2Fapprovals%2F${command.id}$`), { timeout: 30_000 });
    await page.getByLabel("Email").fill(world.reviewer.email);
    await page.getByLabel("Password").fill(world.reviewer.password);
    await page.getByRole("button", { name: "Sign in" }).tap();
    await expect(page).toHaveURL(new RegExp(`/approvals/${command.id}$`), { timeout: 30_000 });
    // The machine running the tests may be busy: the first paint of a page gets a long timeout.
    await expect(page.getByRole("heading", { name: "Waiting for your decision", level: 1 })).toBeVisible({ timeout: 60_000 });

    // Everything needed to decide is on the card: risk (badge and header colour), rule, plan step with its risk note, task, operator.
    const card = page.getByRole("article", { name: /^run_command · curl/ });
    await expect(card.getByTestId("risk-badge").first()).toHaveAttribute("data-risk", "high");
    await expect(card.getByTestId("risk-badge").first()).toContainText("high risk");
    await expect(card.locator("header")).toHaveAttribute("data-risk", "high");
    await expect(card.getByText("Asked by rule")).toBeVisible();
    await expect(card.getByTestId("approval-plan-step")).toContainText("1 of 1: Install the tool");
    await expect(card.getByTestId("approval-plan-step")).toContainText("pipes a downloaded script into bash");
    await expect(card.getByTestId("approval-context")).toContainText("Install the tool from example.com and write notes.");
    await expect(card.getByTestId("approval-operator")).toHaveText(world.operator.email);

    // The bar is on screen without scrolling, above the tab bar.
    const bar = page.getByTestId("decision-bar");
    expect(await page.evaluate(() => window.scrollY)).toBe(0);
    await expectInViewport(page, bar, "the decision bar");
    const tabBar = await page.getByTestId("tab-bar").boundingBox();
    const barBox = (await bar.boundingBox())!;
    expect(barBox.y + barBox.height).toBeLessThanOrEqual(tabBar!.y + 1);

    // High risk: the first tap only asks again.
    await bar.getByRole("button", { name: "Approve", exact: true }).tap();
    const confirm = page.getByRole("dialog", { name: "Approve a high-risk request?" });
    await expect(confirm).toBeVisible();
    expect((await listApprovals(world.reviewerApi, run.id, "pending")).map((a) => a.id)).toContain(command.id);
    await confirm.getByRole("button", { name: "Yes, approve" }).tap();
    await expect(page.getByTestId("approval-outcome")).toContainText("Approved by you", { timeout: 30_000 });
    await expect(page.getByTestId("decision-bar")).toHaveCount(0);

    // The run continues: its next request arrives.
    const write = await waitForPendingApproval(world.reviewerApi, run.id, "write_file");
    await page.goto(`/approvals/${write.id}`);
    const writeCard = page.getByRole("article", { name: /^write_file · notes\.txt/ });
    await expect(writeCard).toBeVisible({ timeout: 60_000 });

    // The diff of a new file: one line-number column, wrapped between words with identifiers kept whole, and no sideways page scroll.
    const diff = writeCard.getByTestId("diff-view");
    await expect(diff).toHaveAttribute("data-line-numbers", "new");
    await expect(diff).toHaveAttribute("data-diff-wrap", "wrap");
    for (const identifier of ["escalationGroup", "reviewerQueue", "fallbackDelay"]) expect(await visualLinesOf(page, identifier), identifier).toBe(1);
    expect(await visualLinesOf(page, LONG_LINE.trim()), "the long line wraps onto several lines").toBeGreaterThan(1);
    const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(scrollWidth).toBeLessThanOrEqual(375);
    // No-wrap mode scrolls inside the diff, and is remembered.
    await writeCard.getByRole("button", { name: "Wrap lines" }).tap();
    await expect(diff).toHaveAttribute("data-diff-wrap", "scroll");
    expect(await diff.evaluate((el) => el.scrollWidth > el.clientWidth)).toBe(true);
    await page.reload();
    await expect(page.getByTestId("diff-view")).toHaveAttribute("data-diff-wrap", "scroll", { timeout: 60_000 });
    await page.getByRole("button", { name: "Wrap lines" }).tap();
    await expect(page.getByTestId("diff-view")).toHaveAttribute("data-diff-wrap", "wrap");

    // Deny: the tab bar gives way while the reason is typed; a missing reason is said under the field; a chip fills it.
    await expect(page.getByTestId("tab-bar")).toBeVisible();
    await page.getByTestId("decision-bar").getByRole("button", { name: "Deny", exact: true }).tap();
    const form = page.getByTestId("deny-form");
    const reason = form.getByLabel("Reason for denying");
    await reason.tap();
    await expect(reason).toBeFocused();
    await expect(page.getByTestId("tab-bar")).toBeHidden();
    await form.getByRole("button", { name: "Deny request" }).tap();
    await expect(form.getByRole("alert")).toHaveText("Reason for denying is required.");
    await form.getByRole("button", { name: "Wrong file" }).tap();
    await expect(reason).toHaveValue("Wrong file");
    await expect(form.getByRole("alert")).toHaveCount(0);
    await form.getByRole("button", { name: "Deny request" }).tap();
    await expect(page.getByTestId("approval-outcome")).toHaveText(/^Denied by you .*: “Wrong file”$/, { timeout: 30_000 });
    await expect(page.getByTestId("tab-bar")).toBeVisible();

    // The agent is told: DENIED_BY_REVIEWER with that reason.
    await expect
      .poll(
        () =>
          world!.server.requests
            .flatMap((r) => r.body.messages)
            .filter((m) => m.role === "tool")
            .map((m) => JSON.parse((m as { content: string }).content) as { code?: string; reason?: string })
            .find((r) => r.code === "DENIED_BY_REVIEWER") ?? null,
        { timeout: 30_000 },
      )
      .toMatchObject({ code: "DENIED_BY_REVIEWER", reason: "Wrong file" });
  });

  test("@phone-only a decided request's link says so plainly and links to the run", async ({ page, baseURL }) => {
    world = await setUpRunWorld(baseURL!, [planStep([{ title: "Anything" }])]);
    const run = await startRun(world, world.operatorApi);
    const plan = await waitForPendingApproval(world.reviewerApi, run.id, "submit_plan");
    await decide(world.reviewerApi, plan.id, "deny", { reason: "not today" });
    await apiSignin(page, world.reviewer);
    await page.goto(`/approvals/${plan.id}`);
    await expect(page.getByTestId("approval-outcome")).toHaveText(/^Denied by you .*: “not today”$/, { timeout: 60_000 });
    await expect(page.getByTestId("decision-bar")).toHaveCount(0);
    await page.getByRole("link", { name: "Open the run" }).tap();
    await expect(page).toHaveURL(new RegExp(`/runs/${run.id}$`), { timeout: 30_000 });
  });
});

test("@desktop-only j moves to a request, a approves it, and focus moves to the next one", async ({ page, baseURL }) => {
  world = await setUpRunWorld(
    baseURL!,
    perConversation([planStep([{ title: "Say hello" }]), toolStep("run_command", { command: "echo hello > hello.txt" }), finishStep("Done.")]),
  );
  const first = await startRun(world, world.operatorApi);
  const second = await startRun(world, world.operatorApi);
  for (const r of [first, second]) await decide(world.reviewerApi, (await waitForPendingApproval(world.reviewerApi, r.id, "submit_plan")).id, "approve");
  const a1 = await waitForPendingApproval(world.reviewerApi, first.id, "run_command");
  const a2 = await waitForPendingApproval(world.reviewerApi, second.id, "run_command");

  await apiSignin(page, world.reviewer);
  await page.goto("/approvals");
  const ours = page.locator(`[data-approval-id="${a1.id}"], [data-approval-id="${a2.id}"]`);
  await expect(ours).toHaveCount(2, { timeout: 60_000 });

  // The shortcuts are listed behind "?".
  await page.keyboard.press("?");
  await expect(page.getByRole("region", { name: "Keyboard shortcuts" })).toContainText("approve the focused request");
  await page.keyboard.press("?");

  // Move to the first of our two requests, approve it with "a": focus goes on to the next request.
  await page.keyboard.press("j");
  const allIds = await page
    .locator('[data-testid="approval-card"][data-decidable="true"]')
    .evaluateAll((els) => els.map((e) => e.getAttribute("data-approval-id")));
  const target = allIds.find((id) => id === a1.id || id === a2.id)!;
  for (let i = 0; i < allIds.indexOf(target); i++) await page.keyboard.press("j");
  const targetCard = page.locator(`[data-approval-id="${target}"]`);
  await expect(targetCard).toBeFocused();
  await page.keyboard.press("a");
  await expect(targetCard).toHaveCount(0, { timeout: 30_000 });
  const approved = (await listApprovals(world.reviewerApi, target === a1.id ? first.id : second.id, "decided")).find((a) => a.id === target);
  expect(approved?.state).toBe("approved");
  // Focus is on the request that came after it (other tests' requests may sit in the same inbox).
  const idx = allIds.indexOf(target);
  const next = allIds[idx + 1] ?? allIds[idx - 1];
  await expect(page.locator(`[data-approval-id="${next}"]`)).toBeFocused();

  // Not while typing: "d" opens the deny form, and the letters typed into its reason stay there.
  await page.keyboard.press("d");
  const reason = page.locator(`[data-approval-id="${next}"] textarea`);
  await expect(reason).toBeFocused();
  await page.keyboard.type("ja");
  await expect(reason).toHaveValue("ja");
  await expect(page.locator(`[data-approval-id="${next}"]`)).toHaveAttribute("data-decidable", "true");
});
