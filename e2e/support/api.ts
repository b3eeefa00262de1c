// Test helpers that talk to the server over HTTP: sign in the way the login
// form does (documenso's apiSignin) and call tRPC procedures directly.
import { expect, request as playwrightRequest, type APIRequestContext, type BrowserContext, type Page } from "@playwright/test";
import crypto from "node:crypto";

export interface Credentials {
  email: string;
  password: string;
}

export const admin: Credentials = {
  email: process.env.E2E_ADMIN_EMAIL ?? "admin@airlock.test",
  password: process.env.E2E_ADMIN_PASSWORD ?? "e2e-admin-password-1",
};

export type Role = "viewer" | "operator" | "reviewer" | "admin";

/** A unique address per call, so parallel tests and both projects never collide. */
export function uniqueEmail(prefix: string): string {
  return `${prefix}-${crypto.randomBytes(4).toString("hex")}@e2e.test`.toLowerCase();
}

/** next-auth's credentials sign-in: CSRF token (and its cookie), then the callback, which sets the session cookie. */
export async function signInRequest(request: APIRequestContext, { email, password }: Credentials): Promise<void> {
  const csrf = await request.get("/api/auth/csrf");
  expect(csrf.ok(), "GET /api/auth/csrf").toBeTruthy();
  const { csrfToken } = (await csrf.json()) as { csrfToken: string };
  const res = await request.post("/api/auth/callback/credentials", {
    form: { csrfToken, email, password, json: "true", callbackUrl: "/runs" },
    maxRedirects: 0,
  });
  expect(res.status(), `sign-in of ${email}`).toBeLessThan(400);
  const body = (await res.json()) as { url?: string };
  const error = body.url ? new URL(body.url).searchParams.get("error") : null;
  expect(error, `sign-in of ${email} failed`).toBeNull();
}

/** Signs the page's browser context in, so the next page.goto is authenticated. */
export async function apiSignin(page: Page | BrowserContext, credentials: Credentials): Promise<void> {
  const context = "context" in page ? page.context() : page;
  await signInRequest(context.request, credentials);
  const cookies = await context.cookies();
  expect(
    cookies.some((c) => c.name.endsWith("next-auth.session-token")),
    "session cookie set",
  ).toBeTruthy();
}

/** A separate HTTP client signed in as someone (by default the admin), for setting up data. */
export async function signedInApi(baseURL: string, credentials: Credentials = admin): Promise<APIRequestContext> {
  const request = await playwrightRequest.newContext({ baseURL });
  await signInRequest(request, credentials);
  return request;
}

interface TrpcOk<T> {
  result: { data: { json: T } };
}

/** Calls a tRPC mutation (superjson wire format) and returns its result, failing the test on an error. */
export async function trpcMutation<T = unknown>(request: APIRequestContext, path: string, input: unknown, headers?: Record<string, string>): Promise<T> {
  const res = await request.post(`/api/trpc/${path}`, { data: { json: input }, headers });
  const text = await res.text();
  expect(res.ok(), `${path}: ${text}`).toBeTruthy();
  return (JSON.parse(text) as TrpcOk<T>).result.data.json;
}

export async function trpcQuery(request: APIRequestContext, path: string, input?: unknown, headers?: Record<string, string>) {
  const qs = input === undefined ? "" : `?input=${encodeURIComponent(JSON.stringify({ json: input }))}`;
  return request.get(`/api/trpc/${path}${qs}`, { headers });
}

export interface CreatedUser extends Credentials {
  id: string;
  role: Role;
}

/** Creates a user with a password through the API, as the admin. */
export async function createUser(adminApi: APIRequestContext, role: Role, prefix: string = role): Promise<CreatedUser> {
  const email = uniqueEmail(prefix);
  const password = `pw-${crypto.randomBytes(6).toString("hex")}`;
  const user = await trpcMutation<{ id: string }>(adminApi, "users.create", { email, role, password });
  return { id: user.id, email, password, role };
}
