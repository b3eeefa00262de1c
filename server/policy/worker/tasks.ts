// The policy work the worker thread does (server/policy/offthread.ts): check
// a draft, simulate calls, judge an agent's call. Everything here is plain
// data in and out, since it crosses a thread boundary.
import { createTwoFilesPatch } from "diff";
import { validatePolicyYaml, type Policy, type PolicyProblem, type PolicyValidation } from "@/server/policy";
import { simulateSequence, type SimulatedCall, type SimulationResult } from "@/server/projects/simulate-call";
import { judgeToolCall, type Judgement } from "@/server/tools/judge";
import type { ToolName } from "@/server/tools/palette";

/** A policy sent along with a task; `key` lets the worker reuse its compiled form across tasks. */
export interface PolicyRef {
  key: string;
  policy: Policy;
}

export interface ValidateDraftTask {
  yaml: string;
  current: { yaml: string; version: number } | null;
}
export interface ValidateDraftOutcome {
  validation: PolicyValidation;
  diff: string;
}

export type SimulateTask = { calls: SimulatedCall[] } & ({ draft: string } | { policy: PolicyRef });
export type SimulateOutcome = { ok: true; results: SimulationResult[] } | { ok: false; problems: PolicyProblem[] };

export interface JudgeTask {
  tool: ToolName;
  normalised: Record<string, unknown>;
  stepMode: boolean;
  policy: PolicyRef;
}

const policies = new Map<string, Policy>();
const MAX_POLICIES = 16;

/** The same object for the same key, so compilePolicy's cache works across tasks. */
function policyOf(ref: PolicyRef): Policy {
  const known = policies.get(ref.key);
  if (known) return known;
  if (policies.size >= MAX_POLICIES) policies.delete(policies.keys().next().value!);
  policies.set(ref.key, ref.policy);
  return ref.policy;
}

export function validateDraft(task: ValidateDraftTask): ValidateDraftOutcome {
  const validation = validatePolicyYaml(task.yaml);
  const current = task.current;
  const diff =
    !current || current.yaml === task.yaml ? "" : createTwoFilesPatch(`policy v${current.version}`, "draft", current.yaml, task.yaml, "", "", { context: 3 });
  return { validation, diff };
}

export function simulate(task: SimulateTask): SimulateOutcome {
  let policy: Policy;
  if ("draft" in task) {
    const checked = validatePolicyYaml(task.draft);
    if (!checked.ok) return { ok: false, problems: checked.problems };
    policy = checked.policy;
  } else policy = policyOf(task.policy);
  return { ok: true, results: simulateSequence(policy, task.calls) };
}

export function judge(task: JudgeTask): Judgement {
  return judgeToolCall(task.tool, task.normalised, { stepMode: task.stepMode, policy: policyOf(task.policy) });
}

export const POLICY_TASKS = { validateDraft, simulate, judge } as const;
