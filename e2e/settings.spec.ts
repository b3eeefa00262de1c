// Settings: users (admins only) and personal API tokens.
import { expect, test } from "@playwright/test";
import { admin, apiSignin, createUser, signedInApi, trpcQuery, uniqueEmail } from "./support/api";

test("an admin creates a user, changes their role and disables them", async ({ page }) => {
  await apiSignin(page, admin);
  await page.goto("/settings");
  await expect(page.getByRole("heading", { name: "Users" })).toBeVisible();

  const email = uniqueEmail("new-operator");
  const form = page.getByRole("form", { name: "Create user" });
  await form.getByLabel("Email").fill(email);
  await form.getByLabel("Role").selectOption("operator");
  await form.getByLabel("Password (optional)").fill("a-good-password");
  await form.getByRole("button", { name: "Create user" }).click();
  await expect(form.getByRole("status")).toContainText(`Created ${email} as operator.`);

  const role = page.getByLabel(`Role for ${email}`);
  await expect(role).toHaveValue("operator");
  await role.selectOption("reviewer");
  await expect(page.getByTestId("user-row").filter({ hasText: email }).getByText("Saved")).toBeVisible();
  await page.reload();
  await expect(page.getByLabel(`Role for ${email}`)).toHaveValue("reviewer");

  // The server's own words when something is refused.
  await form.getByLabel("Email").fill(email);
  await form.getByRole("button", { name: "Create user" }).click();
  await expect(form.getByRole("alert")).toHaveText(`A user with email ${email} already exists. Pick another email or change that user's role instead.`);

  await page.getByRole("button", { name: `Disable ${email}` }).click();
  const dialog = page.getByRole("dialog", { name: `Disable ${email}?` });
  await expect(dialog).toBeVisible();
  await dialog.getByRole("button", { name: "Disable user" }).click();
  await expect(dialog).toBeHidden();
  const row = page.getByTestId("user-row").filter({ hasText: email });
  await expect(row.getByText("Disabled", { exact: true })).toBeVisible();
  await expect(page.getByRole("button", { name: `Enable ${email}` })).toBeVisible();
});

test("a viewer sees their account and tokens but not the Users section", async ({ page, baseURL }) => {
  const adminApi = await signedInApi(baseURL!);
  const viewer = await createUser(adminApi, "viewer");
  await adminApi.dispose();

  await apiSignin(page, viewer);
  await page.goto("/settings");
  await expect(page.getByRole("heading", { name: "Your account" })).toBeVisible();
  await expect(page.getByRole("heading", { name: "API tokens" })).toBeVisible();
  await expect(page.getByRole("main").getByText(viewer.email)).toBeVisible();
  await expect(page.getByRole("heading", { name: "Users" })).toHaveCount(0);
  await expect(page.getByRole("form", { name: "Create user" })).toHaveCount(0);
  await expect(page.getByRole("heading", { name: "Run queue" })).toHaveCount(0);
});

// Desktop only: the limit is one setting of the instance, and the phone project would change it at the same time.
test("@desktop-only an admin sets the per-user run limit in Settings → Run queue; a bad value is refused saying why", async ({ page }) => {
  await apiSignin(page, admin);
  await page.goto("/settings");
  await expect(page.getByRole("heading", { name: "Run queue" })).toBeVisible();
  const limits = page.getByTestId("queue-limits");
  await expect(limits).toContainText("Runs at once");
  await expect(limits).toContainText(/Memory runs may reserve\s*[\d.]+ GiB/);

  const form = page.getByRole("form", { name: "Run queue limits" });
  await form.getByLabel("Runs at once per user").fill("0");
  await form.getByRole("button", { name: "Save queue limits" }).click();
  await expect(form.getByRole("alert")).toContainText("At least 1 run must be allowed");

  // A roomy value, so the specs running alongside are not held back; cleared again at the end.
  await form.getByLabel("Runs at once per user").fill("500");
  await form.getByRole("button", { name: "Save queue limits" }).click();
  await expect(form.getByRole("status")).toContainText("Saved.");
  await expect(page.getByTestId("queue-per-user-limit")).toHaveText("500 (set here)");
  await page.reload();
  await expect(page.getByRole("form", { name: "Run queue limits" }).getByLabel("Runs at once per user")).toHaveValue("500");

  await page.getByRole("form", { name: "Run queue limits" }).getByLabel("Runs at once per user").fill("");
  await page.getByRole("form", { name: "Run queue limits" }).getByRole("button", { name: "Save queue limits" }).click();
  await expect(page.getByTestId("queue-per-user-limit")).toHaveText("no limit");
});

test("an API token is shown once, works, and stops working when revoked", async ({ page, baseURL, playwright }) => {
  const adminApi = await signedInApi(baseURL!);
  const operator = await createUser(adminApi, "operator", "tokens");
  await adminApi.dispose();
  await apiSignin(page, operator);
  await page.goto("/settings");

  const form = page.getByRole("form", { name: "Create API token" });
  await form.getByLabel("Token name").fill("e2e-ci");
  await form.getByLabel("Expires in (days)").fill("30");
  await form.getByRole("button", { name: "Create token" }).click();

  const box = page.getByTestId("new-token");
  await expect(box).toContainText("This is the only time Airlock shows it");
  const token = await box.getByLabel("New API token").inputValue();
  expect(token).toMatch(/^alk_[A-Za-z0-9_-]{20,}$/);

  // The token works as a bearer token.
  const bare = await playwright.request.newContext({ baseURL });
  const me = await trpcQuery(bare, "users.me", undefined, { Authorization: `Bearer ${token}` });
  expect(me.status()).toBe(200);

  await box.getByRole("button", { name: "I have copied it" }).click();
  await expect(box).toBeHidden();
  await page.reload();
  expect(await page.content()).not.toContain(token);

  const row = page.getByTestId("token-row").filter({ hasText: "e2e-ci" });
  await expect(row).toContainText(`${token.slice(0, 8)}…`);
  await expect(row.getByText("Active")).toBeVisible();
  await expect(row).not.toContainText("Never used"); // the call above counts as a use

  await row.getByRole("button", { name: "Revoke token e2e-ci" }).click();
  const dialog = page.getByRole("dialog", { name: "Revoke token “e2e-ci”?" });
  await dialog.getByRole("button", { name: "Revoke token" }).click();
  await expect(dialog).toBeHidden();
  await expect(row.getByText("Revoked")).toBeVisible();
  await expect(row.getByRole("button", { name: /Revoke/ })).toHaveCount(0);

  const after = await trpcQuery(bare, "users.me", undefined, { Authorization: `Bearer ${token}` });
  expect(after.status()).toBe(401);
  await bare.dispose();
});

test("an admin adds a secret (the value is never shown again), rotates it and deletes it", async ({ page }) => {
  await apiSignin(page, admin);
  await page.goto("/settings");
  const name = `E2E_TOKEN_${Date.now().toString(36).toUpperCase()}`;
  const value = `s3cr3t-${Date.now()}-value`;
  // The list is loaded by the browser: once it shows, the form is hydrated (typing before that is lost).
  await expect(page.getByText(/No secrets yet/).or(page.getByTestId("secret-row").first())).toBeVisible();
  const form = page.getByRole("form", { name: "Add secret" });
  await form.getByLabel("Name").fill(name);
  await form.getByLabel("Value").fill(value);
  await form.getByLabel("Description (optional)").fill("for the e2e test");
  await form.getByRole("button", { name: "Add secret" }).click();

  const row = page.getByTestId("secret-row").filter({ hasText: name });
  await expect(row).toBeVisible();
  await expect(row).toContainText("All projects");
  await expect(row).toContainText("for the e2e test");
  // The value appears nowhere on the page, not even in a form field.
  await expect(form.getByLabel("Value")).toHaveValue("");
  await page.reload();
  expect(await page.content()).not.toContain(value);

  await page.getByRole("button", { name: `Rotate secret ${name}` }).click();
  const rotate = page.getByRole("dialog", { name: `Rotate ${name}` });
  await rotate.getByLabel("New value").fill("short");
  await rotate.getByRole("button", { name: "Save new value" }).click();
  await expect(rotate).toBeVisible(); // refused: too short (the browser or the server says so)
  await rotate.getByLabel("New value").fill(`${value}-rotated`);
  await rotate.getByRole("button", { name: "Save new value" }).click();
  await expect(rotate).toBeHidden();

  await page.getByRole("button", { name: `Delete secret ${name}` }).click();
  const del = page.getByRole("dialog", { name: `Delete ${name}?` });
  await del.getByRole("button", { name: "Delete secret" }).click();
  await expect(del).toBeHidden();
  await expect(page.getByTestId("secret-row").filter({ hasText: name })).toHaveCount(0);
});

test("a token ticked “May read /metrics” scrapes /metrics as an operator; an anonymous scrape gets 401, not the sign-in page", async ({
  page,
  baseURL,
  playwright,
}) => {
  const adminApi = await signedInApi(baseURL!);
  const operator = await createUser(adminApi, "operator", "scraper");
  await adminApi.dispose();
  await apiSignin(page, operator);
  await page.goto("/settings");

  const form = page.getByRole("form", { name: "Create API token" });
  await form.getByLabel("Token name").fill("e2e-prometheus");
  await form.getByLabel(/May read \/metrics/).check();
  await form.getByRole("button", { name: "Create token" }).click();
  const token = await page.getByTestId("new-token").getByLabel("New API token").inputValue();
  await page.getByTestId("new-token").getByRole("button", { name: "I have copied it" }).click();
  await expect(page.getByTestId("token-row").filter({ hasText: "e2e-prometheus" })).toContainText("may read /metrics");

  const bare = await playwright.request.newContext({ baseURL });
  const scraped = await bare.get("/metrics", { headers: { Authorization: `Bearer ${token}` } });
  expect(scraped.status()).toBe(200);
  const text = await scraped.text();
  expect(text).toContain("# TYPE airlock_runs gauge");
  expect(text).toContain("airlock_process_cpu_seconds_total");

  const anonymous = await bare.get("/metrics", { maxRedirects: 0 });
  expect(anonymous.status()).toBe(401);
  expect(await anonymous.text()).toContain("Authorization: Bearer");
  await bare.dispose();
});
