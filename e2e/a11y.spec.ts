// Accessibility and the installable app (issue 11, items 1, 9 and 10): the main
// pages pass axe-core's WCAG 2.0/2.1 A and AA rules (colour contrast included)
// in the light and the dark theme; a page with a pending approval hydrates
// without React errors when the browser's time zone differs from the server's;
// the manifest, its icons and the service worker (offline notice, never any
// API answer in its cache) work in a real Chromium.
import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Browser, type Page } from "@playwright/test";
import { admin, apiSignin } from "./support/api";
import { planStep, setUpRunWorld, startRun, waitForPendingApproval, type RunWorld } from "./support/runs";

test.describe.configure({ mode: "parallel" });
test.setTimeout(180_000);

let world: RunWorld | null = null;
test.afterEach(async () => {
  await world?.dispose();
  world = null;
});

// The WCAG 2.0 A/AA and 2.1 AA rules (colour contrast is wcag2aa).
const WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21aa"];

async function expectNoAxeViolations(page: Page, what: string) {
  // Legacy mode: our pages have no iframes, and the default mode finishes the run in an extra blank page (slow under load).
  const results = await new AxeBuilder({ page }).withTags(WCAG_TAGS).setLegacyMode().analyze();
  const found = results.violations.map(
    (v) => `${v.id} (${v.impact}): ${v.help}\n${v.nodes.map((n) => `    ${n.target.join(" ")} — ${n.failureSummary ?? ""}`).join("\n")}`,
  );
  // Soft: one run reports every page's violations, and the test still fails.
  expect.soft(found, `axe violations on ${what}`).toEqual([]);
}

/** A run whose plan waits for a reviewer: the "run page with a pending approval". */
async function runWithPendingPlan(baseURL: string) {
  world = await setUpRunWorld(baseURL, [
    planStep([{ title: "Write the greeting file" }, { title: "Print the greeting", risk: "medium", risk_note: "runs a shell command" }]),
  ]);
  const run = await startRun(world, world.operatorApi);
  await waitForPendingApproval(world.reviewerApi, run.id, "submit_plan", 90_000);
  return run;
}

type Theme = "light" | "dark";
type MainPage = { path: string; ready: (p: Page) => Promise<void> };

/** The pages every role-rich user sees, each with what shows it is fully rendered. */
function mainPages(runId: string): MainPage[] {
  return [
    { path: "/runs", ready: async (p) => void (await expect(p.getByTestId("run-row").first()).toBeVisible({ timeout: 30_000 })) },
    {
      path: `/runs/${runId}`,
      ready: async (p) => {
        await expect(p.getByRole("heading", { name: /Waiting for (a|your) decision/ })).toBeVisible({ timeout: 30_000 });
        await expect(p.getByRole("article", { name: /^Plan · 2 steps/ })).toBeVisible();
      },
    },
    {
      path: `/runs/${runId}/files`,
      ready: async (p) => void (await expect(p.getByRole("heading", { name: "Files changed", level: 1 })).toBeVisible({ timeout: 30_000 })),
    },
    {
      path: "/approvals",
      ready: async (p) => void (await expect(p.getByRole("article", { name: /^Plan · 2 steps/ }).first()).toBeVisible({ timeout: 30_000 })),
    },
    { path: "/audit", ready: async (p) => void (await expect(p.getByTestId("audit-event").first()).toBeVisible({ timeout: 30_000 })) },
    { path: "/policies", ready: async (p) => void (await expect(p.getByRole("heading", { level: 1 })).toBeVisible()) },
    { path: "/settings", ready: async (p) => void (await expect(p.getByTestId("install-app-hint")).toBeVisible()) },
    { path: "/projects", ready: async (p) => void (await expect(p.getByRole("heading", { level: 1 })).toBeVisible()) },
    // The admin's sign-ins (auth.sign_in in the audit trail) are hits.
    { path: "/search?q=sign_in", ready: async (p) => void (await expect(p.getByTestId("search-hit").first()).toBeVisible({ timeout: 30_000 })) },
    // Issue 16: the run's timeline (totals, resource charts, the filterable events) and the trends page.
    { path: `/runs/${runId}/timeline`, ready: async (p) => void (await expect(p.getByTestId("timeline-items")).toBeVisible({ timeout: 30_000 })) },
    {
      path: "/trends",
      ready: async (p) => void (await expect(p.getByTestId("trend-runs-by-outcome").getByText(/^\d+ runs?:/)).toBeVisible({ timeout: 30_000 })),
    },
    // Issue 16: the fleet view's All view and the compare page.
    { path: "/runs?view=all", ready: async (p) => void (await expect(p.getByTestId("run-row").first()).toBeVisible({ timeout: 30_000 })) },
    { path: "/runs/compare", ready: async (p) => void (await expect(p.getByRole("heading", { name: "Pick two runs" })).toBeVisible()) },
  ];
}

async function scanPage(page: Page, { path, ready }: MainPage, theme: Theme) {
  await page.emulateMedia({ colorScheme: theme });
  await page.goto(path);
  await expect(page.locator("html")).toHaveClass(theme === "dark" ? /\bdark\b/ : /^(?!.*\bdark\b)/);
  await ready(page);
  await page.waitForTimeout(500); // let live times and counters settle
  await expectNoAxeViolations(page, `${path} (${theme})`);
}

/** The sign-in page, signed out. */
async function scanLogin(browser: Browser, theme: Theme) {
  const signedOut = await browser.newContext({ colorScheme: theme });
  const login = await signedOut.newPage();
  await login.goto("/login");
  await expect(login.getByRole("button", { name: /Sign in/ })).toBeVisible();
  await expectNoAxeViolations(login, `/login (${theme})`);
  await signedOut.close();
}

// Desktop: every page in both themes (the colours are the same tokens on a phone).
for (const theme of ["light", "dark"] as const) {
  test(`@desktop-only the main pages pass WCAG 2.1 AA (axe-core, colour contrast included) in the ${theme} theme`, async ({ page, baseURL, browser }) => {
    test.setTimeout(900_000); // thirteen pages, each scanned by axe
    const run = await runWithPendingPlan(baseURL!);
    await page.emulateMedia({ colorScheme: theme });
    await apiSignin(page, admin);
    for (const main of mainPages(run.id)) await scanPage(page, main, theme);
    await scanLogin(browser, theme);
  });
}

// Phone: every page once in its phone layout (tab bar, tables as stacked cards, the approval card's sticky bar, the
// audit page's folded filters), the themes alternating so that each phone-only part is scanned in both themes: the
// tab bar on every page, stacked cards on /runs and /projects (light) and /audit and /settings (dark), the sticky
// bar on /approvals (light) and the run page (dark).
test("@phone-only the phone layouts of the main pages pass WCAG 2.1 AA (axe-core, colour contrast included) in both themes", async ({
  page,
  baseURL,
  browser,
}) => {
  test.setTimeout(900_000); // thirteen pages, each scanned by axe
  const run = await runWithPendingPlan(baseURL!);
  await apiSignin(page, admin);
  const dark = new Set([`/runs/${run.id}`, "/audit", "/settings"]);
  for (const main of mainPages(run.id)) await scanPage(page, main, dark.has(main.path) ? "dark" : "light");
  await scanLogin(browser, "dark");
});

test("a page with a pending approval hydrates without errors in a browser far from the server's time zone, and shows times in that zone", async ({
  browser,
  baseURL,
}) => {
  const run = await runWithPendingPlan(baseURL!);
  const context = await browser.newContext({ timezoneId: "Pacific/Auckland", locale: "en-NZ" });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("pageerror", (e) => errors.push(String(e)));
  await apiSignin(page, admin);

  for (const path of [`/runs/${run.id}`, "/approvals"]) {
    await page.goto(path);
    const card = page.getByRole("article", { name: /^Plan · 2 steps/ }).first();
    await expect(card).toBeVisible({ timeout: 30_000 });
    await page.waitForLoadState("networkidle").catch(() => undefined);
    // Times are formatted in the browser, in its zone, with the zone named (NZDT/NZST, or GMT+13/+12).
    const shown = page.locator("time[data-local-time]").first();
    await expect(shown).toBeVisible();
    await expect(shown).toHaveAttribute("title", /NZ[DS]T|GMT\+1[23]/);
  }
  expect(errors, "console errors (React #418 is a hydration mismatch)").toEqual([]);
  await context.close();
});

test("the audit page shows times in the browser's zone or, on request, in UTC", async ({ browser }) => {
  const context = await browser.newContext({ timezoneId: "Asia/Kolkata" });
  const page = await context.newPage();
  await apiSignin(page, admin);
  await page.goto("/audit");
  const time = page.getByTestId("audit-event").first().locator("time[data-local-time]").first();
  await expect(time).toHaveText(/GMT\+5:30|IST/, { timeout: 30_000 });
  await page.getByRole("switch", { name: "Show times in UTC" }).check();
  await expect(time).toHaveText(/UTC/);
  await context.close();
});

test("@desktop-only the app is installable: manifest with icons, a service worker that serves an offline notice and never caches API answers", async ({
  page,
  context,
}) => {
  await apiSignin(page, admin);
  await page.goto("/runs");
  await expect(
    page
      .getByTestId("run-row")
      .or(page.getByText(/^No (active )?runs( yet)?$/))
      .first(),
  ).toBeVisible({ timeout: 30_000 });

  // The manifest is linked from the page and served, with icons that load.
  const href = await page.locator('link[rel="manifest"]').getAttribute("href");
  expect(href).toBeTruthy();
  const manifestRes = await page.request.get(href!);
  expect(manifestRes.ok()).toBeTruthy();
  const manifest = (await manifestRes.json()) as {
    start_url: string;
    display: string;
    icons: { src: string; sizes: string; type: string; purpose?: string }[];
  };
  expect(manifest.start_url).toBe("/runs");
  expect(manifest.display).toBe("standalone");
  expect(manifest.icons.map((i) => i.sizes)).toEqual(expect.arrayContaining(["192x192", "512x512"]));
  expect(manifest.icons.some((i) => i.purpose === "maskable")).toBeTruthy();
  expect(manifest.icons.some((i) => i.type === "image/svg+xml")).toBeTruthy();
  for (const icon of manifest.icons) {
    const res = await page.request.get(icon.src);
    expect(res.status(), icon.src).toBe(200);
    expect(res.headers()["content-type"], icon.src).toContain(icon.type);
  }
  await expect(page.locator('link[rel="apple-touch-icon"]')).toHaveCount(1);

  // Signed-out visitors (an installed app before sign-in) still get the worker and the offline page.
  const anonymous = await page.context().browser()!.newContext();
  for (const path of ["/sw.js", "/sw-push.js", "/offline.html", href!]) {
    const res = await anonymous.request.get(path, { maxRedirects: 0 });
    expect(res.status(), path).toBe(200);
  }
  await anonymous.close();

  // The worker registers and takes control of the page.
  await page.waitForFunction(async () => (await navigator.serviceWorker.ready).active?.state === "activated");
  await page.reload();
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null);
  await expect(
    page
      .getByTestId("run-row")
      .or(page.getByText(/^No (active )?runs( yet)?$/))
      .first(),
  ).toBeVisible({ timeout: 30_000 }); // API calls went through

  // Its cache holds only the offline notice and the icons: no API answer, no page.
  const cached = await page.evaluate(async () => {
    const out: string[] = [];
    for (const key of await caches.keys()) for (const req of await (await caches.open(key)).keys()) out.push(new URL(req.url).pathname);
    return out;
  });
  expect(cached).toContain("/offline.html");
  expect(
    cached.filter((p) => p.startsWith("/api/")),
    "API answers in the service worker's cache",
  ).toEqual([]);
  expect(
    cached.every((p) => p === "/offline.html" || p.startsWith("/icons/")),
    `cached: ${cached.join(", ")}`,
  ).toBeTruthy();

  // Offline, a navigation shows the offline notice instead of the browser's error page.
  await context.setOffline(true);
  await page.goto("/approvals").catch(() => undefined);
  await expect(page.getByRole("heading", { name: "You are offline" })).toBeVisible();
  await context.setOffline(false);
  await page.getByRole("link", { name: "Try again" }).click();
  await expect(page).toHaveURL(/\/runs$/);
});
