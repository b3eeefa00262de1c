// Signing in through the form (the only tests that do; the rest use apiSignin).
import { expect, request as playwrightRequest, test } from "@playwright/test";
import { apiSignin, createUser, signedInApi, trpcMutation, type CreatedUser } from "./support/api";

let user: CreatedUser;

test.beforeEach(async ({ baseURL }) => {
  const adminApi = await signedInApi(baseURL!);
  user = await createUser(adminApi, "operator", "login");
  await adminApi.dispose();
});

test("a signed-out visitor is sent to sign in, sees a wrong password refused, and lands where they were going", async ({ page }) => {
  await page.goto("/audit?action=user.create");
  await expect(page).toHaveURL(/\/login\?callbackUrl=%2Faudit%3Faction%3Duser\.create$/);
  await expect(page.getByRole("heading", { name: "Sign in to Airlock" })).toBeVisible();

  await page.getByLabel("Email").fill(user.email);
  await page.getByLabel("Password").fill("not-the-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("form", { name: "Sign in" }).getByRole("alert")).toHaveText("Wrong email or password.");
  await expect(page).toHaveURL(/\/login/);

  await page.getByLabel("Password").fill(user.password);
  const submit = page.getByRole("button", { name: "Sign in" });
  await submit.click();
  await expect(page).toHaveURL(/\/audit\?action=user\.create$/);
  await expect(page.getByRole("heading", { name: "Audit trail", level: 1 })).toBeVisible();
});

test("signing out ends the session and the dashboard asks to sign in again", async ({ page, baseURL }) => {
  await apiSignin(page, user);
  await page.goto("/runs");
  const copied = (await page.context().cookies()).find((c) => c.name.endsWith("next-auth.session-token"))!;
  await page.getByRole("button", { name: `Account: ${user.email} (operator)` }).click();
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login\?reason=signed-out$/);
  await expect(page.getByText("You are signed out.")).toBeVisible();

  await page.goto("/settings");
  await expect(page).toHaveURL(/\/login\?callbackUrl=%2Fsettings$/);

  // A copy of the cookie taken before signing out is dead too (the session is revoked on the server).
  const stolen = await playwrightRequest.newContext({ baseURL, extraHTTPHeaders: { cookie: `${copied.name}=${copied.value}` } });
  const res = await stolen.get("/api/trpc/users.me");
  expect(res.status()).toBe(401);
  await stolen.dispose();
});

test("a user signs out another browser from Settings; that browser must sign in again", async ({ page, browser }) => {
  const other = await browser.newContext();
  const otherPage = await other.newPage();
  await apiSignin(otherPage, user);
  await otherPage.goto("/runs");
  await expect(otherPage.getByRole("heading", { name: "Runs", level: 1 })).toBeVisible();

  await apiSignin(page, user);
  await page.goto("/settings");
  const sessions = page.getByTestId("session");
  await expect(sessions).toHaveCount(2);
  await expect(sessions.filter({ hasText: "This browser" })).toHaveCount(1);
  await sessions
    .filter({ hasNotText: "This browser" })
    .getByRole("button", { name: /^Sign out / })
    .click();
  await expect(sessions).toHaveCount(1);
  await expect(page.getByText("You are signed in only here.")).toBeVisible();

  await otherPage.reload().catch(() => undefined);
  await expect(otherPage).toHaveURL(/\/login\?callbackUrl=%2Fruns(&reason=expired)?$/);
  await other.close();
  // This browser is still signed in.
  await page.reload();
  await expect(page.getByRole("heading", { name: "Settings", level: 1 })).toBeVisible();
});

test("a user disabled by an admin is signed out on their next page load", async ({ page, baseURL }) => {
  await apiSignin(page, user);
  await page.goto("/runs");
  await expect(page.getByRole("heading", { name: "Runs", level: 1 })).toBeVisible();

  const adminApi = await signedInApi(baseURL!);
  await trpcMutation(adminApi, "users.setDisabled", { id: user.id, disabled: true });
  await adminApi.dispose();

  // Either the next page load is refused by the layout, or a background query
  // gets UNAUTHORIZED first and the page sends itself to sign-in ("session ended").
  await page.reload().catch(() => undefined); // the reload can be overtaken by that redirect
  await expect(page).toHaveURL(/\/login\?callbackUrl=%2Fruns(&reason=expired)?$/);
});
