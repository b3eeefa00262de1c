import { z } from "zod";
import { roleProcedure, router } from "@/server/api/trpc";
import { PRESET_NAMES, presetPolicy, presetYaml, MAX_POLICY_BYTES } from "@/server/policy";
import { checkDraft, currentPolicy, getPolicyVersion, policyHistory, restorePolicyVersion, updatePolicy } from "@/server/projects/policy-store";
import { listProposals, promotionCandidates, proposeRule, proposeRuleInput, voteOnProposal, voteOnProposalInput } from "@/server/projects/proposals";
import { replayRun, requireDraftRole, simulateCalls, simulatedCallSchema } from "@/server/projects/simulate";
import { DRAFT_ROLE } from "@/lib/roles";
import { ruleTrackRecords } from "@/server/projects/track-record";
import { RULE_PROPOSAL_STATES } from "@/db/schema";

const projectRef = z.object({ projectId: z.string().min(1).optional() });
const yamlText = z.string().max(MAX_POLICY_BYTES, `A policy may be at most ${MAX_POLICY_BYTES / 1024} KB.`);

export const policiesRouter = router({
  get: roleProcedure("viewer")
    .input(projectRef.optional())
    .query(({ ctx, input }) => {
      const { policy: _policy, ...current } = currentPolicy(ctx.db, input?.projectId);
      return current;
    }),
  version: roleProcedure("viewer")
    .input(projectRef.extend({ version: z.number().int().min(1) }))
    .query(({ ctx, input }) => {
      const row = getPolicyVersion(ctx.db, input.projectId, input.version);
      return {
        version: row.version,
        yaml: row.yaml,
        comment: row.comment,
        createdBy: row.createdByLabel,
        createdAt: row.createdAt,
        restoredFrom: row.restoredFrom,
      };
    }),
  /** Checks a draft without saving it: problems with their lines, and the diff against the version in force. */
  validate: roleProcedure(DRAFT_ROLE)
    .input(projectRef.extend({ yaml: yamlText }))
    .mutation(({ ctx, input }) => checkDraft(ctx.db, input)),
  update: roleProcedure("admin")
    .input(projectRef.extend({ yaml: yamlText, comment: z.string().trim().max(2000).optional(), baseVersion: z.number().int().min(1).optional() }))
    .mutation(({ ctx, input }) => updatePolicy(ctx.db, ctx.actor, input)),
  history: roleProcedure("viewer")
    .input(projectRef.optional())
    .query(({ ctx, input }) => ({ items: policyHistory(ctx.db, input?.projectId) })),
  restore: roleProcedure("admin")
    .input(projectRef.extend({ version: z.number().int().min(1), comment: z.string().trim().max(2000).optional() }))
    .mutation(({ ctx, input }) => restorePolicyVersion(ctx.db, ctx.actor, input)),
  presets: roleProcedure("viewer").query(() => ({
    items: PRESET_NAMES.map((name) => ({ name, title: presetPolicy(name).name, description: presetPolicy(name).description, yaml: presetYaml(name) })),
  })),
  /** One tool call against the policy in force (or, for reviewers and up, a draft): {verdict, rule, reason, parts}. */
  simulate: roleProcedure("viewer")
    .input(projectRef.extend({ yaml: yamlText.optional(), call: simulatedCallSchema }))
    .mutation(async ({ ctx, input }) => {
      if (input.yaml !== undefined) requireDraftRole(ctx.user.role);
      const { results, source } = await simulateCalls(ctx.db, { projectId: input.projectId, yaml: input.yaml, calls: [input.call] });
      return { ...results[0]!, source };
    }),
  /** A scripted sequence of calls, each judged as the gateway would. */
  simulateSequence: roleProcedure("viewer")
    .input(projectRef.extend({ yaml: yamlText.optional(), calls: z.array(simulatedCallSchema).min(1).max(200) }))
    .mutation(async ({ ctx, input }) => {
      if (input.yaml !== undefined) requireDraftRole(ctx.user.role);
      return simulateCalls(ctx.db, input);
    }),
  /** A past run's calls against a draft (or the policy in force now): old verdict vs new. */
  replay: roleProcedure("viewer")
    .input(z.object({ runId: z.string().min(1), yaml: yamlText.optional() }))
    .mutation(async ({ ctx, input }) => {
      if (input.yaml !== undefined) requireDraftRole(ctx.user.role);
      return replayRun(ctx.db, input);
    }),
  trackRecord: roleProcedure("viewer")
    .input(projectRef.optional())
    .query(({ ctx, input }) => ruleTrackRecords(ctx.db, input?.projectId)),
  proposals: roleProcedure("viewer")
    .input(projectRef.extend({ state: z.enum(RULE_PROPOSAL_STATES).optional() }).optional())
    .query(({ ctx, input }) => ({ items: listProposals(ctx.db, input ?? {}) })),
  candidates: roleProcedure("viewer")
    .input(projectRef.optional())
    .query(({ ctx, input }) => ({ items: promotionCandidates(ctx.db, input ?? {}) })),
  propose: roleProcedure("reviewer")
    .input(proposeRuleInput)
    .mutation(({ ctx, input }) => {
      const row = proposeRule(ctx.db, { ...ctx.actor, userId: ctx.user.id }, input);
      return { id: row.id, ruleId: row.ruleId, pattern: row.pattern };
    }),
  voteProposal: roleProcedure("reviewer")
    .input(voteOnProposalInput)
    .mutation(({ ctx, input }) => voteOnProposal(ctx.db, { ...ctx.actor, userId: ctx.user.id, role: ctx.user.role }, input)),
});
