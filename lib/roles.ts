// The role ladder for client components (db/schema pulls drizzle into the
// browser bundle, so the list is repeated here; the type check keeps them equal).
import type { Role } from "@/db/schema";

export const ROLE_OPTIONS = ["viewer", "operator", "reviewer", "admin"] as const satisfies readonly Role[];

// Fails to compile if a role is added on the server and not here.
type MissingRole = Exclude<Role, (typeof ROLE_OPTIONS)[number]>;
export const ROLES_COMPLETE: MissingRole extends never ? true : never = true;

export const ROLE_HELP: Record<Role, string> = {
  viewer: "reads runs and the audit trail",
  operator: "starts and stops their own runs",
  reviewer: "decides approvals, rolls back runs",
  admin: "users, policies, secrets, models",
};

/** The least role that may check, simulate or replay a policy draft: reviewers propose rules, admins adopt them. */
export const DRAFT_ROLE: Role = "reviewer";

// Whether a role may submit drafts: maySubmitPolicyDrafts in lib/permissions.ts.

/** Where a user's role came from (users.role_source), in words for admins. */
export function describeRoleSource(source: string): string {
  if (source === "local") return "set when the account was created";
  if (source === "admin") return "set by an admin";
  if (source === "oidc-default") return "single sign-on default role";
  if (source.startsWith("oidc-claim:")) return `single sign-on group ${source.slice("oidc-claim:".length)}`;
  return source;
}
