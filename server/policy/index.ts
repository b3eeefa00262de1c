// Public API of the policy module: shell parsing, path confinement and
// decisions (allow / ask / deny with a rule id and a reason).
export {
  decide,
  compilePolicy,
  describeTarget,
  parsedCommandOf,
  POLICY_CHECKS,
  POLICY_TOOLS,
  APPROVER_ROLES,
  RISKS,
  riskOfCall,
  VERDICTS,
  type ApproverRole,
  type Decision,
  type PathMatch,
  type Policy,
  type PolicyCheck,
  type PolicyRule,
  type PolicyToolName,
  type Risk,
  type RuleExample,
  type RuleProvenance,
  type RuleMatch,
  type ToolCallForPolicy,
  type Verdict,
} from "./policy";
export { DEFAULT_POLICY } from "./default-policy";
export { parsePolicy, policySchema } from "./schema";
export { applyProtections, decideUnderPolicy, PROTECTED_POLICY, PROTECTED_RULE_IDS } from "./protected";
export { PRESET_NAMES, presetPolicy, presetYaml, type PresetName } from "./presets";
export {
  exampleCall,
  formatProblem,
  judgeExample,
  parsePolicyYaml,
  policyToYaml,
  validatePolicyData,
  validatePolicyYaml,
  MAX_POLICY_BYTES,
  type PolicyProblem,
  type PolicyValidation,
} from "./yaml";
export { unsafeRegexReason } from "./safe-regex";
export { normaliseToolCall, type NormalisedCallResult } from "./normalise";
export { parseCommand, renderArgv, SHELL_FLAGS, type ParsedCommand, type Redirection, type ShellArg, type ShellFlag, type SimpleCommand } from "./shell";
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
