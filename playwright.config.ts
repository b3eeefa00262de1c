// End-to-end tests in Debian's Chromium, on a desktop and a phone viewport.
//
// With E2E_BASE_URL set (the lead's test script), the tests run against that
// server and nothing is started here. Without it, `npx next build` first; this
// config then seeds an admin in a fresh data directory and runs `next start`.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { defineConfig } from "@playwright/test";

const externalBaseUrl = process.env.E2E_BASE_URL;
const port = Number(process.env.E2E_PORT ?? 3100);
const baseURL = externalBaseUrl ?? `http://127.0.0.1:${port}`;

// Workers inherit the environment, so they see the same admin and data directory.
process.env.E2E_ADMIN_EMAIL ??= "admin@airlock.test";
process.env.E2E_ADMIN_PASSWORD ??= "e2e-admin-password-1";
if (!externalBaseUrl) process.env.E2E_DATA_DIR ??= fs.mkdtempSync(path.join(os.tmpdir(), "airlock-e2e-"));

const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export default defineConfig({
  testDir: "e2e",
  testMatch: "**/*.spec.ts",
  fullyParallel: true,
  forbidOnly: Boolean(process.env.CI),
  retries: process.env.CI ? 1 : 0,
  workers: process.env.E2E_WORKERS ? Number(process.env.E2E_WORKERS) : 2,
  timeout: 45_000,
  expect: { timeout: 10_000 },
  reporter: process.env.CI ? [["list"], ["html", { open: "never" }]] : [["list"]],
  outputDir: "test-results",
  use: {
    baseURL,
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
    acceptDownloads: true,
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: CHROMIUM_ARGS,
    },
  },
  projects: [
    {
      name: "desktop",
      // Tests tagged @phone-only test the phone layout; @desktop-only ones are heavy
      // tests of components the phone project already shares.
      grepInvert: /@phone-only/,
      use: { browserName: "chromium", viewport: { width: 1280, height: 800 } },
    },
    {
      name: "phone",
      grepInvert: /@desktop-only/,
      use: {
        browserName: "chromium",
        viewport: { width: 375, height: 812 },
        deviceScaleFactor: 2,
        isMobile: true,
        hasTouch: true,
        userAgent: "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36",
      },
    },
  ],
  webServer: externalBaseUrl
    ? undefined
    : {
        command: `npx tsx e2e/support/seed-admin.ts && npx next start -p ${port} -H 127.0.0.1`,
        url: `${baseURL}/login`,
        timeout: 120_000,
        reuseExistingServer: false,
        stdout: "pipe",
        env: {
          AIRLOCK_DATA_DIR: process.env.E2E_DATA_DIR!,
          AIRLOCK_ADMIN_EMAIL: process.env.E2E_ADMIN_EMAIL,
          AIRLOCK_ADMIN_PASSWORD: process.env.E2E_ADMIN_PASSWORD,
          PORT: String(port),
          AIRLOCK_NOTIFY_ALLOW_HOSTS: "127.0.0.1",
        },
      },
});
