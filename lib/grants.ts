// What a bounded grant may cover, shared by the server (server/grants/grants.ts
// decides) and the approval card (which only offers a grant where one would apply).
// No imports: this module is bundled into the browser.

/** The tools a grant may cover this round: file writes inside the workspace, whose effect a checkpoint can undo. */
export const GRANT_TOOLS = ["write_file", "edit_file"] as const;
export type GrantTool = (typeof GRANT_TOOLS)[number];

/**
 * The policy rules whose question a grant may answer: the catch-all "every
 * file change is reviewed" rule of the default policy, and a policy's default
 * outcome. More specific rules (secret files, CI configuration, files that arm
 * later commands) match first and keep asking.
 */
export const GRANTABLE_RULES: ReadonlySet<string> = new Set(["workspace-write", "default"]);

/** The defaults a reviewer is offered: 15 minutes or 20 calls, whichever ends first. */
export const GRANT_DEFAULTS = { minutes: 15, maxCalls: 20 } as const;

export function isGrantTool(tool: string): tool is GrantTool {
  return (GRANT_TOOLS as readonly string[]).includes(tool);
}

/** Whether approving this request could come with a grant (the server checks again). */
export function grantableRequest(a: {
  kind: string;
  tool: string;
  rule: string | null;
  requiredApprovals: number;
  approverRole: string;
  risk: string | null;
}): boolean {
  return (
    a.kind === "tool" &&
    isGrantTool(a.tool) &&
    a.rule !== null &&
    GRANTABLE_RULES.has(a.rule) &&
    a.requiredApprovals <= 1 &&
    a.approverRole === "reviewer" &&
    a.risk !== "high"
  );
}

/** The directory a grant offered with a write covers: the written file's directory, relative to /workspace ("." for the top). */
export function suggestedGrantPath(path: unknown): string {
  if (typeof path !== "string") return ".";
  const rel = path.replace(/^\/workspace\/?/, "").replace(/^\.\//, "");
  const slash = rel.lastIndexOf("/");
  return slash <= 0 ? "." : `${rel.slice(0, slash)}/`;
}
