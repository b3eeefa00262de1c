import path from "node:path";
import { defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";

const alias = { "@": path.resolve(__dirname) };

// Integration files that take a minute or more, longest first. They are started
// first so that, with two workers (scripts/test.sh), neither worker is left
// running one of them alone at the end: without the durations of an earlier
// run (a fresh checkout), vitest starts the largest files first, and the red
// team's short file takes the longest.
const LONG_FILES = ["server/redteam/redteam.int.test.ts", "server/egress/egress.int.test.ts", "test/mcp.int.test.ts", "server/sandbox/runtime.int.test.ts"];

class LongFilesFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (f: TestSpecification) => {
      const i = LONG_FILES.findIndex((p) => f.moduleId.endsWith(`/${p}`));
      return i < 0 ? LONG_FILES.length : i;
    };
    return (await super.sort(files)).sort((a, b) => rank(a) - rank(b)); // stable: the rest keep vitest's order
  }
}

/**
 * The sandbox-level suites: they create sandboxes under the runtime of
 * test/helpers/sandbox-runtime.ts. "integration" runs them under the default
 * (AIRLOCK_RUNTIME=auto, as users get it: runc on this machine, whose Debian
 * runsc breaks coreutils' stat; gVisor where it works fully);
 * "integration-runsc" runs them again under gVisor (AIRLOCK_RUNTIME=runsc).
 */
const SANDBOX_SUITES = [
  "server/sandbox/runtime.int.test.ts",
  "server/sandbox/files.int.test.ts",
  "server/sandbox/file-server.int.test.ts",
  "server/sandbox/snapshot.int.test.ts",
  "server/sandbox/cis.int.test.ts",
  "server/sandbox/hygiene.int.test.ts",
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
    sequence: { sequencer: LongFilesFirst },
    projects: [
      {
        resolve: { alias },
        test: {
          name: "unit",
          include: ["server/**/*.test.ts", "db/**/*.test.ts", "components/**/*.test.ts", "lib/**/*.test.ts", "test/**/*.test.ts"],
          exclude: ["**/*.int.test.ts", "**/*.fault.test.ts", "node_modules/**"],
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
          // Fault injection against real processes, a real engine and real filesystems (test/faults/). npm test runs the short
          // form; `npm run test:faults` the full one (AIRLOCK_FAULTS=full: every kill point, more rounds).
          name: "faults",
          include: ["test/faults/**/*.fault.test.ts"],
          environment: "node",
          testTimeout: 600_000,
          hookTimeout: 300_000,
        },
      },
      {
        resolve: { alias },
        test: {
          name: "integration-runsc",
          // Every sandbox-level suite, the egress suite included (its three gVisor failures of the CI run of 2026-12-04 were the
          // test's: `docker top` lists host processes under gVisor, and that failure left a grant and a running exec behind, which
          // failed the DNS and idle-teardown tests after it). The red team plays only the scenarios whose outcome depends on the
          // runtime here, the whole catalogue under "integration": why, in server/redteam/redteam.int.test.ts (GVISOR_CATEGORIES).
          include: SANDBOX_SUITES,
          environment: "node",
          env: { AIRLOCK_RUNTIME: "runsc" },
          testTimeout: 180_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
