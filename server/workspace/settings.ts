// Workspace and checkpoint settings: read and checked once with the rest of the
// environment (readWorkspaceSettings in server/config/env.ts); tests may
// override them for one suite.
import { config, readWorkspaceSettings, type WorkspaceSettings } from "@/server/config/env";

let override: WorkspaceSettings | undefined;

export function workspaceSettings(): WorkspaceSettings {
  return override ?? config().workspace;
}

/** Tests change settings (a small cap, repo roots) for one suite; the rest is read from the environment as it is now. */
export function overrideWorkspaceSettings(patch: Partial<WorkspaceSettings> | null): void {
  override = patch ? { ...readWorkspaceSettings(), ...patch } : undefined;
}
