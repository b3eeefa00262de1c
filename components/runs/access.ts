// Who may do what in the runs UI. The server enforces the same rules; these
// only decide which buttons to show.
import type { Role } from "@/db/schema";
import { ROLE_OPTIONS } from "@/lib/roles";
import type { SessionUser } from "@/lib/session-user";

export function atLeast(role: Role, minimum: Role): boolean {
  return ROLE_OPTIONS.indexOf(role) >= ROLE_OPTIONS.indexOf(minimum);
}

/** The run's operator, reviewers and admins may stop a run. */
export function canStopRun(user: SessionUser, run: { createdBy: string }): boolean {
  return atLeast(user.role, "reviewer") || (atLeast(user.role, "operator") && run.createdBy === user.id);
}

/** Reviewers grant network access, but not to a run they started themselves (admins may). */
export function canGrantEgress(user: SessionUser, run: { createdBy: string }): boolean {
  return user.role === "admin" || (atLeast(user.role, "reviewer") && run.createdBy !== user.id);
}
