// The quota measurement reuses its last `du` only while the workspace is
// unchanged (tree-signature.ts): whatever a command writes must show in the
// next figure. Real files and the real du.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import { measureWorkspace } from "./quota";

let dataDir: string;
let ws: string;
const runId = "quota-test-run";

beforeEach(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-quota-"));
  ws = path.join(dataDir, "workspaces", runId);
  fs.mkdirSync(ws, { recursive: true });
  // Where the shadow repository lives: the look's clock stamp is written there.
  fs.mkdirSync(path.join(dataDir, "checkpoints", `${runId}.git`), { recursive: true });
  fs.writeFileSync(path.join(ws, "a.txt"), "a".repeat(10_000));
});

afterEach(() => {
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const settle = () => new Promise((r) => setTimeout(r, 20));

it("C4: after a measurement that found nothing changed, a file grown in place (same inode, old mtime put back) still shows in the next figure", async () => {
  await settle();
  const first = await measureWorkspace(runId, ws);
  await settle();
  const again = await measureWorkspace(runId, ws); // nothing changed: the same figure
  expect(again.bytes).toBe(first.bytes);
  const file = path.join(ws, "a.txt");
  fs.utimesSync(file, 1_700_000_000, 1_700_000_000);
  await settle();
  const before = await measureWorkspace(runId, ws);
  fs.appendFileSync(file, "b".repeat(2 * 1024 * 1024));
  fs.utimesSync(file, 1_700_000_000, 1_700_000_000);
  const after = await measureWorkspace(runId, ws);
  expect(after.bytes - before.bytes).toBeGreaterThanOrEqual(2 * 1024 * 1024);
  // A new file in a new directory, too.
  fs.mkdirSync(path.join(ws, "d"));
  fs.writeFileSync(path.join(ws, "d", "n.bin"), Buffer.alloc(1024 * 1024, 1));
  expect((await measureWorkspace(runId, ws)).bytes - after.bytes).toBeGreaterThanOrEqual(1024 * 1024);
});
