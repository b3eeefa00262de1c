// The note a restore leaves in the data directory for the next start: which
// runs were active when the backup was taken. Their sandboxes did not come
// with the backup (containers are not backed up), so the supervisor's
// reconciliation ends them with that reason, even when a container of the
// same run still exists (it ran against the workspace as it was later, not
// as restored). Removed once reconciled.
import fs from "node:fs";
import path from "node:path";

export const RESTORE_MARKER = "restored-from-backup.json";

export interface RestoreMarker {
  backupCreatedAt: string;
  restoredAt: string;
  /** Runs that had (or were getting) a sandbox when the backup was taken. */
  activeRunIds: string[];
}

export function writeRestoreMarker(dataDir: string, marker: RestoreMarker): void {
  fs.writeFileSync(path.join(dataDir, RESTORE_MARKER), JSON.stringify(marker, null, 2) + "\n", { mode: 0o600 });
}

/** null when the data directory was not just restored (or the note is unreadable: then the usual reconciliation applies). */
export function readRestoreMarker(dataDir: string): RestoreMarker | null {
  try {
    const raw = JSON.parse(fs.readFileSync(path.join(dataDir, RESTORE_MARKER), "utf8")) as Partial<RestoreMarker>;
    if (!Array.isArray(raw.activeRunIds) || typeof raw.backupCreatedAt !== "string") return null;
    return { backupCreatedAt: raw.backupCreatedAt, restoredAt: String(raw.restoredAt ?? ""), activeRunIds: raw.activeRunIds.map(String) };
  } catch {
    return null;
  }
}

export function clearRestoreMarker(dataDir: string): void {
  fs.rmSync(path.join(dataDir, RESTORE_MARKER), { force: true });
}

export function restoredRunReason(marker: RestoreMarker): string {
  return `Restored from a backup taken ${marker.backupCreatedAt}; its sandbox did not survive. The workspace and its checkpoints were restored: restore a checkpoint or download the workspace, and start a new run to go on.`;
}
