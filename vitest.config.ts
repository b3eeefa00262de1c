import path from "node:path";
import { defineConfig } from "vitest/config";

const alias = { "@": path.resolve(__dirname) };

/**
 * The sandbox-level suites: they create sandboxes under the runtime of
 * test/helpers/sandbox-runtime.ts. "integration" runs them under the default
 * (AIRLOCK_RUNTIME=auto: gVisor wherever the engine offers it, as users get
 * it); "integration-runc" runs them again under runc.
 */
const SANDBOX_SUITES = [
  "server/sandbox/runtime.int.test.ts",
  "server/sandbox/files.int.test.ts",
  "server/sandbox/snapshot.int.test.ts",
  "server/sandbox/cis.int.test.ts",
  "server/egress/egress.int.test.ts",
  "server/redteam/redteam.int.test.ts",
  "test/snapshot.int.test.ts",
  "test/usage.int.test.ts",
  "test/sandbox-exit.int.test.ts",
  "test/helper-isolation.int.test.ts",
  "test/secrets-egress.int.test.ts",
];

export default defineConfig({
  resolve: { alias },
  test: {
    projects: [
      {
        resolve: { alias },
        test: {
          name: "unit",
          include: ["server/**/*.test.ts", "db/**/*.test.ts", "components/**/*.test.ts", "lib/**/*.test.ts", "test/**/*.test.ts"],
          exclude: ["**/*.int.test.ts", "node_modules/**"],
          environment: "node",
          testTimeout: 20_000,
        },
      },
      {
        resolve: { alias },
        test: {
          name: "integration",
          include: ["server/**/*.int.test.ts", "test/**/*.int.test.ts"],
          environment: "node",
          testTimeout: 180_000,
          hookTimeout: 300_000,
        },
      },
      {
        resolve: { alias },
        test: {
          name: "integration-runc",
          include: SANDBOX_SUITES,
          environment: "node",
          env: { AIRLOCK_RUNTIME: "runc" },
          testTimeout: 180_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
