// Settings → Notifications: a user chooses channels, events and quiet hours
// (in the browser's time zone until they pick another), and it sticks.
import { expect, test } from "@playwright/test";
import { apiSignin, createUser, signedInApi, signInRequest, trpcQuery } from "./support/api";

test.use({ timezoneId: "Asia/Tokyo" });

test.setTimeout(120_000);

test("a reviewer turns email on, drops an event and sets quiet hours in their browser's time zone", async ({ page, baseURL, playwright }) => {
  const adminApi = await signedInApi(baseURL!);
  const reviewer = await createUser(adminApi, "reviewer", "notify");
  await adminApi.dispose();

  await apiSignin(page, reviewer);
  await page.goto("/settings");
  await expect(page.getByRole("heading", { name: "Notifications", exact: true })).toBeVisible();
  const form = page.getByRole("form", { name: "Notification settings" });
  const email = form.getByRole("switch", { name: "Email", exact: true });
  // The form appears once the preferences load (slow on a loaded machine: 17 s was seen at load 46).
  await expect(email).not.toBeChecked({ timeout: 30_000 }); // email is opt-in
  await email.check();
  await form.getByRole("checkbox", { name: /Your run finished/ }).uncheck();
  await form.getByRole("switch", { name: /quiet hours/ }).check();
  await expect(form.getByText(/Except escalations/)).toBeVisible();
  await expect(form.getByLabel("Time zone")).toHaveValue("Asia/Tokyo");
  await form.getByRole("textbox", { name: "From", exact: true }).fill("21:30");
  await form.getByRole("textbox", { name: "Until", exact: true }).fill("06:45");
  await form.getByRole("button", { name: "Save notification settings" }).click();
  await expect(form.getByText("Saved.")).toBeVisible();

  await page.reload();
  const again = page.getByRole("form", { name: "Notification settings" });
  await expect(again.getByRole("switch", { name: "Email", exact: true })).toBeChecked({ timeout: 30_000 });
  await expect(again.getByRole("checkbox", { name: /Your run finished/ })).not.toBeChecked();
  await expect(again.getByRole("textbox", { name: "From", exact: true })).toHaveValue("21:30");

  // The server holds exactly what the form showed.
  const api = await playwright.request.newContext({ baseURL });
  await signInRequest(api, reviewer);
  const res = await trpcQuery(api, "notifications.preferences");
  const saved = ((await res.json()) as { result: { data: { json: Record<string, unknown> } } }).result.data.json;
  expect(saved).toMatchObject({ email: true, quietStart: "21:30", quietEnd: "06:45", timeZone: "Asia/Tokyo" });
  expect(saved.events).not.toContain("run.finished");
  await api.dispose();
});
