// The checkpoints page end to end (Chromium, real Docker, scripted model): a
// reviewer sees the run's checkpoint timeline and a checkpoint's diff, takes a
// container snapshot after the agent installed a tool into its home, restarts
// the live run from it after the agent broke its environment (the tool and
// the files are back), and rolls the workspace back to an earlier checkpoint.
import { expect, test } from "@playwright/test";
import { apiSignin } from "./support/api";
import {
  autoApprove,
  decide,
  finishStep,
  listToolCalls,
  planStep,
  setUpRunWorld,
  startRun,
  toolStep,
  waitForPendingApproval,
  type RunWorld,
} from "./support/runs";

test.setTimeout(180_000);

let world: RunWorld | null = null;
let stopApproving = () => undefined as void;
test.afterEach(async () => {
  stopApproving();
  await world?.dispose();
  world = null;
});

const poll = async <T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 60_000): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
};

test("a reviewer snapshots a run's container, restarts the live run from it and rolls the workspace back", async ({ page, baseURL }) => {
  world = await setUpRunWorld(baseURL!, [
    planStep([{ title: "Install a helper and write notes" }]),
    toolStep("write_file", { path: "notes.txt", content: "v1\n" }),
    toolStep("run_command", {
      command: "mkdir -p ~/.local/bin && printf '#!/bin/sh\\necho tool-ok\\n' > ~/.local/bin/mytool && chmod +x ~/.local/bin/mytool && echo v2 > notes.txt",
    }),
    // held (its approval left pending) until the snapshot is taken
    toolStep("http_fetch", { url: "http://example.invalid/" }),
    toolStep("run_command", { command: "rm -f ~/.local/bin/mytool && echo broken > notes.txt" }),
    toolStep("run_command", { command: "sleep 600" }), // interrupted by the restart
    toolStep("run_command", { command: "mytool && cat notes.txt" }),
    toolStep("run_command", { command: "sleep 600" }), // interrupted by the rollback
    toolStep("run_command", { command: "cat notes.txt" }),
    toolStep("run_command", { command: "sleep 600" }),
    finishStep(),
  ]);
  const run = await startRun(world, world.operatorApi);
  stopApproving = autoApprove(world.reviewerApi, run.id, (a) => a.tool === "http_fetch");
  const api = world.reviewerApi;
  const commands = async () => (await listToolCalls(api, run.id)).filter((c) => c.tool === "run_command");
  const held = await waitForPendingApproval(api, run.id, "http_fetch", 90_000);
  expect((await commands())[0]?.state).toBe("succeeded");

  await apiSignin(page, world.reviewer);
  await page.goto(`/runs/${run.id}/checkpoints`);
  await expect(page.getByRole("heading", { name: "Checkpoints", level: 1 })).toBeVisible();
  const timeline = page.getByTestId("checkpoint-timeline");
  // start, write_file, the install command
  await expect(timeline.getByTestId("checkpoint")).toHaveCount(3);
  const written = timeline.getByTestId("checkpoint").filter({ hasText: "write_file: notes.txt" });
  await written.getByRole("button", { name: "Diff" }).click();
  await expect(written.getByText("notes.txt").first()).toBeVisible();

  // Snapshot at the latest checkpoint.
  await page.getByRole("button", { name: /^Snapshot at #3$/ }).click();
  const snapshot = page.getByTestId("snapshot");
  await expect(snapshot).toHaveCount(1, { timeout: 30_000 });
  await expect(snapshot).toContainText("At checkpoint #3");
  await expect(snapshot).toContainText("Current checkpoint");

  // The agent breaks its environment, then sits in a long command.
  await decide(api, held.id, "deny", { reason: "no network in this test" });
  await poll("the agent to break things and start sleeping", async () => {
    const c = await commands();
    return c[1]?.state === "succeeded" && c[2]?.state === "executing";
  });

  await snapshot.getByRole("button", { name: "Restart from here" }).click();
  const dialog = page.getByRole("dialog", { name: /Restart the sandbox from the snapshot at #3/ });
  await expect(dialog.getByRole("switch", { name: /Also restore the workspace to checkpoint #3/ })).toBeChecked();
  await dialog.getByRole("button", { name: "Restart" }).click();
  await expect(dialog).toBeHidden({ timeout: 30_000 });

  const afterRestart = await poll("the command after the restart", async () => {
    const c = await commands();
    return c[3]?.state === "succeeded" && c[3];
  });
  expect((await commands())[2]?.errorCode).toBe("ROLLED_BACK");
  expect(String(afterRestart.result?.output)).toBe("tool-ok\nv2\n");

  // Roll the workspace back to the write_file checkpoint from the timeline.
  await poll("the next long command", async () => (await commands())[4]?.state === "executing");
  await page.reload();
  const target = page.getByTestId("checkpoint").filter({ hasText: "write_file: notes.txt" });
  await target.getByRole("button", { name: "Roll back to here" }).click();
  const confirm = page.getByRole("dialog", { name: /Roll back to checkpoint #2/ });
  await confirm.getByRole("button", { name: "Roll back" }).click();
  await expect(confirm).toBeHidden({ timeout: 30_000 });
  const afterRollback = await poll("the command after the rollback", async () => {
    const c = await commands();
    return c[5]?.state === "succeeded" && c[5];
  });
  expect(String(afterRollback.result?.output)).toBe("v1\n");
  await expect(page.getByTestId("checkpoint").filter({ hasText: "rollback to #2" })).toBeVisible({ timeout: 10_000 });
});
