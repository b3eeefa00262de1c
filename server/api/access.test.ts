// The role matrix: every procedure of the app router, called by every kind of
// caller, is refused exactly when its declared access says so. Procedures are
// discovered from the router, so one added later is covered (and must declare
// its access) without touching this file.
import { TRPCError } from "@trpc/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Role } from "@/db/schema";
import { ROLES } from "@/db/schema";
import { appRouter } from "@/server/api/root";
import { createCallerFactory, publicProcedure, roleProcedure, router, type Access, type Context } from "@/server/api/trpc";
import type { Identity } from "@/server/auth/identity";
import { revokeApiToken } from "@/server/auth/tokens";
import { presetYaml } from "@/server/policy";
import { stopPolicyWorkers } from "@/server/policy/offthread";
import { hasRole, setUserDisabled } from "@/server/users/users";
import { createTestDb, type TestDb } from "@/test/helpers/db";
import { withRawConnection } from "@/test/helpers/sqlite";
import { addUser, identityOfToken, issueToken, SETUP_ACTOR } from "@/test/helpers/users";
import { MANAGE_ROLE, type ManagedArea } from "@/lib/permissions";

const ACCESS_LEVELS: readonly Access[] = ["public", "authenticated", ...ROLES];

/**
 * The access of the procedures that exist today (the stable names of docs/ARCHITECTURE.md, "Stable contracts", and
 * the admin-only companions): each must keep existing with exactly this
 * access. New procedures need no entry here to be covered by the matrix below.
 */
const EXPECTED_ACCESS: Record<string, Access> = {
  health: "public",
  "users.me": "authenticated",
  "users.create": "admin",
  "users.list": "admin",
  "users.setRole": "admin",
  "users.setDisabled": "admin",
  "users.resetPassword": "admin",
  "users.changePassword": "authenticated",
  "users.sessions": "authenticated",
  "users.revokeSession": "authenticated",
  "users.revokeOtherSessions": "authenticated",
  "tokens.create": "authenticated",
  "tokens.list": "authenticated",
  "tokens.revoke": "authenticated",
  "audit.list": "viewer",
  "audit.verify": "viewer",
  "audit.export": "viewer",
  "models.create": "admin",
  "models.list": "viewer",
  // Issue 16: test connection, edit, delete or retire (admins; the test makes the server connect out).
  "models.test": "admin",
  "models.update": "admin",
  "models.delete": "admin",
  // Issue 16: every role reads the red team's reports; only admins start one.
  "redteam.list": "viewer",
  "redteam.get": "viewer",
  "redteam.start": "admin",
  "runs.create": "operator",
  "runs.sourceRoots": "operator",
  "runs.get": "viewer",
  "runs.usage": "viewer",
  "runs.list": "viewer",
  "runs.events": "viewer",
  "runs.kill": "operator",
  "runs.stopAll": "admin",
  // Issue 16: the fleet view's live stream, re-run and compare.
  "runs.changes": "viewer",
  "runs.rerun": "operator",
  "runs.compare": "viewer",
  "runs.operators": "viewer",
  // Issue 13: the run queue's instance-wide limits.
  "queue.settings": "admin",
  "queue.updateSettings": "admin",
  "runs.checkpoints": "viewer",
  "runs.diff": "viewer",
  // Reviewers roll back; the run's operator too when the run allows it (checked inside).
  "runs.rollback": "operator",
  "approvals.list": "viewer",
  "approvals.decide": "reviewer",
  // Issue 12: batch approval, bounded grants, reviewer statistics.
  "approvals.pendingWrites": "viewer",
  "approvals.decideBatch": "reviewer",
  "grants.create": "reviewer",
  "grants.list": "viewer",
  "grants.revoke": "reviewer",
  // Issue 13: services; stopping one follows who may stop the run (checked inside).
  "services.list": "viewer",
  // Issue 16: search sees what runs.list and audit.list show.
  "search.query": "viewer",
  "services.stop": "operator",
  "reviewers.stats": "admin",
  "policies.get": "viewer",
  "policies.update": "admin",
  "policies.simulate": "viewer",
  // Drafts need a reviewer (issue 9, H1); simulate, simulateSequence and replay check that when a draft is sent.
  "policies.validate": "reviewer",
  "policies.simulateSequence": "viewer",
  "policies.replay": "viewer",
  "secrets.create": "admin",
  "secrets.list": "admin",
  "secrets.update": "admin",
  "secrets.delete": "admin",
  "webhooks.create": "admin",
  "webhooks.list": "admin",
  "webhooks.deliveries": "admin",
  "webhooks.update": "admin",
  "webhooks.delete": "admin",
  "webhooks.test": "admin",
};

interface ProcedureDef {
  type: "query" | "mutation" | "subscription";
  meta?: { access?: unknown };
}

// Lazy-loaded sub-routers only show up in `_def.procedures` once loaded.
type RouterDef = { procedures: Record<string, { _def: ProcedureDef }>; lazy: Record<string, { load(): Promise<void> }> };
const routerDef = appRouter._def as unknown as RouterDef;
while (Object.keys(routerDef.lazy).length > 0) {
  await Promise.all(Object.values(routerDef.lazy).map((l) => l.load()));
}
const PROCEDURES = Object.entries(routerDef.procedures)
  .map(([path, proc]) => ({ path, type: proc._def.type, access: proc._def.meta?.access }))
  .sort((a, b) => a.path.localeCompare(b.path));

type Refusal = "UNAUTHORIZED" | "FORBIDDEN" | null;

function withArticle(role: Role): string {
  return /^[aeiou]/.test(role) ? `an ${role}` : `a ${role}`;
}

interface CallerKind {
  name: string;
  /** The role of a resolved identity, or null for callers the server must treat as anonymous. */
  role: Role | null;
}

const CALLERS: CallerKind[] = [
  { name: "an anonymous caller", role: null },
  ...ROLES.map((role) => ({ name: withArticle(role), role })),
  { name: "a disabled admin's token", role: null },
  { name: "a revoked admin token", role: null },
  { name: "an expired admin token", role: null },
  { name: "an unknown token", role: null },
];

function expectedRefusal(access: Access, role: Role | null): Refusal {
  if (access === "public") return null;
  if (role === null) return "UNAUTHORIZED";
  if (access === "authenticated") return null;
  return hasRole(role, access) ? null : "FORBIDDEN";
}

let t: TestDb;
const identities = new Map<string, Identity | null>();

beforeAll(async () => {
  t = createTestDb();
  for (const role of ROLES) {
    const user = await addUser(t.db, role);
    identities.set(withArticle(role), await identityOfToken(t.db, issueToken(t.db, user.id).token));
  }

  const disabled = await addUser(t.db, "admin");
  const disabledToken = issueToken(t.db, disabled.id).token;
  setUserDisabled(t.db, SETUP_ACTOR, disabled.id, true);
  identities.set("a disabled admin's token", await identityOfToken(t.db, disabledToken));

  const revokedOwner = await addUser(t.db, "admin");
  const revoked = issueToken(t.db, revokedOwner.id);
  revokeApiToken(t.db, SETUP_ACTOR, { tokenId: revoked.id });
  identities.set("a revoked admin token", await identityOfToken(t.db, revoked.token));

  const expiredOwner = await addUser(t.db, "admin");
  const expired = issueToken(t.db, expiredOwner.id, { expiresInDays: 1 });
  withRawConnection(t.file, (raw) => raw.prepare("update api_tokens set expires_at = ? where id = ?").run(Date.now() - 1000, expired.id));
  identities.set("an expired admin token", await identityOfToken(t.db, expired.token));

  identities.set("an unknown token", await identityOfToken(t.db, "alk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
  identities.set("an anonymous caller", null);
});

afterAll(async () => {
  t?.close();
  await stopPolicyWorkers();
});

type AnyRouter = Parameters<typeof createCallerFactory>[0];

function callerFor(kind: CallerKind, root: AnyRouter) {
  const ctx: Context = { db: t.db, identity: identities.get(kind.name) ?? null, sourceIp: "192.0.2.1" };
  return createCallerFactory(root)(ctx);
}

function sleep(ms: number): Promise<"timeout"> {
  return new Promise((resolve) => setTimeout(() => resolve("timeout"), ms));
}

/** Calls `path` with `input`; a subscription's stream is pulled once, since a guard may only run then. */
async function invoke(kind: CallerKind, path: string, input: unknown, root: AnyRouter): Promise<unknown> {
  let target: unknown = callerFor(kind, root);
  for (const key of path.split(".")) target = (target as Record<string, unknown>)[key];
  const result = await (target as (input: unknown) => Promise<unknown>)(input);
  if (result && typeof result === "object" && Symbol.asyncIterator in result) {
    const iterator = (result as AsyncIterable<unknown>)[Symbol.asyncIterator]();
    try {
      await Promise.race([iterator.next(), sleep(300)]);
    } finally {
      void iterator.return?.(undefined).catch(() => undefined);
    }
  } else if (result && typeof result === "object" && typeof (result as { subscribe?: unknown }).subscribe === "function") {
    await new Promise<void>((resolve, reject) => {
      const sub = (result as { subscribe(o: object): { unsubscribe(): void } }).subscribe({
        next: () => resolve(),
        error: (err: unknown) => reject(err),
        complete: () => resolve(),
      });
      void sleep(300).then(() => {
        sub.unsubscribe();
        resolve();
      });
    });
  }
  return result;
}

/** The auth refusal (if any) a call ends with; any other outcome, success or not, is not a refusal. */
async function refusalOf(kind: CallerKind, path: string, input: unknown, root: AnyRouter = appRouter): Promise<Refusal> {
  try {
    await invoke(kind, path, input, root);
    return null;
  } catch (err) {
    if (err instanceof TRPCError && (err.code === "UNAUTHORIZED" || err.code === "FORBIDDEN")) return err.code;
    return null;
  }
}

// Syntactically junk or empty inputs: a refused caller must be refused before
// validation, and an allowed caller must get past the guard to validation.
const JUNK_INPUTS: unknown[] = [undefined, {}, { id: 42, email: ["x"], role: { junk: true } }];

// Issue 16: read-only views (lib/permissions.ts MANAGE_ROLE) say who may change an area; they must name the role its write procedures need.
const MANAGE_PROCEDURES: [ManagedArea, string][] = [
  ["models", "models.update"],
  ["projects", "projects.update"],
  ["users", "users.setRole"],
  ["secrets", "secrets.update"],
  ["webhooks", "webhooks.update"],
  ["queue", "queue.updateSettings"],
  ["policies", "policies.update"],
  ["redteam", "redteam.start"],
];

describe("issue 16: the read-only views name the role the server asks for", () => {
  it.each(MANAGE_PROCEDURES)("%s: %s needs exactly MANAGE_ROLE's role", (area, path) => {
    expect(PROCEDURES.find((p) => p.path === path)?.access).toBe(MANAGE_ROLE[area]);
    expect(Object.keys(MANAGE_ROLE)).toContain(area);
  });
});

describe("every procedure declares its access", () => {
  it("the router has procedures to check", () => {
    expect(PROCEDURES.length).toBeGreaterThanOrEqual(Object.keys(EXPECTED_ACCESS).length);
  });

  it.each(PROCEDURES.map((p) => [p.path, p.access]))("%s declares its access as public, authenticated or a role (declared: %s)", (_path, access) => {
    expect(ACCESS_LEVELS).toContain(access);
  });

  it.each(Object.entries(EXPECTED_ACCESS))("%s exists and needs %s", (path, access) => {
    expect(PROCEDURES.find((p) => p.path === path)).toMatchObject({ path, access });
  });
});

describe.each(CALLERS.map((kind) => [kind.name, kind] as const))("%s", (_name, kind) => {
  const rows = PROCEDURES.map(({ path, access }) => {
    const expected = expectedRefusal(access as Access, kind.role);
    return [expected ? `is refused with ${expected}` : "gets past the guard", path, String(access), expected] as const;
  });

  it.each(rows)("%s on %s (needs %s)", async (_verdict, path, _access, expected) => {
    expect(identities.has(kind.name)).toBe(true);
    if (kind.role === null) expect(identities.get(kind.name)).toBeNull();
    else expect(identities.get(kind.name)?.user.role).toBe(kind.role);

    const outcomes: Refusal[] = [];
    for (const input of JUNK_INPUTS) outcomes.push(await refusalOf(kind, path, input));

    expect(outcomes).toEqual(JUNK_INPUTS.map(() => expected));
  });
});

describe("the matrix's own machinery", () => {
  const anonymous = CALLERS[0]!;
  const viewer = CALLERS.find((k) => k.role === "viewer")!;
  const streams = router({
    feed: roleProcedure("viewer").subscription(async function* () {
      yield 1;
    }),
  });

  it("an anonymous caller is refused a viewer subscription", async () => {
    expect(await refusalOf(anonymous, "feed", undefined, streams)).toBe("UNAUTHORIZED");
  });

  it("a viewer gets past the guard of a viewer subscription, its stream pulled once", async () => {
    expect(await refusalOf(viewer, "feed", undefined, streams)).toBeNull();
  });

  it("a procedure that declares a role but forgot its guard would be caught", async () => {
    const unguarded = router({ oops: publicProcedure.meta({ access: "admin" }).query(() => "secret") });

    expect(await refusalOf(anonymous, "oops", undefined, unguarded)).not.toBe(expectedRefusal("admin", null));
  });
});

describe("H1: submitting a policy draft needs a reviewer; viewers simulate against the policy in force", () => {
  const viewer = CALLERS.find((k) => k.role === "viewer")!;
  const reviewer = CALLERS.find((k) => k.role === "reviewer")!;
  const draft = presetYaml("strict");
  const call = { tool: "run_command", args: { command: "rm -rf /" } };
  const bomb = "a: &a [" + "*a,".repeat(2000) + "]";

  async function attempt(kind: CallerKind, path: string, input: unknown): Promise<{ ok: true; value: unknown } | { ok: false; code: string; message: string }> {
    try {
      return { ok: true, value: await invoke(kind, path, input, appRouter) };
    } catch (err) {
      return { ok: false, code: err instanceof TRPCError ? err.code : "?", message: (err as Error).message };
    }
  }

  it.each([
    ["policies.simulate", { yaml: bomb, call }],
    ["policies.simulateSequence", { yaml: bomb, calls: [call] }],
    ["policies.replay", { runId: "no-such-run", yaml: bomb }],
    ["policies.validate", { yaml: bomb }],
  ])("H1: a viewer's draft (the alias bomb) to %s is refused with FORBIDDEN before it is parsed", async (path, input) => {
    const outcome = await attempt(viewer, path, input);
    expect(outcome).toMatchObject({ ok: false, code: "FORBIDDEN" });
    if (!outcome.ok) expect(outcome.message).toMatch(/reviewer role; you are viewer/);
  });

  it("H1: a viewer still simulates against the policy in force", async () => {
    const outcome = await attempt(viewer, "policies.simulate", { call });
    expect(outcome).toMatchObject({ ok: true, value: { verdict: "deny", source: { kind: "version" } } });
  });

  it("H1: a reviewer's draft is checked, and the alias bomb comes back as a problem with its line and column", async () => {
    expect(await attempt(reviewer, "policies.simulate", { yaml: draft, call })).toMatchObject({
      ok: true,
      value: { verdict: "deny", source: { kind: "draft" } },
    });
    const checked = await attempt(reviewer, "policies.validate", { yaml: bomb });
    expect(checked).toMatchObject({ ok: true, value: { ok: false } });
    const problems = (checked as { value: { problems: { line: number; column: number; message: string }[] } }).value.problems;
    expect(problems[0]).toMatchObject({ line: 1, column: 4, message: expect.stringMatching(/anchor &a refused/) });
    expect(problems[1]).toMatchObject({ line: 1, column: 8, message: expect.stringMatching(/alias \*a refused/) });
    const simulated = await attempt(reviewer, "policies.simulate", { yaml: bomb, call });
    expect(simulated).toMatchObject({ ok: false, code: "BAD_REQUEST", message: expect.stringMatching(/line 1, column \d+: YAML anchor &a refused/) });
  });
});
