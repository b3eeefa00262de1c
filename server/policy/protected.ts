// Always-protected paths: judged in code after a project's own policy has
// decided, so no policy — however permissive — lets an agent write git
// internals or shell start-up files, or change CI configuration without a
// reviewer. The protections are policy data evaluated by the same engine;
// what is not data is that they always run and can only make a decision stricter.
import { CI_AND_HOOK_CONFIG, GIT_EXEC_KEYS, GIT_INTERNALS, SHELL_STARTUP_FILES } from "./default-policy";
import { decide, parsedCommandOf, type Decision, type Policy, type ToolCallForPolicy, type Verdict } from "./policy";

const RANK: Record<Verdict, number> = { allow: 0, ask: 1, deny: 2 };

export const PROTECTED_POLICY: Policy = {
  id: "always-protected",
  name: "Always protected",
  description: "Protections Airlock applies after every project policy; a policy can make them stricter, never looser.",
  default: { verdict: "allow", reason: "Nothing Airlock always protects is touched." },
  rules: [
    {
      id: "protected-git-internals",
      description: "Writing inside .git (hooks, config, objects).",
      tools: ["write_file", "edit_file", "run_command"],
      match: { writes: { any: GIT_INTERNALS } },
      outcome: "deny",
      reason:
        "{subject} writes to {path}, inside .git, where hooks and config run code outside review; Airlock never allows this, whatever the project's policy says.",
    },
    {
      id: "protected-git-config",
      description: "git config that changes a setting (it writes .git/config).",
      tools: ["run_command"],
      match: { check: "git-config-write" },
      outcome: "deny",
      reason:
        "`{command}` writes .git/config, where hooks, aliases and pagers run code outside review; Airlock never allows this, whatever the project's policy says.",
    },
    {
      id: "protected-git-exec-config",
      description: "git settings whose value is a program git runs.",
      tools: ["run_command"],
      match: { programs: ["git"], anyArg: [GIT_EXEC_KEYS] },
      outcome: "deny",
      reason: "`{command}` sets {arg}, which makes git run a program of the agent's choosing; Airlock never allows this, whatever the project's policy says.",
    },
    {
      // Also here, not only in the default policy: a project created before the option tables keeps its
      // policy's older read-only rules, which allowed `rg --hostname-bin ./x.sh` or `git -p log` (issue 12).
      id: "protected-read-only-runs-program",
      description: "An option or script that makes a read-only program start another program (rg --pre, sed 's/x/y/e', find -exec, git -p…).",
      tools: ["run_command"],
      match: { check: "option-runs-program" },
      outcome: "ask",
      reason: "`{command}` uses {option}, which {effect}; Airlock always asks a reviewer, whatever the project's policy says.",
    },
    {
      id: "protected-shell-startup",
      description: "Writing shell start-up files.",
      tools: ["write_file", "edit_file", "run_command"],
      match: { writes: { any: SHELL_STARTUP_FILES } },
      outcome: "deny",
      reason:
        "{subject} writes to the shell start-up file {path}, which runs in every later shell; Airlock never allows this, whatever the project's policy says.",
    },
    {
      id: "protected-ci-config",
      description: "CI workflows and git hook managers run code outside the sandbox.",
      tools: ["write_file", "edit_file", "run_command"],
      match: { writes: { any: CI_AND_HOOK_CONFIG } },
      outcome: "ask",
      reason: "{subject} changes {path}, which runs code outside the sandbox (CI or git hooks); Airlock always asks a reviewer other than the run's creator.",
      allowSelfApproval: false,
    },
  ],
};

/** Ids of the rules no policy can loosen (shown by the editor, refused as rule ids). */
export const PROTECTED_RULE_IDS: readonly string[] = PROTECTED_POLICY.rules.map((r) => r.id);

/** One level of two decisions about the same thing: the stricter wins; equal asks combine their requirements. */
function stricterOf(policy: Decision, floor: Decision): Decision {
  if (RANK[floor.verdict] > RANK[policy.verdict]) return { ...floor };
  if (policy.verdict === "ask" && floor.verdict === "ask" && floor.rule !== "default") {
    const merged = { ...policy };
    if (floor.requiredApprovals !== undefined) merged.requiredApprovals = Math.max(policy.requiredApprovals ?? 1, floor.requiredApprovals);
    if (floor.allowSelfApproval === false) merged.allowSelfApproval = false;
    return merged;
  }
  return policy;
}

/** Applies the protections' decision to the policy's: never looser, parts merged one by one. */
export function applyProtections(policy: Decision, floor: Decision): Decision {
  const result = stricterOf(policy, floor);
  if (policy.parts && floor.parts && policy.parts.length === floor.parts.length) {
    result.parts = policy.parts.map((p, i) => stricterOf(p, floor.parts![i]!));
  } else if (result !== policy && policy.parts) {
    result.parts = policy.parts;
  }
  return result;
}

/**
 * The decision the gateway acts on: the project's policy, then the
 * protections no policy can open. Every caller (gateway, simulator, replay,
 * rule examples, red team) goes through here.
 */
export function decideUnderPolicy(call: ToolCallForPolicy, policy: Policy): Decision {
  const prepared: ToolCallForPolicy = call.tool === "run_command" ? { ...call, command: parsedCommandOf(call) } : call;
  return applyProtections(decide(prepared, policy), decide(prepared, PROTECTED_POLICY));
}
