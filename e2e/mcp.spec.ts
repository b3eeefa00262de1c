// External agents over MCP in the browser: an operator starts an external run
// from the form, sees the MCP URL, the run token (once) and the Claude Code
// command, and the run page waits until an MCP client (the real SDK client,
// using the token copied from the page) connects and calls a tool.
import { expect, test } from "@playwright/test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { apiSignin, createUser, signedInApi, trpcMutation } from "./support/api";

test.setTimeout(120_000);

test("an operator starts an external run, gets its token and snippet once, and the run page sees the agent connect", async ({ page, baseURL }) => {
  const adminApi = await signedInApi(baseURL!);
  const operator = await createUser(adminApi, "operator", "mcp-operator");
  const operatorApi = await signedInApi(baseURL!, operator);
  await apiSignin(page, operator);
  await page.goto("/runs/new");

  const form = page.getByRole("form", { name: "New run" });
  const title = `external ${Date.now()}`;
  await form.getByLabel("Title").fill(title);
  await form.getByLabel("Task").fill("List the workspace.");
  await form.getByRole("button", { name: "External agent (MCP)" }).click();
  await expect(form.getByLabel("Model endpoint")).toHaveCount(0);
  await form.getByRole("button", { name: "Start run" }).click();

  const connect = page.getByTestId("external-agent-connect");
  await expect(connect.getByRole("heading", { name: "Connect your agent" })).toBeVisible();
  const runId = (await connect.getByRole("link", { name: "Open the run" }).getAttribute("href"))!.split("/").pop()!;
  const client = new Client({ name: "e2e-agent", version: "1.0.0" });
  try {
    const url = await connect.getByRole("textbox", { name: "MCP URL (Streamable HTTP)" }).inputValue();
    const token = await connect.getByRole("textbox", { name: "Run token" }).inputValue();
    expect(url).toMatch(/\/api\/mcp$/);
    expect(token).toMatch(/^alr_/);
    await expect(connect.getByText(`claude mcp add --transport http airlock ${url} --header "Authorization: Bearer ${token}"`)).toBeVisible();
    await expect(connect.getByText("The token is shown only now")).toBeVisible();
    const width = page.viewportSize()!.width;
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(width);

    await connect.getByRole("link", { name: "Open the run" }).click();
    await expect(page.getByRole("heading", { name: title, level: 1 })).toBeVisible();
    expect(page.url()).toContain(runId);
    await expect(page.getByTestId("run-meta")).toContainText("external agent (MCP)");
    const waiting = page.getByText("Waiting for the external agent to connect", { exact: true });
    await expect(waiting).toBeVisible();

    // The token from the page works (the URL's host may be the configured public one; talk to this server).
    await client.connect(new StreamableHTTPClientTransport(new URL("/api/mcp", baseURL), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    const listed = await client.callTool({ name: "list_files", arguments: {} }, undefined, { timeout: 90_000 });
    expect(listed.isError).toBeFalsy();
    await expect(waiting).toHaveCount(0, { timeout: 15_000 });
  } finally {
    await client.close().catch(() => undefined);
    await trpcMutation(operatorApi, "runs.kill", { id: runId, reason: "e2e cleanup" }).catch(() => undefined);
    await Promise.all([adminApi.dispose(), operatorApi.dispose()]);
  }
});
