// The policy editor: a validation error is shown at its line and blocks the
// save; a fixed draft is diffed, saved as a new version, and the simulator
// judges calls by it (verdict, rule, reason and parts).
import crypto from "node:crypto";
import { expect, test } from "@playwright/test";
import { admin, apiSignin, signedInApi, trpcMutation } from "./support/api";

test("edit a policy with a validation error, fix it, save it, and simulate calls against it", async ({ page, baseURL }) => {
  // A project of its own, so parallel tests never edit the same policy.
  const slug = `e2e-${crypto.randomBytes(4).toString("hex")}`;
  const api = await signedInApi(baseURL!);
  await trpcMutation(api, "projects.create", { slug, name: `Policies ${slug}` });
  await api.dispose();

  await apiSignin(page, admin);
  await page.goto(`/policies?project=${slug}`);
  await expect(page.getByRole("heading", { name: "Policies", level: 1 })).toBeVisible();
  const editor = page.getByRole("textbox", { name: "Policy YAML" });
  await expect(editor).toHaveValue(/id: supervised/);
  await expect(page.getByText("Version 1 in force")).toBeVisible();
  const original = await editor.inputValue();

  // An unknown field: refused, pointing at its line.
  const broken = original.replace("programs: [rm]", "programz: [rm]");
  const brokenLine = broken.split("\n").findIndex((l) => l.includes("programz")) + 1;
  await editor.fill(broken);
  const problems = page.getByTestId("policy-problems");
  await expect(problems).toContainText('unknown field "programz"');
  await expect(problems).toContainText(`Line ${brokenLine}, column`);
  await expect(page.getByTestId("policy-invalid")).toHaveText("1 problem");
  await page.getByRole("button", { name: "Review and save" }).click();
  await expect(page.getByRole("button", { name: /^Save as version/ })).toHaveCount(0);

  // Fixed, with a real change: the diff is shown before saving.
  const fixed = original.replace("No rule covers {subject}, so a reviewer decides.", "Nothing e2e covers {subject}, so a reviewer decides.");
  await editor.fill(fixed);
  await expect(page.getByTestId("policy-valid")).toBeVisible();
  await page.getByRole("button", { name: "Review and save" }).click();
  const changes = page.getByRole("region", { name: "Changes to save" });
  await expect(changes).toContainText("Nothing e2e covers {subject}");
  await changes.getByLabel(/What changed and why/).fill("clearer fallback reason");
  await changes.getByRole("button", { name: "Save as version 2" }).click();
  await expect(page.getByText("Saved as version 2.")).toBeVisible();
  await expect(page.getByText("Version 2 in force")).toBeVisible();

  // The simulator judges by the saved policy.
  await page.getByRole("tab", { name: "Simulator" }).click();
  const form = page.getByRole("form", { name: "Simulate tool calls" });
  await form.getByLabel("Arguments (JSON)").fill(JSON.stringify({ command: "ls && rm -rf ~" }));
  await form.getByRole("button", { name: "Simulate" }).click();
  const result = page.getByRole("region", { name: "Simulation result" });
  await expect(result).toContainText("Denied");
  await expect(result).toContainText("destructive-delete");
  await expect(result).toContainText("would delete the agent's home directory");
  await expect(result.getByRole("list", { name: "Parts of the command" }).getByRole("listitem")).toHaveCount(2);

  await form.getByLabel("Arguments (JSON)").fill(JSON.stringify({ command: "make build" }));
  await form.getByRole("button", { name: "Simulate" }).click();
  await expect(result).toContainText("Asks a reviewer");
  await expect(result).toContainText("Nothing e2e covers `make build`, so a reviewer decides.");

  // The history lists both versions, the new one in force with its comment.
  await page.getByRole("tab", { name: "History" }).click();
  const versions = page.getByTestId("policy-version");
  await expect(versions).toHaveCount(2);
  await expect(versions.first()).toContainText("clearer fallback reason");
  await expect(versions.first()).toContainText("In force");
});
