// Issue 9, H1 and H2 against the production build: drafts are checked by the
// policy worker (a plain .mjs file next to the sources, loaded at run time),
// so the alias bomb and the a*a*a*b rule come back as answers while
// /api/health keeps answering; viewers may not send drafts, and the policy
// pages tell them so.
import { expect, test, type APIRequestContext } from "@playwright/test";
import { apiSignin, createUser, signedInApi, trpcMutation } from "./support/api";

const BOMB = "a: &a [" + "*a,".repeat(2000) + "]";

async function timedHealth(request: APIRequestContext): Promise<number> {
  const started = Date.now();
  await request.get("/api/health");
  return Date.now() - started;
}

test("@desktop-only H1/H2: the built server checks a reviewer's worst drafts in its policy worker while /api/health answers, and refuses a viewer's", async ({
  baseURL,
}) => {
  const adminApi = await signedInApi(baseURL!);
  const reviewer = await createUser(adminApi, "reviewer");
  const viewer = await createUser(adminApi, "viewer");
  const reviewerApi = await signedInApi(baseURL!, reviewer);
  const viewerApi = await signedInApi(baseURL!, viewer);
  const current = await trpcMutation<{ results: { verdict: string }[] }>(reviewerApi, "policies.simulateSequence", {
    calls: [{ tool: "run_command", args: { command: "ls" } }],
  });
  expect(current.results[0]!.verdict).toBe("allow"); // the worker is up

  // H1: the alias bomb is a problem at line 1, not ten minutes at 100 % CPU.
  const checking = trpcMutation<{ ok: boolean; problems: { line: number; column: number; message: string }[] }>(reviewerApi, "policies.validate", {
    yaml: BOMB,
  });
  const health = await timedHealth(adminApi);
  const checked = await checking;
  expect(checked.ok).toBe(false);
  expect(checked.problems[0]).toMatchObject({
    line: 1,
    column: 4,
    message: expect.stringMatching(/YAML anchor &a refused: policies may not use anchors or aliases/),
  });
  expect(health).toBeLessThan(2000);

  // H2: the a*a*a*b rule and a 16 KB argument: judged (an over-long argument asks), with health answering alongside.
  const supervised = await adminApi.get(`/api/trpc/policies.get?input=${encodeURIComponent(JSON.stringify({ json: {} }))}`);
  const yaml = ((await supervised.json()) as { result: { data: { json: { yaml: string } } } }).result.data.json.yaml;
  const h2 = yaml.replace(
    /\nrules:\n/,
    '\nrules:\n  - id: h2-catastrophic\n    description: x\n    tools: [run_command]\n    match:\n      programs: [echo]\n      anyArg: ["a*a*a*b"]\n    outcome: deny\n    reason: "{command} matched"\n',
  );
  const simulating = trpcMutation<{ verdict: string; rule: string }>(reviewerApi, "policies.simulate", {
    yaml: h2,
    call: { tool: "run_command", args: { command: "echo " + "a".repeat(16_000) } },
  });
  const healthDuringH2 = await timedHealth(adminApi);
  expect(await simulating).toMatchObject({ verdict: "ask", rule: "h2-catastrophic" });
  expect(healthDuringH2).toBeLessThan(2000);

  // A viewer's draft is refused before anything parses it.
  const refused = await viewerApi.post("/api/trpc/policies.simulate", {
    data: { json: { yaml: BOMB, call: { tool: "run_command", args: { command: "ls" } } } },
  });
  expect(refused.status()).toBe(403);
  expect(await refused.text()).toMatch(/Checking a policy draft needs the reviewer role; you are viewer/);

  await Promise.all([adminApi.dispose(), reviewerApi.dispose(), viewerApi.dispose()]);
});

test("H1: a viewer sees the policy read-only and simulates against the version in force", async ({ page, baseURL }) => {
  test.setTimeout(120_000); // the shared test machine is slow to render the policy page
  const adminApi = await signedInApi(baseURL!);
  const viewer = await createUser(adminApi, "viewer");
  await adminApi.dispose();
  await apiSignin(page, viewer);

  await page.goto("/policies");
  // The policy loads slowly on the loaded test machine.
  await expect(page.getByTestId("policy-read-only")).toHaveText("Read-only: checking drafts needs the reviewer role.", { timeout: 30_000 });
  await expect(page.getByRole("textbox", { name: "Policy YAML" })).toHaveAttribute("readonly", "");

  await page.getByRole("tab", { name: "Simulator" }).click();
  await expect(page.getByTestId("drafts-need-reviewer")).toContainText("needs the reviewer role", { timeout: 30_000 });
  await page.getByRole("button", { name: "Simulate" }).click();
  await expect(page.getByText(/Against version \d+/)).toBeVisible({ timeout: 30_000 });
});
