// Earned autonomy: a reviewer who approves a call may propose "allow this
// pattern in this project". The proposal becomes an allow rule once an admin
// accepts it, or once the policy's required number of reviewers (other than
// the proposer) do; the rule carries its provenance. Airlock also suggests
// candidates from repeated identical approvals, but never promotes on its own.
// A promoted rule can never open what a deny rule or Airlock's protections close.
import crypto from "node:crypto";
import { and, asc, desc, eq, inArray } from "drizzle-orm";
import YAML from "yaml";
import { z } from "zod";
import type { Db } from "@/db/client";
import { approvals, projects, ruleProposals, ruleProposalVotes, runs, users, type Approval, type Project, type RuleProposal } from "@/db/schema";
import { appendAudit, type Actor } from "@/server/audit/chain";
import { DomainError } from "@/server/errors/domain-error";
import {
  judgeExample,
  normaliseToolCall,
  parseCommand,
  PROTECTED_RULE_IDS,
  validatePolicyData,
  validatePolicyYaml,
  type Policy,
  type PolicyRule,
  type PolicyToolName,
  type RuleExample,
} from "@/server/policy";
import { commandEffects, subcommandOf } from "@/server/policy/commands";
import { currentPolicy, PolicyValidationError } from "@/server/projects/policy-store";
import { insertPolicyVersionInTx } from "@/server/projects/policy-versions";
import { WORKSPACE_PATH } from "@/server/sandbox/layout";
import { DEFAULT_PROJECT_ID, projectOfRun, requireProject } from "@/server/projects/projects";
import { simulateCall } from "@/server/projects/simulate";
import { proposalVoteDenial } from "@/lib/permissions";
import { hasRole } from "@/server/users/users";

/** Reviewers besides the proposer who must accept when no admin does (a policy may say otherwise). */
export const DEFAULT_REQUIRED_REVIEWERS = 2;
/** Identical approvals before a pattern is suggested for promotion. */
export const CANDIDATE_MIN_APPROVALS = 3;

type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];
type Voter = Actor & { userId: string; role: Parameters<typeof hasRole>[0] };

// ---------------------------------------------------------------------------
// Patterns: what "this call" generalises to

export interface CallPattern {
  /** Identical calls share a key. */
  key: string;
  /** What the pattern allows, for people. */
  pattern: string;
  tools: PolicyToolName[];
  match: PolicyRule["match"];
  example: RuleExample;
}

const PATH_LIKE = /[/.~*?[]/;
/** Longest command a proposal or a promotion candidate is made from. */
export const MAX_PATTERN_COMMAND = 512;

/** Refusal reasons are for reviewers: they say why a call cannot become a rule. */
export function patternOfCall(tool: string, args: Record<string, unknown>): CallPattern | { refused: string } {
  // Normalising parses the command on the main thread, for every approved
  // call a candidates query groups, and a 16 KB command of the agent's can
  // take a second to parse (issue 9); a rule worth promoting is about a short command.
  if (tool === "run_command" && String(args.command).length > MAX_PATTERN_COMMAND) {
    return { refused: `the command is longer than ${MAX_PATTERN_COMMAND} characters; propose a rule for a shorter command` };
  }
  const prepared = normaliseToolCall(tool, args);
  if (!prepared.ok) return { refused: `the call is refused by the gateway (${prepared.message})` };
  const call = prepared.call;
  switch (call.tool) {
    case "run_command": {
      const parsed = typeof call.command === "string" ? parseCommand(call.command) : call.command;
      if (!parsed.parsed) return { refused: "the command does not parse, so no rule can describe it" };
      if (parsed.commands.length !== 1) return { refused: "the command has several parts; propose a rule for a single command" };
      const cmd = parsed.commands[0]!;
      if (cmd.name === null) return { refused: "the program is not a system program (a path or a value only known when it runs)" };
      const match: PolicyRule["match"] = { programs: [cmd.name] };
      const sub = subcommandOf(cmd);
      if (sub && !PATH_LIKE.test(sub) && !sub.startsWith("-")) match.subcommands = [sub];
      const writes = commandEffects(cmd).writes;
      if (writes.some((w) => w.glob)) return { refused: "the command writes to paths given by a glob; propose a rule for named files" };
      if (writes.length > 0) match.writes = { any: [...new Set(writes.map((w) => w.path))] };
      const command = String(args.command).trim().replace(/\s+/g, " ");
      const shown = `${cmd.name}${match.subcommands ? ` ${match.subcommands[0]}` : ""}${match.writes ? ` writing ${match.writes.any!.join(", ")}` : ""}`;
      return {
        key: `run_command:${command}`,
        pattern: `run_command: ${shown}`,
        tools: ["run_command"],
        match,
        example: { command: String(args.command), expect: "allow" },
      };
    }
    case "write_file":
    case "edit_file":
      return {
        key: `${call.tool}:${call.path}`,
        pattern: `write or edit ${call.path}`,
        tools: ["write_file", "edit_file"],
        match: { writes: { any: [call.path] } },
        example: { tool: call.tool, args: { ...args }, expect: "allow" },
      };
    case "read_file":
    case "search_files":
    case "list_files": {
      const path = call.path ?? WORKSPACE_PATH;
      return {
        key: `${call.tool}:${path}`,
        pattern: `${call.tool} ${path}`,
        tools: [call.tool],
        match: { touches: { any: [path] } },
        example: { tool: call.tool, args: { ...args }, expect: "allow" },
      };
    }
    case "http_fetch": {
      let url: URL;
      try {
        url = new URL(call.url);
      } catch {
        return { refused: "the URL does not parse" };
      }
      const scheme = url.protocol.replace(/:$/, "");
      const host = url.hostname.toLowerCase();
      return {
        key: `http_fetch:${scheme}://${host}`,
        pattern: `fetch ${scheme}://${host}`,
        tools: ["http_fetch"],
        match: { url: { schemes: [scheme], hosts: [host] } },
        example: { url: call.url, expect: "allow" },
      };
    }
    case "request_secret":
      return {
        key: `request_secret:${call.name}`,
        pattern: `request the secret ${call.name}`,
        tools: ["request_secret"],
        match: { secrets: [call.name] },
        example: { tool: "request_secret", args: { ...args }, expect: "allow" },
      };
    case "run_tests":
      return { key: "run_tests", pattern: "run the project's tests", tools: ["run_tests"], match: {}, example: { tool: "run_tests", expect: "allow" } };
    case "install_package":
      return { refused: "installs cannot be promoted: a rule cannot name the packages, and every install runs code from a registry" };
    default:
      return { refused: `${call.tool} calls are not decided by rules that can be promoted` };
  }
}

// ---------------------------------------------------------------------------
// Proposing

export const proposeRuleInput = z
  .object({
    approvalId: z.string().min(1),
    comment: z.string().trim().max(2000).optional(),
    /** Reviewer's adjustments to the suggested rule. */
    rule: z
      .object({
        id: z
          .string()
          .regex(/^[a-z0-9][a-z0-9-]{0,59}$/, "rule ids are lower-case words joined by dashes")
          .optional(),
        description: z.string().trim().max(500).optional(),
        reason: z.string().trim().min(10).max(500).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

function slugOf(text: string): string {
  return (
    text
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, 40) || "pattern"
  );
}

function uniqueRuleId(policy: Policy, wanted: string): string {
  const ids = new Set(policy.rules.map((r) => r.id));
  if (!ids.has(wanted) && !PROTECTED_RULE_IDS.includes(wanted)) return wanted;
  for (let i = 2; ; i++) if (!ids.has(`${wanted}-${i}`)) return `${wanted}-${i}`;
}

function approvalProject(db: Db, approval: Approval): Project {
  const run = db.select({ projectId: runs.projectId }).from(runs).where(eq(runs.id, approval.runId)).get();
  return projectOfRun(db, run ?? { projectId: null });
}

function withRule(policy: Policy, rule: PolicyRule): Policy {
  return { ...policy, rules: [...policy.rules, rule] };
}

/**
 * The rule as it would be added. It overrides the ask rules that asked about
 * the call (found by judging the call with the rule in place until it is
 * allowed); it refuses, with the exact reason, a call that a deny rule or one
 * of Airlock's protections stops, since no allow rule can open those.
 */
function buildRule(policy: Policy, approval: Approval, pattern: CallPattern, input: z.infer<typeof proposeRuleInput>): PolicyRule {
  const rule: PolicyRule = {
    id: uniqueRuleId(policy, input.rule?.id ?? `promoted-${slugOf(pattern.pattern)}`),
    description: input.rule?.description || `Promoted from approvals: ${pattern.pattern}.`,
    tools: pattern.tools,
    match: pattern.match,
    outcome: "allow",
    reason: input.rule?.reason || `Reviewers approved this before and promoted it to a rule: ${pattern.pattern}.`,
    examples: [pattern.example],
  };
  const call = { tool: approval.tool as PolicyToolName, args: approval.args };
  const overrides: string[] = [];
  for (let i = 0; i < 20; i++) {
    const trial = withRule(policy, overrides.length ? { ...rule, overrides } : rule);
    const outcome = judgeExample(call, trial);
    if ("invalid" in outcome) throw new DomainError("INVALID_INPUT", `This call cannot become a rule: ${outcome.invalid}`);
    if (outcome.verdict === "allow") break;
    if (PROTECTED_RULE_IDS.includes(outcome.rule)) {
      throw new DomainError("INVALID_INPUT", `This call is asked about by ${outcome.rule}, a protection Airlock always applies; no rule can allow it.`);
    }
    if (outcome.verdict === "deny")
      throw new DomainError("INVALID_INPUT", `The policy denies this call (rule ${outcome.rule}); deny rules cannot be overridden.`);
    if (overrides.includes(outcome.rule) || outcome.rule === "default") break;
    overrides.push(outcome.rule);
  }
  if (overrides.length) rule.overrides = overrides;
  return rule;
}

function assertRuleWorks(policy: Policy, rule: PolicyRule): void {
  const result = validatePolicyData(withRule(policy, rule));
  if (!result.ok) {
    throw new DomainError(
      "INVALID_INPUT",
      `The proposed rule would not work: ${result.problems.map((p) => `${p.path ? `${p.path}: ` : ""}${p.message}`).join("; ")}`,
    );
  }
}

export function proposeRule(db: Db, actor: Actor & { userId: string }, raw: z.input<typeof proposeRuleInput>): RuleProposal {
  const input = proposeRuleInput.parse(raw);
  const approval = db.select().from(approvals).where(eq(approvals.id, input.approvalId)).get();
  if (!approval) throw new DomainError("NOT_FOUND", `No approval request with id ${input.approvalId}.`);
  if (approval.kind !== "tool") throw new DomainError("INVALID_INPUT", "Only tool-call approvals can become rules; plans and steps are approved one by one.");
  if (approval.state === "denied") throw new DomainError("INVALID_INPUT", "This request was denied; only calls reviewers would approve can become rules.");
  const pattern = patternOfCall(approval.tool, approval.args);
  if ("refused" in pattern) throw new DomainError("INVALID_INPUT", `This call cannot become a rule: ${pattern.refused}.`);
  const project = approvalProject(db, approval);
  const current = currentPolicy(db, project.id);
  const rule = buildRule(current.policy, approval, pattern, input);
  assertRuleWorks(current.policy, rule);
  const pending = db
    .select()
    .from(ruleProposals)
    .where(and(eq(ruleProposals.projectId, project.id), eq(ruleProposals.state, "pending"), eq(ruleProposals.pattern, pattern.pattern)))
    .get();
  if (pending) throw new DomainError("CONFLICT", `This pattern is already proposed (rule ${pending.ruleId}); accept or reject that proposal.`);
  const approvalIds = similarApprovalIds(db, project.id, pattern.key, approval.id);
  return db.transaction(
    (tx) => {
      const row = tx
        .insert(ruleProposals)
        .values({
          id: crypto.randomUUID(),
          projectId: project.id,
          ruleId: rule.id,
          rule: rule as unknown as Record<string, unknown>,
          tool: approval.tool,
          pattern: pattern.pattern,
          approvalIds,
          comment: input.comment || null,
          state: "pending",
          proposedBy: actor.userId,
        })
        .returning()
        .get();
      appendAudit(tx, actor, {
        action: "rule.propose",
        targetType: "rule_proposal",
        targetId: row.id,
        details: { project: project.slug, ruleId: rule.id, pattern: pattern.pattern, approvals: approvalIds, overrides: rule.overrides ?? [] },
      });
      return row;
    },
    { behavior: "immediate" },
  );
}

/** The approval the proposal came from plus identical approved ones in the project (its evidence). */
function similarApprovalIds(db: Db, projectId: string, key: string, first: string): string[] {
  const ids = [first];
  for (const a of projectApprovals(db, projectId, "approved")) {
    if (ids.length >= 20) break;
    if (a.id === first) continue;
    const p = patternOfCall(a.tool, a.args);
    if (!("refused" in p) && p.key === key) ids.push(a.id);
  }
  return ids;
}

function projectApprovals(db: Db, projectId: string, state: Approval["state"]): Approval[] {
  const inProject = projectId === DEFAULT_PROJECT_ID ? undefined : eq(runs.projectId, projectId);
  const rows = db
    .select({ a: approvals, projectId: runs.projectId })
    .from(approvals)
    .innerJoin(runs, eq(runs.id, approvals.runId))
    .where(and(eq(approvals.kind, "tool"), eq(approvals.state, state), inProject))
    .orderBy(desc(approvals.createdAt))
    .limit(2000)
    .all();
  return rows.filter((r) => (r.projectId ?? DEFAULT_PROJECT_ID) === projectId).map((r) => r.a);
}

// ---------------------------------------------------------------------------
// Deciding

export const voteOnProposalInput = z
  .object({
    id: z.string().min(1),
    decision: z.enum(["accept", "reject"]),
    reason: z.string().trim().max(2000).optional(),
  })
  .strict();

function requiredReviewers(policy: Policy): number {
  return policy.promotion?.requiredReviewers ?? DEFAULT_REQUIRED_REVIEWERS;
}

function emailOf(tx: Tx, userId: string): string {
  return tx.select({ email: users.email }).from(users).where(eq(users.id, userId)).get()?.email ?? userId;
}

/** Adds the rule to the current policy document (comments and layout kept) as a new version. */
function acceptInTx(tx: Tx, actor: Voter, proposal: RuleProposal, acceptedBy: string[]): number {
  const project = tx.select().from(projects).where(eq(projects.id, proposal.projectId)).get()!;
  const current = currentPolicy(tx as unknown as Db, project.id);
  const stored = proposal.rule as unknown as PolicyRule;
  const rule: PolicyRule = {
    ...stored,
    id: uniqueRuleId(current.policy, stored.id),
    provenance: {
      proposal: proposal.id,
      approvals: proposal.approvalIds,
      proposedBy: emailOf(tx, proposal.proposedBy),
      acceptedBy,
      acceptedAt: new Date().toISOString(),
      ...(proposal.comment ? { note: proposal.comment } : {}),
    },
  };
  const doc = YAML.parseDocument(current.yaml);
  const rulesNode = doc.get("rules", true);
  if (!YAML.isSeq(rulesNode)) throw new DomainError("PRECONDITION_FAILED", "The policy in force has no rules list to add the rule to.");
  rulesNode.add(doc.createNode(rule, { aliasDuplicateObjects: false }));
  const yaml = doc.toString({ lineWidth: 0 });
  const checked = validatePolicyYaml(yaml);
  if (!checked.ok) throw new PolicyValidationError(checked.problems);
  const version = insertPolicyVersionInTx(tx, actor, {
    projectId: project.id,
    yaml,
    comment: `Promoted rule ${rule.id} (${proposal.pattern}) from proposal ${proposal.id.slice(0, 8)}`,
    previousYaml: current.yaml,
    details: { proposal: proposal.id, ruleId: rule.id, approvals: proposal.approvalIds, acceptedBy },
  });
  tx.update(ruleProposals)
    .set({ state: "accepted", decidedAt: new Date(), policyVersion: version.version, ruleId: rule.id })
    .where(eq(ruleProposals.id, proposal.id))
    .run();
  appendAudit(tx, actor, {
    action: "rule.accept",
    targetType: "rule_proposal",
    targetId: proposal.id,
    details: { project: project.slug, ruleId: rule.id, policyVersion: version.version, acceptedBy },
  });
  return version.version;
}

export function voteOnProposal(db: Db, actor: Voter, raw: z.input<typeof voteOnProposalInput>): ProposalView {
  const input = voteOnProposalInput.parse(raw);
  if (input.decision === "reject" && !input.reason)
    throw new DomainError("INVALID_INPUT", "Say why you reject the proposal; the reviewer who proposed it will see it.");
  db.transaction(
    (tx) => {
      const proposal = tx.select().from(ruleProposals).where(eq(ruleProposals.id, input.id)).get();
      if (!proposal) throw new DomainError("NOT_FOUND", `No rule proposal with id ${input.id}.`);
      if (proposal.state !== "pending") throw new DomainError("CONFLICT", `This proposal was already ${proposal.state}; nothing changed.`);
      const isAdmin = hasRole(actor.role, "admin");
      const already = tx
        .select()
        .from(ruleProposalVotes)
        .where(and(eq(ruleProposalVotes.proposalId, proposal.id), eq(ruleProposalVotes.userId, actor.userId)))
        .get();
      const denied = proposalVoteDenial({ id: actor.userId, role: actor.role }, proposal, { alreadyVoted: Boolean(already) });
      if (denied) throw new DomainError(denied.code, denied.message);
      tx.insert(ruleProposalVotes)
        .values({ id: crypto.randomUUID(), proposalId: proposal.id, userId: actor.userId, decision: input.decision, reason: input.reason || null })
        .run();
      appendAudit(tx, actor, {
        action: "rule.vote",
        targetType: "rule_proposal",
        targetId: proposal.id,
        details: { decision: input.decision, reason: input.reason || null },
      });
      if (input.decision === "reject") {
        tx.update(ruleProposals)
          .set({ state: "rejected", decidedAt: new Date(), decisionReason: input.reason! })
          .where(eq(ruleProposals.id, proposal.id))
          .run();
        appendAudit(tx, actor, { action: "rule.reject", targetType: "rule_proposal", targetId: proposal.id, details: { reason: input.reason } });
        return;
      }
      const accepts = tx
        .select({ userId: ruleProposalVotes.userId })
        .from(ruleProposalVotes)
        .where(and(eq(ruleProposalVotes.proposalId, proposal.id), eq(ruleProposalVotes.decision, "accept")))
        .all()
        .filter((v) => v.userId !== proposal.proposedBy);
      const policy = currentPolicy(tx as unknown as Db, proposal.projectId).policy;
      if (isAdmin || accepts.length >= requiredReviewers(policy)) {
        acceptInTx(
          tx,
          actor,
          proposal,
          accepts.map((v) => emailOf(tx, v.userId)),
        );
      }
    },
    { behavior: "immediate" },
  );
  return getProposalView(db, input.id);
}

// ---------------------------------------------------------------------------
// Reading

export interface ProposalView {
  id: string;
  projectId: string;
  ruleId: string;
  rule: PolicyRule;
  tool: string;
  pattern: string;
  approvalIds: string[];
  comment: string | null;
  state: RuleProposal["state"];
  proposedBy: string;
  proposedByEmail: string;
  createdAt: Date;
  decidedAt: Date | null;
  decisionReason: string | null;
  policyVersion: number | null;
  votes: { userId: string; email: string; decision: "accept" | "reject"; reason: string | null; at: Date }[];
  requiredReviewers: number;
}

function toView(db: Db, row: RuleProposal, required: number): ProposalView {
  const votes = db
    .select({
      userId: ruleProposalVotes.userId,
      email: users.email,
      decision: ruleProposalVotes.decision,
      reason: ruleProposalVotes.reason,
      at: ruleProposalVotes.createdAt,
    })
    .from(ruleProposalVotes)
    .innerJoin(users, eq(users.id, ruleProposalVotes.userId))
    .where(eq(ruleProposalVotes.proposalId, row.id))
    .orderBy(asc(ruleProposalVotes.createdAt))
    .all();
  const proposer = db.select({ email: users.email }).from(users).where(eq(users.id, row.proposedBy)).get();
  return {
    id: row.id,
    projectId: row.projectId,
    ruleId: row.ruleId,
    rule: row.rule as unknown as PolicyRule,
    tool: row.tool,
    pattern: row.pattern,
    approvalIds: row.approvalIds,
    comment: row.comment,
    state: row.state,
    proposedBy: row.proposedBy,
    proposedByEmail: proposer?.email ?? row.proposedBy,
    createdAt: row.createdAt,
    decidedAt: row.decidedAt,
    decisionReason: row.decisionReason,
    policyVersion: row.policyVersion,
    votes,
    requiredReviewers: required,
  };
}

export function getProposalView(db: Db, id: string): ProposalView {
  const row = db.select().from(ruleProposals).where(eq(ruleProposals.id, id)).get();
  if (!row) throw new DomainError("NOT_FOUND", `No rule proposal with id ${id}.`);
  return toView(db, row, requiredReviewers(currentPolicy(db, row.projectId).policy));
}

export function listProposals(db: Db, input: { projectId?: string | null; state?: RuleProposal["state"] }): ProposalView[] {
  const project = requireProject(db, input.projectId);
  const required = requiredReviewers(currentPolicy(db, project.id).policy);
  const rows = db
    .select()
    .from(ruleProposals)
    .where(and(eq(ruleProposals.projectId, project.id), input.state ? eq(ruleProposals.state, input.state) : undefined))
    .orderBy(desc(ruleProposals.createdAt))
    .limit(200)
    .all();
  return rows.map((r) => toView(db, r, required));
}

export interface PromotionCandidate {
  key: string;
  tool: string;
  pattern: string;
  approvals: number;
  approvalIds: string[];
  denied: number;
  reviewers: string[];
  lastApprovedAt: Date;
  /** The approval to propose from (the latest). */
  latestApprovalId: string;
}

/**
 * Patterns approved again and again (identical calls) that the policy still
 * asks about: suggestions a reviewer may propose. Nothing is promoted here.
 */
export function promotionCandidates(db: Db, input: { projectId?: string | null; minApprovals?: number }): PromotionCandidate[] {
  const project = requireProject(db, input.projectId);
  const min = input.minApprovals ?? CANDIDATE_MIN_APPROVALS;
  const policy = currentPolicy(db, project.id).policy;
  const proposed = new Set(
    db
      .select({ pattern: ruleProposals.pattern })
      .from(ruleProposals)
      .where(and(eq(ruleProposals.projectId, project.id), inArray(ruleProposals.state, ["pending", "accepted"])))
      .all()
      .map((r) => r.pattern),
  );
  const groups = new Map<string, { pattern: string; tool: string; items: Approval[] }>();
  for (const a of projectApprovals(db, project.id, "approved")) {
    const p = patternOfCall(a.tool, a.args);
    if ("refused" in p) continue;
    const group = groups.get(p.key) ?? { pattern: p.pattern, tool: a.tool, items: [] };
    group.items.push(a);
    groups.set(p.key, group);
  }
  const deniedCounts = new Map<string, number>();
  for (const a of projectApprovals(db, project.id, "denied")) {
    const p = patternOfCall(a.tool, a.args);
    if (!("refused" in p)) deniedCounts.set(p.key, (deniedCounts.get(p.key) ?? 0) + 1);
  }
  const out: PromotionCandidate[] = [];
  for (const [key, g] of groups) {
    if (g.items.length < min || proposed.has(g.pattern)) continue;
    const latest = g.items[0]!;
    // Already allowed by the policy in force (e.g. promoted by hand): nothing to suggest.
    if (simulateCall(policy, { tool: latest.tool, args: latest.args }).verdict === "allow") continue;
    const reviewerIds = [...new Set(g.items.map((a) => a.decidedBy).filter((x): x is string => Boolean(x)))];
    const reviewers = reviewerIds.length
      ? db
          .select({ email: users.email })
          .from(users)
          .where(inArray(users.id, reviewerIds))
          .all()
          .map((u) => u.email)
      : [];
    out.push({
      key,
      tool: g.tool,
      pattern: g.pattern,
      approvals: g.items.length,
      approvalIds: g.items.slice(0, 20).map((a) => a.id),
      denied: deniedCounts.get(key) ?? 0,
      reviewers,
      lastApprovedAt: latest.decidedAt ?? latest.createdAt,
      latestApprovalId: latest.id,
    });
  }
  return out.sort((a, b) => b.approvals - a.approvals);
}
