import type { Role } from "@/db/schema";

/** What client components may know about the signed-in user (never the password hash). */
export interface SessionUser {
  id: string;
  email: string;
  name: string | null;
  role: Role;
}
