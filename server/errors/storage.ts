// A full disk under the data directory: SQLite's SQLITE_FULL and the file
// system's ENOSPC / EDQUOT look different but mean the same to a user. One
// place recognises them and says it plainly (the run's reason, the agent's
// error, the API's answer), instead of a stack trace or "Internal error".
import { DomainError } from "@/server/errors/domain-error";

const STORAGE_CODES = new Set(["SQLITE_FULL", "ENOSPC", "EDQUOT"]);

export function isStorageFull(err: unknown, depth = 0): boolean {
  if (!err || typeof err !== "object" || depth > 5) return false;
  const e = err as { code?: unknown; message?: unknown; cause?: unknown };
  if (typeof e.code === "string" && STORAGE_CODES.has(e.code)) return true;
  if (typeof e.message === "string" && /database or disk is full|no space left on device|disk quota exceeded/i.test(e.message)) return true;
  return e.cause !== undefined && e.cause !== err && isStorageFull(e.cause, depth + 1);
}

/** What happened and what to do, for any writer (`what`: "the run could not record its work", …). */
export function storageFullMessage(what: string): string {
  return `The disk holding Airlock's data directory is full (no space left on device): ${what}. Nothing half-written was kept; free space on that disk and try again.`;
}

export function storageFullError(what: string): DomainError {
  return new DomainError("STORAGE_FULL", storageFullMessage(what));
}
