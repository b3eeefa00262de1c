// Single sign-on against a real OpenID provider (oidc-provider) on loopback.
// This spec starts its own provider and its own dashboard (`next start` on
// another port, with its own data directory) configured for it, with password
// sign-in off except for a break-glass admin: the shared dashboard of
// scripts/e2e.sh stays as it is, and stopping this provider touches no other spec.
import { expect, test, type Browser, type Page } from "@playwright/test";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { startTestOidcProvider, type TestAccount, type TestOidcProvider } from "../test/oidc-provider";
import { signedInApi, trpcMutation, trpcQuery } from "./support/api";

const SSO_NAME = "Test IdP";
const breakGlass = { email: "breakglass@sso.test", password: "break-glass-password-1" };

let provider: TestOidcProvider;
let dashboard: ChildProcess;
let baseURL: string;
let dataDir: string;

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const account = (name: string, groups: string[] = [], emailVerified = true): TestAccount => ({
  sub: `sub-${name}-${Date.now().toString(36)}`,
  email: `${name}@sso.test`,
  emailVerified,
  name: `${name} tester`,
  password: `${name}-secret`,
  groups,
});

// Both projects would race for the one provider and dashboard: desktop only, in
// order. A sign-in crosses two servers and a few pages, so a test that signs in
// three times needs more than the default 45 s on a loaded machine.
test.describe.configure({ mode: "serial", timeout: 120_000 });
test.describe("single sign-on @desktop-only", () => {
  test.beforeAll(async () => {
    test.setTimeout(180_000);
    const port = await freePort();
    baseURL = `http://127.0.0.1:${port}`;
    provider = await startTestOidcProvider({ redirectUris: [`${baseURL}/api/auth/callback/oidc`] });
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-e2e-sso-"));
    const env = {
      ...process.env,
      AIRLOCK_DATA_DIR: dataDir,
      PORT: String(port),
      NEXTAUTH_URL: baseURL,
      AIRLOCK_ADMIN_EMAIL: breakGlass.email,
      AIRLOCK_ADMIN_PASSWORD: breakGlass.password,
      AIRLOCK_OIDC_ISSUER: provider.issuer,
      AIRLOCK_OIDC_CLIENT_ID: provider.clientId,
      AIRLOCK_OIDC_CLIENT_SECRET: provider.clientSecret,
      AIRLOCK_OIDC_NAME: SSO_NAME,
      AIRLOCK_OIDC_SCOPES: "openid email profile groups",
      AIRLOCK_OIDC_ROLE_CLAIM: "groups",
      AIRLOCK_OIDC_ROLE_MAP: "airlock-admins=admin,airlock-reviewers=reviewer",
      AIRLOCK_LOCAL_LOGIN: "off",
    };
    await promisify(execFile)("./bin/airlock", ["setup"], { env });
    const log = fs.openSync(path.join(dataDir, "server.log"), "a");
    dashboard = spawn("node_modules/.bin/next", ["start", "-p", String(port), "-H", "127.0.0.1"], { env, stdio: ["ignore", log, log] });
    for (let i = 0; ; i++) {
      const up = await fetch(`${baseURL}/api/health`).then(
        () => true,
        () => false,
      );
      if (up) break;
      if (dashboard.exitCode !== null || i > 120)
        throw new Error(`the SSO dashboard did not start:\n${fs.readFileSync(path.join(dataDir, "server.log"), "utf8")}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  });

  test.afterEach(async ({}, testInfo) => {
    if (testInfo.status !== testInfo.expectedStatus) await testInfo.attach("SSO dashboard log", { path: path.join(dataDir, "server.log") });
  });

  test.afterAll(async () => {
    dashboard?.kill("SIGTERM");
    await provider?.close();
  });

  /** Clicks "Sign in with Test IdP" and goes through the provider's login and consent pages. */
  async function signInWithSso(page: Page, who: TestAccount): Promise<void> {
    await page.goto(`${baseURL}/login`);
    await page.getByRole("button", { name: `Sign in with ${SSO_NAME}` }).click();
    await expect(page.getByRole("heading", { name: "Test IdP sign-in" })).toBeVisible();
    expect(new URL(page.url()).origin).toBe(provider.issuer);
    await page.getByLabel("Username").fill(who.email);
    await page.getByLabel("Secret").fill(who.password);
    await page.getByRole("button", { name: "Continue" }).click();
    await expect(page.getByRole("heading", { name: "Allow access" })).toBeVisible();
    await page.getByRole("button", { name: "Allow" }).click();
  }

  async function freshPage(browser: Browser): Promise<Page> {
    const context = await browser.newContext({ baseURL });
    return context.newPage();
  }

  async function userRow(email: string) {
    const api = await signedInApi(baseURL, breakGlass);
    const res = await trpcQuery(api, "users.list");
    const body = (await res.json()) as {
      result: { data: { json: { items: { id: string; email: string; role: string; roleSource: string; sso: boolean }[] } } };
    };
    await api.dispose();
    return body.result.data.json.items.find((u) => u.email === email);
  }

  test("a new user signs in through the provider, lands on the dashboard with the default role, and signing out ends the session", async ({ browser }) => {
    const alice = account("alice");
    provider.setAccount(alice);
    const page = await freshPage(browser);

    await page.goto(`${baseURL}/runs`);
    await expect(page).toHaveURL(/\/login\?callbackUrl=%2Fruns$/);
    // Password sign-in is off: the SSO button comes first and the form is hidden.
    await expect(page.getByLabel("Email")).toBeHidden();
    const authorization = page.waitForRequest((r) => r.url().startsWith(`${provider.issuer}/auth?`));
    await signInWithSso(page, alice);
    // The authorization-code request carries PKCE (S256), state and nonce (the provider also insists on PKCE).
    const params = new URL((await authorization).url()).searchParams;
    expect(params.get("response_type")).toBe("code");
    expect(params.get("code_challenge_method")).toBe("S256");
    expect(params.get("code_challenge")).toMatch(/^[\w-]{43}$/);
    expect(params.get("state")).toBeTruthy();
    expect(params.get("nonce")).toBeTruthy();

    await expect(page).toHaveURL(`${baseURL}/runs`);
    await expect(page.getByRole("heading", { name: "Runs", level: 1 })).toBeVisible();
    await expect(page.getByRole("button", { name: `Account: ${alice.email} (viewer)` })).toBeVisible();
    expect(await userRow(alice.email)).toMatchObject({ role: "viewer", roleSource: "oidc-default", sso: true });

    const cookie = (await page.context().cookies()).find((c) => c.name.endsWith("next-auth.session-token"))!;
    await page.getByRole("button", { name: `Account: ${alice.email} (viewer)` }).click();
    await page.getByRole("button", { name: "Sign out" }).click();
    await expect(page).toHaveURL(/\/login\?reason=signed-out$/);
    // A copy of the cookie taken before signing out no longer works: the server-side session ended.
    const copied = await fetch(`${baseURL}/api/trpc/users.me`, { headers: { cookie: `${cookie.name}=${cookie.value}` } });
    expect(copied.status).toBe(401);
    await page.context().close();
  });

  test("the groups claim maps to the highest matching role, is re-applied at each sign-in, and admins see where the role came from", async ({ browser }) => {
    const bob = account("bob", ["airlock-reviewers", "unrelated-group"]);
    provider.setAccount(bob);
    let page = await freshPage(browser);
    await signInWithSso(page, bob);
    await expect(page.getByRole("button", { name: `Account: ${bob.email} (reviewer)` })).toBeVisible();
    await page.context().close();

    // The provider now puts bob in the admins' group too: the highest match wins at the next sign-in.
    provider.setAccount({ ...bob, groups: ["airlock-reviewers", "airlock-admins"] });
    page = await freshPage(browser);
    await signInWithSso(page, bob);
    await expect(page.getByRole("button", { name: `Account: ${bob.email} (admin)` })).toBeVisible();
    await page.goto(`${baseURL}/settings`);
    const row = page.getByTestId("user-row").filter({ hasText: bob.email });
    await expect(row.getByTestId("role-source")).toHaveText("Signs in with single sign-on · Role: single sign-on group airlock-admins");
    await page.context().close();

    // Out of every mapped group: back to the default role.
    provider.setAccount({ ...bob, groups: [] });
    page = await freshPage(browser);
    await signInWithSso(page, bob);
    await expect(page.getByRole("button", { name: `Account: ${bob.email} (viewer)` })).toBeVisible();
    expect(await userRow(bob.email)).toMatchObject({ role: "viewer", roleSource: "oidc-default" });
    await page.context().close();
  });

  test("a disabled user is refused at single sign-on with a clear message", async ({ browser }) => {
    const carol = account("carol");
    provider.setAccount(carol);
    let page = await freshPage(browser);
    await signInWithSso(page, carol);
    await expect(page.getByRole("heading", { name: "Runs", level: 1 })).toBeVisible();
    await page.context().close();

    const adminApi = await signedInApi(baseURL, breakGlass);
    const carolRow = await userRow(carol.email);
    await trpcMutation(adminApi, "users.setDisabled", { id: carolRow!.id, disabled: true });
    await adminApi.dispose();

    page = await freshPage(browser);
    await signInWithSso(page, carol);
    await expect(page).toHaveURL(/\/login/);
    await expect(page.getByRole("main").getByRole("alert")).toHaveText("This account is disabled. Ask an admin to enable it.");
    await page.goto(`${baseURL}/runs`);
    await expect(page).toHaveURL(/\/login\?callbackUrl=%2Fruns$/);
    await page.context().close();
  });

  test("with password sign-in off, a local user is refused and the break-glass admin gets in", async ({ browser }) => {
    const adminApi = await signedInApi(baseURL, breakGlass);
    const local = { email: `local-${Date.now().toString(36)}@sso.test`, password: "local-user-password-1" };
    await trpcMutation(adminApi, "users.create", { ...local, role: "operator" });
    await adminApi.dispose();

    const page = await freshPage(browser);
    await page.goto(`${baseURL}/login`);
    await page.getByText("Break-glass sign-in").click();
    const form = page.getByRole("form", { name: "Sign in" });
    await form.getByLabel("Email").fill(local.email);
    await form.getByLabel("Password").fill(local.password);
    await form.getByRole("button", { name: "Sign in", exact: true }).click();
    await expect(form.getByRole("alert")).toHaveText(
      "Password sign-in is turned off here; use single sign-on. Only break-glass accounts may sign in with a password.",
    );

    await form.getByLabel("Email").fill(breakGlass.email);
    await form.getByLabel("Password").fill(breakGlass.password);
    await form.getByRole("button", { name: "Sign in", exact: true }).click();
    await expect(page).toHaveURL(`${baseURL}/runs`);
    await expect(page.getByRole("button", { name: `Account: ${breakGlass.email} (admin)` })).toBeVisible();
    await page.context().close();
  });

  test("a provider that is down gets a clear message on the login page, and the break-glass admin can still sign in", async ({ browser }) => {
    await provider.stop();
    try {
      const page = await freshPage(browser);
      await page.goto(`${baseURL}/login`);
      await page.getByRole("button", { name: `Sign in with ${SSO_NAME}` }).click();
      await expect(page).toHaveURL(/\/login/);
      await expect(page.getByRole("main").getByRole("alert")).toHaveText(
        `Can't reach ${SSO_NAME} to start signing in. Try again in a moment. Meanwhile only break-glass accounts can sign in (with a password).`,
      );

      await page.getByText("Break-glass sign-in").click();
      const form = page.getByRole("form", { name: "Sign in" });
      await form.getByLabel("Email").fill(breakGlass.email);
      await form.getByLabel("Password").fill(breakGlass.password);
      await form.getByRole("button", { name: "Sign in", exact: true }).click();
      await expect(page).toHaveURL(`${baseURL}/runs`);
      await page.context().close();
    } finally {
      await provider.start();
    }
  });
});
