// Network access for a run's commands, end to end (Chromium, real Docker,
// the real egress proxy and host firewall, scripted model): a reviewer grants
// a domain on the run page, the agent's next command gets the proxy in its
// environment, a host that was not granted is refused and listed, and
// revoking puts the sandbox back to no network. No traffic leaves the
// machine: the only request goes to a name that is refused by the proxy.
import { expect, test } from "@playwright/test";
import { apiSignin } from "./support/api";
import { autoApprove, decide, listToolCalls, planStep, setUpRunWorld, startRun, toolStep, waitForPendingApproval, type RunWorld } from "./support/runs";

test.setTimeout(150_000);

let world: RunWorld | null = null;
let stopApproving = () => undefined as void;
test.afterEach(async () => {
  stopApproving();
  await world?.dispose();
  world = null;
});

test("a reviewer grants a run network access to a domain, sees a refused host, and revokes it", async ({ page, baseURL }) => {
  world = await setUpRunWorld(baseURL!, [
    planStep([{ title: "Try the network" }]),
    // held (its approval left pending) while the reviewer grants access
    toolStep("http_fetch", { url: "http://example.invalid/" }),
    toolStep("run_command", {
      command:
        "env | grep -c '^HTTPS_PROXY=' ; python3 -c \"import urllib.request as u\ntry:\n  u.urlopen('http://not-granted.test/', timeout=10)\nexcept Exception as e:\n  print(e)\"",
    }),
    toolStep("run_command", { command: "sleep 600" }),
  ]);
  const run = await startRun(world, world.operatorApi);
  stopApproving = autoApprove(world.reviewerApi, run.id, (a) => a.tool === "http_fetch");
  const held = await waitForPendingApproval(world.reviewerApi, run.id, "http_fetch", 90_000);

  await apiSignin(page, world.reviewer);
  await page.goto(`/runs/${run.id}`);
  const panel = page.getByTestId("egress-panel");
  await expect(panel.getByText("none", { exact: true })).toBeVisible({ timeout: 30_000 });
  await expect(panel).toContainText("Commands have no network");
  // The sandbox's live resource use against the run's limits.
  const usage = page.getByTestId("run-usage");
  await expect(usage).toContainText("Memory (MB)", { timeout: 30_000 });
  await expect(usage).toContainText("/ 1024");
  await expect(usage.getByRole("meter", { name: "Processes" })).toBeVisible();

  const form = panel.getByRole("form", { name: "Grant network access" });
  await form.getByLabel("Domains").fill("registry.example.test");
  await form.getByLabel("Reason").fill("needs the package index");
  await form.getByRole("button", { name: "Grant" }).click();
  await expect(panel.getByText("1 domain granted")).toBeVisible({ timeout: 30_000 });
  await expect(panel.getByRole("list", { name: "Granted domains" })).toContainText("registry.example.test");
  await expect(panel.getByRole("list", { name: "Granted domains" })).toContainText("needs the package index");
  await expect(page.getByTestId("egress-grant").first()).toContainText("Network access granted: registry.example.test");

  // Let the agent go on: its command sees the proxy, and a host nobody granted is refused.
  await decide(world.reviewerApi, held.id, "deny", { reason: "not this way" });
  const probe = await (async () => {
    for (let i = 0; i < 240; i++) {
      const c = (await listToolCalls(world!.reviewerApi, run.id)).filter((x) => x.tool === "run_command")[0];
      if (c && c.state === "succeeded") return c;
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error("the probe command never finished");
  })();
  const output = String(probe.result?.output);
  expect(output).toMatch(/^1\n/);
  expect(output).toContain("403");
  await page.reload();
  await panel.getByText(/Refused hosts \(1\)/).click();
  await expect(panel).toContainText("not-granted.test:80");

  await panel.getByRole("button", { name: "Revoke" }).click();
  await expect(panel.getByText("none", { exact: true })).toBeVisible({ timeout: 30_000 });
  await expect(page.getByTestId("egress-grant").filter({ hasText: "revoked" }).first()).toBeVisible();

  // The runs list shows the live run's memory and CPU.
  await page.goto("/runs");
  await expect(page.getByTestId("run-row").filter({ hasText: run.title }).getByTestId("run-resources")).toContainText(/\d+ MB · \d+% CPU/, { timeout: 30_000 });
});

test("an install_package approval offers the package registry with it; switched off, nothing is granted", async ({ page, baseURL }) => {
  // Switched off on purpose: with the grant, pip would really try to reach pypi.org (the grant itself is covered by server/egress/egress.int.test.ts).
  world = await setUpRunWorld(baseURL!, [
    planStep([{ title: "Install a package" }]),
    toolStep("install_package", { manager: "pip", packages: ["airlock-not-a-package"] }),
    toolStep("run_command", { command: "sleep 600" }),
  ]);
  const run = await startRun(world, world.operatorApi);
  stopApproving = autoApprove(world.reviewerApi, run.id, (a) => a.tool === "install_package");
  await waitForPendingApproval(world.reviewerApi, run.id, "install_package", 90_000);

  await apiSignin(page, world.reviewer);
  await page.goto(`/runs/${run.id}`);
  const card = page.getByRole("article").filter({ hasText: "airlock-not-a-package" }).first();
  const registry = card.getByRole("switch", { name: "Also let this run's commands reach the pip registry" });
  await expect(registry).toBeChecked({ timeout: 30_000 });
  await expect(card).toContainText("pypi.org, files.pythonhosted.org");
  await registry.uncheck();
  await card.getByRole("button", { name: /^Approve/ }).click();
  // The policy judges an install high risk, so approving asks a second time.
  await page.getByRole("dialog", { name: "Approve a high-risk request?" }).getByRole("button", { name: "Yes, approve" }).click();
  await expect(card.getByRole("switch")).toHaveCount(0, { timeout: 15_000 });

  const panel = page.getByTestId("egress-panel");
  await expect(panel.getByText("none", { exact: true })).toBeVisible();
  // The install ran without network and failed, saying so.
  const install = await (async () => {
    for (let i = 0; i < 240; i++) {
      const c = (await listToolCalls(world!.reviewerApi, run.id)).find((x) => x.tool === "install_package");
      if (c && ["succeeded", "failed"].includes(c.state)) return c;
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error("the install never finished");
  })();
  expect(install.result?.exit_code).not.toBe(0);
});
