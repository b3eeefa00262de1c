// Creates the first admin (AIRLOCK_ADMIN_EMAIL / AIRLOCK_ADMIN_PASSWORD) in
// AIRLOCK_DATA_DIR when no user exists yet; used by playwright.config.ts when it
// starts its own server. Does nothing on a database that already has users.
import { db } from "@/db/client";
import { SYSTEM_ACTOR } from "@/server/audit/chain";
import { countUsers, createUser } from "@/server/users/users";

async function main() {
  const email = process.env.AIRLOCK_ADMIN_EMAIL;
  const password = process.env.AIRLOCK_ADMIN_PASSWORD;
  if (!email || !password) throw new Error("Set AIRLOCK_ADMIN_EMAIL and AIRLOCK_ADMIN_PASSWORD.");
  const database = db();
  if (countUsers(database) > 0) return;
  await createUser(database, SYSTEM_ACTOR, { email, password, role: "admin" });
  console.log(`seeded admin ${email}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
