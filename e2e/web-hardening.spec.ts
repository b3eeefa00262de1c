// Outside security test, findings M3 (CSRF, clickjacking, headers), M4 (open
// redirect after sign-in), M5 (spoofed X-Forwarded-For) and the sign-in body
// cap, against the real dashboard in Chromium. The hostile pages are served
// from a second origin on this host (another loopback port: the same *site*,
// so the browser sends the victim's SameSite=Lax cookies along, which is
// exactly what the outside test exploited).
import http from "node:http";
import type { AddressInfo } from "node:net";
import { expect, test, type APIRequestContext, type Page } from "@playwright/test";
import { apiSignin, createUser, signedInApi, trpcQuery, type CreatedUser } from "./support/api";

interface HostileServer {
  origin: string;
  port: number;
  close(): Promise<void>;
}

/** A tiny server on another loopback port that answers every request with `html`. */
async function serveHostilePage(html: (origin: string) => string): Promise<HostileServer> {
  let origin = "";
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(html(origin));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  origin = `http://127.0.0.1:${port}`;
  return {
    origin,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function sessionCount(api: APIRequestContext): Promise<number> {
  const res = await trpcQuery(api, "users.sessions");
  expect(res.ok(), await res.text()).toBeTruthy();
  return ((await res.json()) as { result: { data: { json: { items: unknown[] } } } }).result.data.json.items.length;
}

const SECURITY_HEADERS = ["content-security-policy", "x-frame-options", "x-content-type-options", "referrer-policy", "permissions-policy"];

test.describe("M3: CSRF and clickjacking", () => {
  let victim: CreatedUser;
  let elsewhere: APIRequestContext;
  let hostile: HostileServer | undefined;

  test.beforeEach(async ({ baseURL }) => {
    const adminApi = await signedInApi(baseURL!);
    victim = await createUser(adminApi, "admin", "csrf-victim");
    await adminApi.dispose();
    // The victim's other session (another browser), which the forged form tries to sign out.
    elsewhere = await signedInApi(baseURL!, victim);
  });
  test.afterEach(async () => {
    await elsewhere.dispose();
    await hostile?.close();
    hostile = undefined;
  });

  test("M3: a cross-origin form cannot call a mutation", async ({ page, baseURL }) => {
    await apiSignin(page, victim);
    expect(await sessionCount(elsewhere)).toBe(2);
    const target = (path: string) => `${baseURL}/api/trpc/${path}`;
    hostile = await serveHostilePage(
      () => `<!doctype html><title>win a prize</title>
<iframe name="sink1"></iframe><iframe name="sink2"></iframe>
<form id="f1" method="POST" enctype="multipart/form-data" target="sink1" action="${target("users.revokeOtherSessions")}"><input name="json" value="{}"></form>
<form id="f2" method="POST" enctype="multipart/form-data" target="sink2" action="${target("runs.stopAll")}"><input name="reason" value="csrf"></form>
<script>document.getElementById("f1").submit(); document.getElementById("f2").submit();</script>`,
    );
    expect(new URL(hostile.origin).origin).not.toBe(new URL(baseURL!).origin);

    const forged = ["users.revokeOtherSessions", "runs.stopAll"].map((path) =>
      page.waitForResponse((r) => r.url() === target(path) && r.request().method() === "POST"),
    );
    await page.goto(hostile.origin);
    const responses = await Promise.all(forged);

    for (const response of responses) {
      // The victim's cookie went along (the attack is real), and the server refused it.
      // (The refusal's JSON body is not readable here: the browser shows its own page in the frame.)
      expect((await response.request().allHeaders()).cookie ?? "", response.url()).toContain("next-auth.session-token=");
      expect(response.status(), response.url()).toBe(403);
      expect(response.headers()["content-type"] ?? "").toContain("application/json");
    }
    // Nothing was signed out: the other browser is still in.
    expect(await sessionCount(elsewhere)).toBe(2);
  });

  test("M3: mutations accept only JSON, even with the dashboard's own cookie", async ({ page }) => {
    await apiSignin(page, victim);
    const res = await page.request.post("/api/trpc/users.revokeOtherSessions", { multipart: { json: "{}" } });
    expect(res.status()).toBe(415);
    expect(await res.text()).toContain("Content-Type: application/json");
    expect(await sessionCount(elsewhere)).toBe(2);
  });

  test("M3: the dashboard cannot be framed", async ({ page, baseURL }) => {
    await apiSignin(page, victim);
    hostile = await serveHostilePage(
      () => `<!doctype html><title>framed</title><p>outer page</p><iframe id="f" src="${baseURL}/approvals" width="800" height="600"></iframe>`,
    );

    const framed = page.waitForResponse((r) => r.url() === `${baseURL}/approvals`);
    await page.goto(hostile.origin);
    const response = await framed;
    expect(response.status()).toBe(200); // the page was served, and the browser refused to show it

    // Chromium replaces a refused frame with its own error page: the dashboard never renders in it.
    const frame = page.frames().find((f) => f !== page.mainFrame())!;
    await expect.poll(() => frame.url()).toMatch(/^chrome-error:/);
    await page.waitForTimeout(500);
    expect(await frame.evaluate(() => document.body?.innerText ?? "").catch(() => "")).not.toContain("Approvals");
    await expect(page.getByText("outer page")).toBeVisible();
  });

  test("M3: every response carries the security headers (pages, /login, /api/*, redirects, 404s, static files)", async ({ page, request }) => {
    const html = await (await request.get("/login")).text();
    const asset = /\/_next\/static\/[^"']+\.js/.exec(html)?.[0];
    expect(asset, "a script of the login page").toBeTruthy();
    for (const path of ["/login", "/runs", "/api/health", "/api/trpc/health", "/api/auth/csrf", "/api/auth/session", "/no-such-page", asset!]) {
      const res = await request.get(path, { maxRedirects: 0 });
      const headers = res.headers();
      for (const name of SECURITY_HEADERS) expect(headers[name], `${name} on ${path} (${res.status()})`).toBeTruthy();
      expect(headers["x-frame-options"]).toBe("DENY");
      expect(headers["x-content-type-options"]).toBe("nosniff");
      expect(headers["content-security-policy"]).toContain("frame-ancestors 'none'");
    }
    const upload = await page.request.post("/api/uploads?name=x.tar", { data: "x", headers: { "content-type": "application/octet-stream" } });
    for (const name of SECURITY_HEADERS) expect(upload.headers()[name], `${name} on POST /api/uploads`).toBeTruthy();
  });

  test("M3: the main pages raise no Content-Security-Policy violations in Chromium", async ({ page, context }) => {
    test.setTimeout(120_000);
    await context.addInitScript(() => {
      const w = window as unknown as { __cspViolations: string[] };
      w.__cspViolations = [];
      document.addEventListener("securitypolicyviolation", (e) => w.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
    });
    const consoleLines: string[] = [];
    const visit = async (path: string) => {
      // A page of its own per path, so one page's client-side URL updates cannot abort the next visit.
      const tab = await context.newPage();
      tab.on("console", (m) => consoleLines.push(m.text()));
      await tab.goto(path);
      await expect(tab.getByRole("heading", { level: 1 }).first()).toBeVisible();
      await tab.waitForTimeout(500); // let client components hydrate and fetch
      const violations = await tab.evaluate(() => (window as unknown as { __cspViolations: string[] }).__cspViolations);
      expect(violations, path).toEqual([]);
      await tab.close();
    };
    await visit("/login");
    await apiSignin(page, victim);
    for (const path of ["/runs", "/approvals", "/audit", "/policies", "/settings"]) await visit(path);
    expect(consoleLines.filter((l) => /Content Security Policy/i.test(l))).toEqual([]);
  });
});

// Each, as a callbackUrl query value (already percent-encoded as it appears in a link).
const PHISHING_CALLBACKS = (host: string) => [
  `/%09/${host}/phish`,
  `/%0A/${host}/phish`,
  `/%0D%0A/${host}/phish`,
  `%09//${host}/phish`,
  `//${host}/phish`,
  `/%5C${host}/phish`,
  `/%5C/${host}/phish`,
  `%5C%5C${host}/phish`,
  `%2F%2F${host}%2Fphish`,
  `/.//${host}/phish`,
  `http://${host}/phish`,
  `/%2509/${host}/phish`,
];

test.describe("M4: open redirect after sign-in", () => {
  let user: CreatedUser;
  let phish: HostileServer;

  test.beforeEach(async ({ baseURL }) => {
    const adminApi = await signedInApi(baseURL!);
    user = await createUser(adminApi, "viewer", "redirect");
    await adminApi.dispose();
    // Where a successful attack would land: a real server, so a redirect there would load and be seen.
    phish = await serveHostilePage(() => "<!doctype html><title>phish</title><h1>phished</h1>");
  });
  test.afterEach(async () => phish.close());

  const expectOnDashboard = (page: Page, baseURL: string, value: string) =>
    expect(new URL(page.url()).origin, `callbackUrl=${value} led to ${page.url()}`).toBe(new URL(baseURL).origin);

  test("M4: a signed-in user opening a crafted /login link stays on the dashboard @desktop-only", async ({ page, baseURL }) => {
    test.setTimeout(420_000); // 24 page loads; about 3.5 min on a loaded 2-core machine
    await apiSignin(page, user);
    for (const value of [...PHISHING_CALLBACKS(`localhost:${phish.port}`), ...PHISHING_CALLBACKS(`127.0.0.1:${phish.port}`)]) {
      const tab = await page.context().newPage();
      // Where the browser ends up once the server's redirect is followed (the page need not finish loading).
      const res = await tab.goto(`/login?callbackUrl=${value}`, { waitUntil: "commit" });
      expect(res?.status() ?? 0, value).toBeLessThan(500);
      expectOnDashboard(tab, baseURL!, value);
      expect(new URL(tab.url()).pathname, value).not.toBe("/login");
      await expect(tab.getByRole("heading", { name: "phished" })).toHaveCount(0);
      await tab.close();
    }
  });

  test("M4: signing in through the form with a crafted callbackUrl lands on the dashboard @desktop-only", async ({ browser, baseURL }) => {
    test.setTimeout(480_000); // 12 sign-ins through the form; about 3.5 min on a loaded 2-core machine
    for (const value of PHISHING_CALLBACKS(`localhost:${phish.port}`)) {
      const context = await browser.newContext({ baseURL });
      const page = await context.newPage();
      const res = await page.goto(`/login?callbackUrl=${value}`);
      expect(res?.status() ?? 0, value).toBeLessThan(500);
      await page.getByLabel("Email").fill(user.email);
      await page.getByLabel("Password").fill(user.password);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.waitForURL((url) => url.pathname !== "/login", { timeout: 45_000, waitUntil: "commit" });
      expectOnDashboard(page, baseURL!, value);
      await expect(page.getByRole("heading", { name: "phished" })).toHaveCount(0);
      await context.close();
    }
  });

  test("M4: an ordinary callbackUrl still brings the user back to the page they asked for", async ({ page }) => {
    await apiSignin(page, user);
    await page.goto(`/login?callbackUrl=${encodeURIComponent("/audit?action=user.create")}`);
    await expect(page).toHaveURL(/\/audit\?action=user\.create$/);
  });
});

test("M5: a spoofed X-Forwarded-For is not what the audit trail records", async ({ request, baseURL }) => {
  const email = `spoof-${Date.now()}-${Math.random().toString(16).slice(2, 8)}@e2e.test`;
  const csrf = (await (await request.get("/api/auth/csrf")).json()) as { csrfToken: string };
  const res = await request.post("/api/auth/callback/credentials", {
    form: { csrfToken: csrf.csrfToken, email, password: "not-a-password-at-all", json: "true" },
    headers: { "x-forwarded-for": "203.0.113.77", "x-real-ip": "203.0.113.78" },
    maxRedirects: 0,
  });
  expect(res.status()).toBeLessThan(500);

  const adminApi = await signedInApi(baseURL!);
  const audit = await trpcQuery(adminApi, "audit.list", { action: "auth.sign_in_failed", actor: email, limit: 5 });
  const items = ((await audit.json()) as { result: { data: { json: { items: { actorLabel: string; sourceIp: string | null }[] } } } }).result.data.json.items;
  await adminApi.dispose();
  expect(items).toHaveLength(1);
  // No proxy is trusted here (AIRLOCK_TRUSTED_PROXIES unset): the address is the socket's, loopback.
  expect(items[0]!.sourceIp).toMatch(/^(127\.0\.0\.1|::1)$/);
});

test("hardening: the sign-in callback refuses a 20 MB body with 413", async ({ request }) => {
  const res = await request.post("/api/auth/callback/credentials", {
    headers: { "content-type": "application/x-www-form-urlencoded" },
    data: `email=a%40b.c&password=${"x".repeat(20 * 1024 * 1024)}`,
    maxRedirects: 0,
  });
  expect(res.status()).toBe(413);
  expect(await res.text()).toContain("the limit is 65536 bytes");
});
