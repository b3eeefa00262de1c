// Reading one run by id: the one lookup the rest of server/ uses, so a
// missing run is reported the same way everywhere.
import { eq } from "drizzle-orm";
import type { Db } from "@/db/client";
import { runs, type Run } from "@/db/schema";
import { DomainError } from "@/server/errors/domain-error";

/** The run, or null when there is none with this id. */
export function findRun(db: Db, id: string): Run | null {
  return db.select().from(runs).where(eq(runs.id, id)).get() ?? null;
}

/** The run; a missing one is NOT_FOUND. */
export function requireRun(db: Db, id: string): Run {
  const run = findRun(db, id);
  if (!run) throw new DomainError("NOT_FOUND", `No run with id ${id}.`);
  return run;
}
