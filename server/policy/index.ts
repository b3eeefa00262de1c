// Public API of the policy module: shell parsing, path confinement and
// decisions (allow / ask / deny with a rule id and a reason).
export {
  decide,
  compilePolicy,
  describeTarget,
  parsedCommandOf,
  POLICY_CHECKS,
  POLICY_TOOLS,
  VERDICTS,
  type Decision,
  type PathMatch,
  type Policy,
  type PolicyCheck,
  type PolicyRule,
  type PolicyToolName,
  type RuleMatch,
  type ToolCallForPolicy,
  type Verdict,
} from "./policy";
export { DEFAULT_POLICY } from "./default-policy";
export { parsePolicy, policySchema } from "./schema";
export { normaliseToolCall, type NormalisedCallResult } from "./normalise";
export {
  parseCommand,
  renderArgv,
  SHELL_FLAGS,
  type ParsedCommand,
  type Redirection,
  type ShellArg,
  type ShellFlag,
  type SimpleCommand,
} from "./shell";
export { commandEffects, type CommandEffects } from "./commands";
export {
  AGENT_HOME,
  MAX_PATH_LENGTH,
  normaliseWorkspaceCwd,
  normaliseWorkspacePath,
  WORKSPACE_ROOT,
  type PathRefusal,
  type PathRefusalKind,
  type WorkspacePathResult,
} from "./paths";
export { REDTEAM_CASES, type RedteamCase } from "./redteam-cases";
