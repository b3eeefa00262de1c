// Configuration that arms later commands: files whose contents make a later,
// allowed command (git log, npm test, opening the folder in an editor, a new
// shell) run a program of the writer's choosing. Writing one is its own policy
// rule (arming-config) with a reason that says what it arms; a workspace
// source that brings one is flagged on the run page before anyone approves.
// One table drives both, so the rule and the warning never disagree.
import { compileGlob, pathMatches, type CompiledGlob } from "./glob";
import { WORKSPACE_ROOT } from "./paths";

export interface ArmingConfigRow {
  /** Globs over normalised absolute paths (`~` is the agent's home), as policy rules use them. */
  files: string[];
  /** A path (relative to the workspace) this row is about, used in its test and its documentation. */
  example: string;
  /** What a write there arms: "{path} can make {arms}". */
  arms: string;
}

export const ARMING_CONFIG: readonly ArmingConfigRow[] = [
  {
    files: ["**/.git/config", "**/.git/config.worktree", "**/.git/*/config"],
    example: ".git/config",
    arms: "later git commands run a program (core.pager, core.fsmonitor, filters, hooks)",
  },
  { files: ["**/.git/hooks/**"], example: ".git/hooks/pre-commit", arms: "later git commands (commit, merge, checkout, push) run it as a hook" },
  {
    files: ["**/.gitattributes", "**/.git/info/attributes"],
    example: ".gitattributes",
    arms: "later git diff, add and checkout run the filter or textconv program it names",
  },
  {
    files: ["**/.gitconfig", "~/.config/git/**", "**/.gitconfig-*", "**/*.gitconfig"],
    example: ".gitconfig",
    arms: "later git commands run a program (core.pager, core.fsmonitor, aliases, includeIf)",
  },
  { files: ["**/.gitmodules"], example: ".gitmodules", arms: "a later git submodule update run the command it names (update = !…)" },
  { files: ["**/.npmrc"], example: ".npmrc", arms: "later npm commands run a program (script-shell, node-options, git, onload-script)" },
  { files: ["**/.yarnrc", "**/.yarnrc.yml"], example: ".yarnrc.yml", arms: "later yarn commands run a program (yarnPath, plugins)" },
  {
    files: ["**/pip.conf", "**/pip.ini", "~/.pip/**", "~/.config/pip/**"],
    example: "pip.conf",
    arms: "later pip installs fetch and build packages from an index it names",
  },
  {
    files: ["**/.claude/**"],
    example: ".claude/settings.json",
    arms: "a coding agent (Claude Code) opened later on this project run the hooks and commands it lists",
  },
  {
    files: ["**/.codex/**"],
    example: ".codex/config.toml",
    arms: "a coding agent (Codex) opened later on this project run the commands and MCP servers it lists",
  },
  { files: ["**/.mcp.json"], example: ".mcp.json", arms: "an agent or editor opened later on this project start the MCP servers it lists" },
  { files: ["**/.cursor/**"], example: ".cursor/mcp.json", arms: "Cursor opened later on this project run the MCP servers and rules it lists" },
  {
    files: ["**/.vscode/tasks.json", "**/.vscode/settings.json", "**/.vscode/launch.json"],
    example: ".vscode/tasks.json",
    arms: "VS Code run the tasks, terminal profiles or programs it names when the folder is opened",
  },
  {
    files: ["**/.idea/runConfigurations/**", "**/.idea/workspace.xml"],
    example: ".idea/workspace.xml",
    arms: "a JetBrains IDE run the programs its run configurations name",
  },
  {
    files: [
      "**/.bashrc",
      "**/.bash_profile",
      "**/.bash_login",
      "**/.bash_logout",
      "**/.profile",
      "**/.zshrc",
      "**/.zshenv",
      "**/.zprofile",
      "**/.zlogin",
      "**/.inputrc",
    ],
    example: ".bashrc",
    arms: "every later shell run it",
  },
  { files: ["**/.envrc"], example: ".envrc", arms: "direnv run it in every later shell that enters the directory" },
  { files: ["**/.pre-commit-config.yaml", "**/.husky/**"], example: ".pre-commit-config.yaml", arms: "later git commits run the hook programs it lists" },
];

/** Every glob of the table, for the policy rule's `writes` match. */
export const ARMING_CONFIG_FILES: readonly string[] = ARMING_CONFIG.flatMap((r) => r.files);

let compiled: { row: ArmingConfigRow; globs: CompiledGlob[] }[] | null = null;

/** The row an absolute (normalised) path falls under, or null. */
export function armingConfigOf(absolutePath: string): ArmingConfigRow | null {
  compiled ??= ARMING_CONFIG.map((row) => ({ row, globs: row.files.map(compileGlob) }));
  const ref = { path: absolutePath, glob: false };
  return compiled.find((c) => c.globs.some((g) => pathMatches(ref, g, "overlaps")))?.row ?? null;
}

/** What writing `absolutePath` arms, for a rule's {arms} placeholder (a general phrase when the path is in no row). */
export function armsPhrase(absolutePath: string): string {
  return armingConfigOf(absolutePath)?.arms ?? "later commands run a program";
}

/** Whether a workspace-relative path is an arming configuration file. */
export function isArmingConfigFile(relativePath: string): boolean {
  return armingConfigOf(`${WORKSPACE_ROOT}/${relativePath.replace(/^\/+/, "")}`) !== null;
}
