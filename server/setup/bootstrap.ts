// First-run setup shared by `npm start` and the CLI: migrate the database and
// create the first admin when no user exists.
import type { Db } from "@/db/client";
import { SYSTEM_ACTOR } from "@/server/audit/chain";
import { generatePassword } from "@/server/auth/password";
import type { AirlockConfig } from "@/server/config/env";
import { countUsers, createUser } from "@/server/users/users";

export interface FirstAdminResult {
  created: boolean;
  email?: string;
  generatedPassword?: string;
}

export async function ensureFirstAdmin(db: Db, cfg: AirlockConfig): Promise<FirstAdminResult> {
  if (countUsers(db) > 0) return { created: false };
  const email = cfg.adminEmail ?? "admin@airlock.local";
  const generatedPassword = cfg.adminPassword ? undefined : generatePassword();
  await createUser(db, { ...SYSTEM_ACTOR, label: "setup" }, { email, role: "admin", password: cfg.adminPassword ?? generatedPassword, name: "Administrator" });
  return { created: true, email, generatedPassword };
}
