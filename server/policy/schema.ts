// Validation of policy data, so a policy read from YAML (issue 4) is checked
// before it judges anything: known tools, flags and checks, compilable
// regexes, unique rule ids.
import { z } from "zod";
import { APPROVER_ROLES, POLICY_CHECKS, POLICY_TOOLS, RISKS, VERDICTS, type Policy } from "./policy";
import { unsafeRegexReason } from "./safe-regex";
import { SHELL_FLAGS } from "./shell";

const verdict = z.enum(VERDICTS as [string, ...string[]]);
const nonEmpty = z.string().min(1);

const pathMatch = z
  .object({
    any: z.array(nonEmpty).optional(),
    except: z.array(nonEmpty).optional(),
    mode: z.enum(["overlaps", "covers"]).optional(),
  })
  .strict();

// Policy regexes run on a linear-time engine (safe-regex.ts): a pattern it cannot run is refused here.
const regex = nonEmpty.superRefine((source, ctx) => {
  const problem = unsafeRegexReason(source);
  if (problem) ctx.addIssue({ code: "custom", message: `regular expression refused: ${problem}` });
});

const ruleMatch = z
  .object({
    parse: z.enum(["error", "empty"]).optional(),
    programs: z.array(nonEmpty).optional(),
    subcommands: z.array(nonEmpty).optional(),
    anyOption: z.array(nonEmpty).optional(),
    noOption: z.array(nonEmpty).optional(),
    anyArg: z.array(regex).optional(),
    flags: z.array(z.enum(SHELL_FLAGS)).optional(),
    check: z.enum(POLICY_CHECKS).optional(),
    reads: pathMatch.optional(),
    writes: pathMatch.optional(),
    paths: pathMatch.optional(),
    touches: pathMatch.optional(),
    recursiveReads: pathMatch.optional(),
    url: z
      .object({
        schemes: z.array(nonEmpty).optional(),
        exceptSchemes: z.array(nonEmpty).optional(),
        hosts: z.array(nonEmpty).optional(),
        ports: z.array(z.number().int().min(1).max(65535)).optional(),
      })
      .strict()
      .optional(),
    risk: z.array(z.enum(RISKS)).optional(),
    managers: z.array(nonEmpty).optional(),
    secrets: z.array(nonEmpty).optional(),
  })
  .strict();

const example = z
  .object({
    tool: z.enum(POLICY_TOOLS).optional(),
    command: z.string().optional(),
    path: z.string().optional(),
    url: z.string().optional(),
    args: z.record(z.string(), z.unknown()).optional(),
    expect: verdict,
  })
  .strict();

const provenance = z
  .object({
    proposal: nonEmpty,
    approvals: z.array(nonEmpty),
    proposedBy: nonEmpty,
    acceptedBy: z.array(nonEmpty),
    acceptedAt: nonEmpty,
    note: z.string().optional(),
  })
  .strict();

const rule = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, "rule ids are lower-case words joined by dashes"),
    description: z.string(),
    tools: z.array(z.enum(POLICY_TOOLS)).min(1),
    match: ruleMatch,
    outcome: verdict,
    reason: nonEmpty,
    requiredApprovals: z.number().int().min(1).max(10).optional(),
    allowSelfApproval: z.boolean().optional(),
    approverRole: z.enum(APPROVER_ROLES).optional(),
    overrides: z.array(nonEmpty).optional(),
    examples: z.array(example).max(50).optional(),
    provenance: provenance.optional(),
  })
  .strict();

export const policySchema = z
  .object({
    id: nonEmpty,
    name: nonEmpty,
    description: z.string(),
    default: z.object({ verdict, reason: nonEmpty }).strict(),
    rules: z.array(rule),
    promotion: z
      .object({ requiredReviewers: z.number().int().min(1).max(10) })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((policy, ctx) => {
    const seen = new Set<string>();
    policy.rules.forEach((r, index) => {
      if (r.id === "default") ctx.addIssue({ code: "custom", path: ["rules", index, "id"], message: `"default" is reserved for the fallback decision` });
      if (seen.has(r.id)) ctx.addIssue({ code: "custom", path: ["rules", index, "id"], message: `duplicate rule id ${r.id}` });
      seen.add(r.id);
    });
  });

/** Validates untrusted policy data (e.g. parsed YAML); throws a ZodError listing every problem. */
export function parsePolicy(data: unknown): Policy {
  return policySchema.parse(data) as Policy;
}
