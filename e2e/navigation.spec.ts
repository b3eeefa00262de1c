// The shell: every section reachable from the main navigation (sidebar on
// desktop, tab bar on phones) with no horizontal scrolling, and the theme toggle.
import { expect, test, type Page } from "@playwright/test";
import { admin, apiSignin } from "./support/api";

const SECTIONS = [
  { link: "Runs", path: "/runs", heading: "Runs" },
  { link: "Approvals", path: "/approvals", heading: "Approvals" },
  { link: "Audit", path: "/audit", heading: "Audit trail" },
  { link: "Policies", path: "/policies", heading: "Policies" },
  { link: "Settings", path: "/settings", heading: "Settings" },
];

async function expectNoHorizontalScroll(page: Page) {
  const width = page.viewportSize()!.width;
  const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
  expect(scrollWidth, `page is ${scrollWidth}px wide in a ${width}px viewport`).toBeLessThanOrEqual(width);
}

test("every section opens from the main navigation without horizontal scrolling", async ({ page }) => {
  await apiSignin(page, admin);
  await page.goto("/runs");
  const nav = page.getByRole("navigation", { name: "Main" });
  await expect(nav).toBeVisible();

  for (const section of SECTIONS) {
    await nav.getByRole("link", { name: section.link }).click();
    await expect(page).toHaveURL(new RegExp(`${section.path}$`));
    await expect(page.getByRole("heading", { name: section.heading, level: 1 })).toBeVisible();
    await expect(nav.getByRole("link", { name: section.link })).toHaveAttribute("aria-current", "page");
    // Let client-fetched content (audit events, tokens, users) arrive before measuring.
    await page.waitForLoadState("networkidle");
    await expectNoHorizontalScroll(page);
  }
});

test("@phone-only the phone layout uses a bottom tab bar instead of the sidebar", async ({ page }) => {
  await apiSignin(page, admin);
  await page.goto("/audit");
  const nav = page.getByRole("navigation", { name: "Main" });
  const box = (await nav.boundingBox())!;
  const viewport = page.viewportSize()!;
  expect(box.width).toBe(viewport.width);
  expect(box.y + box.height).toBeCloseTo(viewport.height, 0);
  // Audit events show as cards: the table header is not shown.
  await expect(page.getByRole("columnheader", { name: "Actor" })).toBeHidden();
  await page
    .getByRole("button", { name: /^Details/ })
    .first()
    .click();
  await page.waitForLoadState("networkidle");
  await expectNoHorizontalScroll(page);
});

test("the theme toggle switches dark mode and the choice survives a reload", async ({ page }) => {
  await page.emulateMedia({ colorScheme: "light" });
  await apiSignin(page, admin);
  await page.goto("/runs");
  const html = page.locator("html");
  await expect(html).not.toHaveClass(/\bdark\b/);

  await page.getByRole("button", { name: "Dark theme" }).click();
  await expect(html).toHaveClass(/\bdark\b/);
  await expect(page.getByRole("button", { name: "Dark theme" })).toHaveAttribute("aria-pressed", "true");
  await page.reload();
  await expect(html).toHaveClass(/\bdark\b/);
  await expect(page.getByRole("button", { name: "Dark theme" })).toHaveAttribute("aria-pressed", "true");

  await page.getByRole("button", { name: "Light theme" }).click();
  await expect(html).not.toHaveClass(/\bdark\b/);
  await page.reload();
  await expect(html).not.toHaveClass(/\bdark\b/);

  // "System" follows the operating system's setting.
  await page.getByRole("button", { name: "System theme" }).click();
  await page.emulateMedia({ colorScheme: "dark" });
  await expect(html).toHaveClass(/\bdark\b/);
  await page.reload();
  await expect(html).toHaveClass(/\bdark\b/);
});

test("the dark class is applied before the page paints (no flash)", async ({ page }) => {
  await apiSignin(page, admin);
  await page.addInitScript(() => window.localStorage.setItem("airlock-theme", "dark"));
  // Stop the page from running any bundled JavaScript: only the inline head script can set the class.
  await page.route(/\/_next\/static\/.*\.js$/, (route) => route.abort());
  await page.goto("/runs");
  await expect(page.locator("html")).toHaveClass(/\bdark\b/);
});
