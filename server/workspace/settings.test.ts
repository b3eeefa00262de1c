import { describe, expect, it } from "vitest";
import { readWorkspaceSettings } from "@/server/config/env";

const env = (vars: Record<string, string>) => vars as unknown as NodeJS.ProcessEnv;

describe("workspace settings", () => {
  it("workspace quota: 1 GiB by default, AIRLOCK_WORKSPACE_QUOTA_MB in MB, and a bad value names the variable", () => {
    expect(readWorkspaceSettings(env({})).workspaceQuotaBytes).toBe(1024 ** 3);
    expect(readWorkspaceSettings(env({ AIRLOCK_WORKSPACE_QUOTA_MB: "2048" })).workspaceQuotaBytes).toBe(2 * 1024 ** 3);
    expect(() => readWorkspaceSettings(env({ AIRLOCK_WORKSPACE_QUOTA_MB: "lots" }))).toThrow(
      /AIRLOCK_WORKSPACE_QUOTA_MB must be a non-negative number, got "lots"/,
    );
    expect(() => readWorkspaceSettings(env({ AIRLOCK_WORKSPACE_QUOTA_MB: "8" }))).toThrow(/AIRLOCK_WORKSPACE_QUOTA_MB must be at least 16/);
  });
});
