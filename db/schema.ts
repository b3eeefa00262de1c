// The database schema: one table per domain concept, plural names.
import { relations, sql } from "drizzle-orm";
import { index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

export const ROLES = ["viewer", "operator", "reviewer", "admin"] as const;
export type Role = (typeof ROLES)[number];

const createdAt = () =>
  integer("created_at", { mode: "timestamp_ms" })
    .notNull()
    .default(sql`(unixepoch('subsec') * 1000)`);

export const users = sqliteTable(
  "users",
  {
    id: text("id").primaryKey(),
    email: text("email").notNull(),
    name: text("name"),
    role: text("role", { enum: ROLES }).notNull(),
    passwordHash: text("password_hash"),
    // Bumped on disable, role change and password change so that existing
    // sessions (stateless JWTs) stop working at once.
    sessionVersion: integer("session_version").notNull().default(1),
    disabledAt: integer("disabled_at", { mode: "timestamp_ms" }),
    // Where the role came from, shown to admins: "local" (created with it),
    // "admin" (changed by an admin), "oidc-default" (first single sign-on,
    // AIRLOCK_OIDC_DEFAULT_ROLE) or "oidc-claim:<group>" (mapped at sign-in).
    roleSource: text("role_source").notNull().default("local"),
    // The single sign-on identity (issuer + subject), so a renamed email at the
    // provider still maps to the same Airlock user.
    oidcIssuer: text("oidc_issuer"),
    oidcSubject: text("oidc_subject"),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("users_email_unique").on(t.email), uniqueIndex("users_oidc_subject_unique").on(t.oidcIssuer, t.oidcSubject)],
);

/** Rights a token may carry beyond its user's role (issue 16). */
export const API_TOKEN_SCOPES = ["metrics"] as const;
export type ApiTokenScope = (typeof API_TOKEN_SCOPES)[number];

export const apiTokens = sqliteTable(
  "api_tokens",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    // SHA-256 of the token; the token itself is shown once and never stored.
    tokenHash: text("token_hash").notNull(),
    prefix: text("prefix").notNull(),
    createdAt: createdAt(),
    expiresAt: integer("expires_at", { mode: "timestamp_ms" }),
    revokedAt: integer("revoked_at", { mode: "timestamp_ms" }),
    lastUsedAt: integer("last_used_at", { mode: "timestamp_ms" }),
    // Issue 16: extra rights beyond the user's role, e.g. "metrics" (may scrape /metrics); empty by default.
    scopes: text("scopes", { mode: "json" }).$type<ApiTokenScope[]>().notNull().default([]),
  },
  (t) => [uniqueIndex("api_tokens_hash_unique").on(t.tokenHash), index("api_tokens_user_idx").on(t.userId)],
);

// One row per sign-in: the session cookie (a JWT) names its row, and a
// request is refused once the row is revoked (sign-out, "sign out other
// sessions", an admin) or expired, so a copied cookie dies with its session.
export const authSessions = sqliteTable(
  "auth_sessions",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    createdAt: createdAt(),
    expiresAt: integer("expires_at", { mode: "timestamp_ms" }).notNull(),
    lastSeenAt: integer("last_seen_at", { mode: "timestamp_ms" }),
    revokedAt: integer("revoked_at", { mode: "timestamp_ms" }),
    revokedReason: text("revoked_reason"),
    sourceIp: text("source_ip"),
    userAgent: text("user_agent"),
  },
  (t) => [index("auth_sessions_user_idx").on(t.userId)],
);

export type AuthSession = typeof authSessions.$inferSelect;

export const loginThrottles = sqliteTable("login_throttles", {
  // "email:<address>" or "ip:<address>": both are throttled.
  key: text("key").primaryKey(),
  failures: integer("failures").notNull().default(0),
  lastFailureAt: integer("last_failure_at", { mode: "timestamp_ms" }).notNull(),
  lockedUntil: integer("locked_until", { mode: "timestamp_ms" }),
});

export const auditEvents = sqliteTable(
  "audit_events",
  {
    seq: integer("seq").primaryKey(),
    id: text("id").notNull(),
    at: integer("at", { mode: "timestamp_ms" }).notNull(),
    actorId: text("actor_id"),
    actorLabel: text("actor_label").notNull(),
    action: text("action").notNull(),
    targetType: text("target_type"),
    targetId: text("target_id"),
    details: text("details").notNull().default("{}"),
    sourceIp: text("source_ip"),
    tokenId: text("token_id"),
    prevHash: text("prev_hash").notNull(),
    hash: text("hash").notNull(),
  },
  (t) => [
    uniqueIndex("audit_events_id_unique").on(t.id),
    index("audit_events_actor_idx").on(t.actorId),
    index("audit_events_action_idx").on(t.action),
    index("audit_events_target_idx").on(t.targetType, t.targetId),
    index("audit_events_at_idx").on(t.at),
  ],
);

// The chain's head (count and last hash), updated in the same transaction as
// each append: deleting events from the end of the chain shows up as a
// mismatch here.
export const auditHead = sqliteTable("audit_head", {
  id: integer("id").primaryKey(),
  count: integer("count").notNull(),
  lastSeq: integer("last_seq").notNull(),
  lastHash: text("last_hash").notNull(),
  // HMAC-SHA256 of (count, lastSeq, lastHash) under the data directory's audit
  // key (keys/audit.key, not in the database): rewriting the chain and
  // recomputing its hashes does not reproduce it without the key.
  mac: text("mac"),
});

export const usersRelations = relations(users, ({ many }) => ({ apiTokens: many(apiTokens) }));
export const apiTokensRelations = relations(apiTokens, ({ one }) => ({
  user: one(users, { fields: [apiTokens.userId], references: [users.id] }),
}));

export type User = typeof users.$inferSelect;
export type ApiToken = typeof apiTokens.$inferSelect;
export type AuditEvent = typeof auditEvents.$inferSelect;

// ---------------------------------------------------------------------------
// Supervised runs (issue 3)

export const RUN_STATES = [
  "queued",
  "starting",
  "planning",
  "awaiting_plan_approval",
  "running",
  "awaiting_approval",
  "paused",
  "succeeded",
  "failed",
  "killed",
  "rolled_back",
] as const;
export type RunState = (typeof RUN_STATES)[number];

/** Container runtimes a sandbox can run under: runc (the engine's default) or runsc (gVisor). */
export const SANDBOX_RUNTIMES = ["runc", "runsc"] as const;
export type SandboxRuntimeName = (typeof SANDBOX_RUNTIMES)[number];

export const models = sqliteTable("models", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  baseUrl: text("base_url").notNull(),
  model: text("model").notNull(),
  // AES-256-GCM ciphertext (server/secrets); never returned by the API.
  apiKeyEnc: text("api_key_enc"),
  createdBy: text("created_by").references(() => users.id),
  createdAt: createdAt(),
  // Issue 16: an endpoint runs used is retired instead of deleted, so their history keeps its name; hidden from new runs.
  retiredAt: integer("retired_at", { mode: "timestamp_ms" }),
});

export interface RunLimitsJson {
  memoryMb: number;
  cpus: number;
  pids: number;
  commandTimeoutS: number;
  runTimeoutS: number;
  maxSteps: number;
  maxToolCalls: number;
  tokenBudget: number;
}

export interface PlanStepJson {
  title: string;
  detail?: string;
  risk: "low" | "medium" | "high";
  risk_note: string;
}

export const runs = sqliteTable(
  "runs",
  {
    id: text("id").primaryKey(),
    title: text("title").notNull(),
    task: text("task").notNull(),
    modelId: text("model_id").references(() => models.id),
    projectId: text("project_id"),
    agent: text("agent", { enum: ["builtin", "external"] })
      .notNull()
      .default("builtin"),
    state: text("state", { enum: RUN_STATES }).notNull(),
    createdBy: text("created_by")
      .notNull()
      .references(() => users.id),
    limits: text("limits", { mode: "json" }).$type<RunLimitsJson>().notNull(),
    stepMode: integer("step_mode", { mode: "boolean" }).notNull().default(false),
    testCommand: text("test_command"),
    containerId: text("container_id"),
    workspaceDir: text("workspace_dir"),
    plan: text("plan", { mode: "json" }).$type<PlanStepJson[] | null>(),
    planApprovedAt: integer("plan_approved_at", { mode: "timestamp_ms" }),
    currentStep: integer("current_step").notNull().default(0),
    stepsUsed: integer("steps_used").notNull().default(0),
    toolCallsUsed: integer("tool_calls_used").notNull().default(0),
    tokensUsed: integer("tokens_used").notNull().default(0),
    summary: text("summary"),
    // Issue 5: restore the workspace automatically when the run fails or is stopped.
    autoRollback: text("auto_rollback", { enum: ["off", "on_failure"] })
      .notNull()
      .default("off"),
    // Issue 5: whether the run's own operator may roll it back (reviewers always may).
    operatorMayRollback: integer("operator_may_rollback", { mode: "boolean" }).notNull().default(false),
    endedReason: text("ended_reason"),
    endedBy: text("ended_by"),
    // Issue 13: the container runtime that isolates the run (set when its sandbox starts).
    runtime: text("runtime", { enum: SANDBOX_RUNTIMES }),
    // Issue 13: why a queued run waits (null when it does not).
    queueReason: text("queue_reason"),
    // Issue 17: the engine (engines.name) its sandbox was placed on; null before placement (and for runs older than the pool: the local engine).
    engine: text("engine"),
    createdAt: createdAt(),
    updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
    startedAt: integer("started_at", { mode: "timestamp_ms" }),
    endedAt: integer("ended_at", { mode: "timestamp_ms" }),
  },
  (t) => [index("runs_state_idx").on(t.state), index("runs_created_idx").on(t.createdAt)],
);

export const TOOL_CALL_STATES = ["judging", "awaiting_approval", "approved", "executing", "succeeded", "failed", "refused"] as const;
export type ToolCallState = (typeof TOOL_CALL_STATES)[number];

export const toolCalls = sqliteTable(
  "tool_calls",
  {
    id: text("id").primaryKey(),
    runId: text("run_id")
      .notNull()
      .references(() => runs.id, { onDelete: "cascade" }),
    seq: integer("seq").notNull(),
    modelCallId: text("model_call_id"),
    tool: text("tool").notNull(),
    args: text("args", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    verdict: text("verdict", { enum: ["allow", "ask", "deny"] }),
    rule: text("rule"),
    reason: text("reason"),
    state: text("state", { enum: TOOL_CALL_STATES }).notNull(),
    approvalId: text("approval_id"),
    result: text("result", { mode: "json" }).$type<Record<string, unknown>>(),
    errorCode: text("error_code"),
    createdAt: createdAt(),
    startedAt: integer("started_at", { mode: "timestamp_ms" }),
    finishedAt: integer("finished_at", { mode: "timestamp_ms" }),
  },
  // tool_calls_tool_verdict_idx: /metrics counts calls by tool and verdict from this index alone (issue 16), not from the rows' JSON.
  (t) => [uniqueIndex("tool_calls_run_seq").on(t.runId, t.seq), index("tool_calls_tool_verdict_idx").on(t.tool, t.verdict)],
);

export const APPROVAL_STATES = ["pending", "approved", "denied", "expired", "cancelled"] as const;
export type ApprovalState = (typeof APPROVAL_STATES)[number];

export const approvals = sqliteTable(
  "approvals",
  {
    id: text("id").primaryKey(),
    runId: text("run_id")
      .notNull()
      .references(() => runs.id, { onDelete: "cascade" }),
    toolCallId: text("tool_call_id"),
    kind: text("kind", { enum: ["plan", "tool", "step"] }).notNull(),
    tool: text("tool").notNull(),
    args: text("args", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    // What will happen: a diff for writes, the parsed command for commands, the plan's steps.
    preview: text("preview", { mode: "json" }).$type<Record<string, unknown>>(),
    verdict: text("verdict", { enum: ["allow", "ask", "deny"] }).notNull(),
    rule: text("rule"),
    reason: text("reason").notNull(),
    // The risk Airlock computed for a tool call (never the model's claim); null for plans and steps.
    risk: text("risk", { enum: ["low", "medium", "high"] }),
    state: text("state", { enum: APPROVAL_STATES }).notNull(),
    requiredApprovals: integer("required_approvals").notNull().default(1),
    allowSelfApproval: integer("allow_self_approval", { mode: "boolean" }).notNull().default(false),
    // The minimum role of each approver (policy rules may ask for an admin).
    approverRole: text("approver_role", { enum: ["reviewer", "admin"] })
      .notNull()
      .default("reviewer"),
    requestedBy: text("requested_by").notNull(), // the run's operator
    expiresAt: integer("expires_at", { mode: "timestamp_ms" }).notNull(),
    decidedAt: integer("decided_at", { mode: "timestamp_ms" }),
    // Set when a project's escalation sent an undecided request to a second group.
    escalatedAt: integer("escalated_at", { mode: "timestamp_ms" }),
    // Set when "about to expire" went out, in the transaction that decided to send it: once per request, across restarts.
    expiringNotifiedAt: integer("expiring_notified_at", { mode: "timestamp_ms" }),
    decidedBy: text("decided_by"),
    decisionReason: text("decision_reason"),
    edit: text("edit", { mode: "json" }).$type<Record<string, unknown> | null>(),
    createdAt: createdAt(),
  },
  (t) => [index("approvals_state_idx").on(t.state), index("approvals_run_idx").on(t.runId)],
);

export const approvalVotes = sqliteTable(
  "approval_votes",
  {
    id: text("id").primaryKey(),
    approvalId: text("approval_id")
      .notNull()
      .references(() => approvals.id, { onDelete: "cascade" }),
    userId: text("user_id")
      .notNull()
      .references(() => users.id),
    decision: text("decision", { enum: ["approve", "deny"] }).notNull(),
    reason: text("reason"),
    edit: text("edit", { mode: "json" }).$type<Record<string, unknown> | null>(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("approval_votes_unique").on(t.approvalId, t.userId)],
);

export const runEvents = sqliteTable(
  "run_events",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    runId: text("run_id")
      .notNull()
      .references(() => runs.id, { onDelete: "cascade" }),
    type: text("type").notNull(),
    payload: text("payload", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    at: integer("at", { mode: "timestamp_ms" }).notNull(),
  },
  (t) => [index("run_events_run_idx").on(t.runId, t.id)],
);

export type Model = typeof models.$inferSelect;
export type Run = typeof runs.$inferSelect;
export type ToolCall = typeof toolCalls.$inferSelect;
export type Approval = typeof approvals.$inferSelect;
export type RunEvent = typeof runEvents.$inferSelect;

// ---------------------------------------------------------------------------
// Workspaces, checkpoints, rollback and merge-back (issue 5)

export type WorkspaceSourceJson =
  { type: "empty" } | { type: "git"; path: string; ref?: string; commit?: string; branch?: string } | { type: "archive"; uploadId: string; name?: string };

/** One row per run: where its workspace came from and what its checkpoints cost. */
export const workspaces = sqliteTable("workspaces", {
  runId: text("run_id")
    .primaryKey()
    .references(() => runs.id, { onDelete: "cascade" }),
  source: text("source", { mode: "json" }).$type<WorkspaceSourceJson>().notNull(),
  // The shadow repository's first commit (the workspace as the run found it).
  baseCommit: text("base_commit"),
  storageBytes: integer("storage_bytes").notNull().default(0),
  storageCapBytes: integer("storage_cap_bytes").notNull(),
  // Paths left out of checkpoints (too large, ignored, over the cap), for the run page.
  skippedPaths: text("skipped_paths", { mode: "json" })
    .$type<string[]>()
    .notNull()
    .default(sql`'[]'`),
  // Cumulative diff kept when the workspace and shadow repository are cleaned up.
  archivedDiff: text("archived_diff"),
  cleanedAt: integer("cleaned_at", { mode: "timestamp_ms" }),
  snapshotImage: text("snapshot_image"),
  createdAt: createdAt(),
  updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
});

export const CHECKPOINT_KINDS = ["start", "tool", "rollback", "manual"] as const;
export type CheckpointKind = (typeof CHECKPOINT_KINDS)[number];

export const checkpoints = sqliteTable(
  "checkpoints",
  {
    id: text("id").primaryKey(),
    runId: text("run_id")
      .notNull()
      .references(() => runs.id, { onDelete: "cascade" }),
    seq: integer("seq").notNull(),
    label: text("label").notNull(),
    kind: text("kind", { enum: CHECKPOINT_KINDS }).notNull(),
    toolCallId: text("tool_call_id"),
    planStep: integer("plan_step"),
    commitSha: text("commit_sha").notNull(),
    parentSha: text("parent_sha"),
    // For rollbacks: the checkpoint whose content was restored.
    restoredFromId: text("restored_from_id"),
    filesChanged: integer("files_changed").notNull().default(0),
    additions: integer("additions").notNull().default(0),
    deletions: integer("deletions").notNull().default(0),
    // Bytes of the workspace content captured by this checkpoint.
    sizeBytes: integer("size_bytes").notNull().default(0),
    // Set when the change was approved by a reviewer (or allowed by policy) — the target of automatic rollback.
    approved: integer("approved", { mode: "boolean" }).notNull().default(false),
    createdBy: text("created_by"),
    // This checkpoint's diff, kept when the shadow repository is cleaned up.
    archivedDiff: text("archived_diff"),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("checkpoints_run_seq").on(t.runId, t.seq), index("checkpoints_tool_call_idx").on(t.toolCallId)],
);

/** Archives uploaded as workspace sources; checked on upload, extracted at run start. */
export const uploads = sqliteTable("uploads", {
  id: text("id").primaryKey(),
  userId: text("user_id")
    .notNull()
    .references(() => users.id),
  filename: text("filename").notNull(),
  format: text("format", { enum: ["tar", "tar.gz", "zip"] }).notNull(),
  sizeBytes: integer("size_bytes").notNull(),
  fileCount: integer("file_count").notNull(),
  expandedBytes: integer("expanded_bytes").notNull(),
  sha256: text("sha256").notNull(),
  usedByRunId: text("used_by_run_id"),
  createdAt: createdAt(),
});

export const MERGE_REQUEST_STATES = ["pending", "merged", "denied", "failed"] as const;
export type MergeRequestState = (typeof MERGE_REQUEST_STATES)[number];

/** A request to commit a run's result to a new branch of its source repository. */
export const mergeRequests = sqliteTable(
  "merge_requests",
  {
    id: text("id").primaryKey(),
    runId: text("run_id")
      .notNull()
      .references(() => runs.id, { onDelete: "cascade" }),
    repoPath: text("repo_path").notNull(),
    branch: text("branch").notNull(),
    // The shadow commit whose content is merged back.
    commitSha: text("commit_sha").notNull(),
    state: text("state", { enum: MERGE_REQUEST_STATES }).notNull(),
    requestedBy: text("requested_by")
      .notNull()
      .references(() => users.id),
    note: text("note"),
    decidedBy: text("decided_by"),
    decidedAt: integer("decided_at", { mode: "timestamp_ms" }),
    decisionReason: text("decision_reason"),
    resultCommit: text("result_commit"),
    error: text("error"),
    createdAt: createdAt(),
  },
  (t) => [index("merge_requests_run_idx").on(t.runId)],
);

export const workspacesRelations = relations(workspaces, ({ one }) => ({
  run: one(runs, { fields: [workspaces.runId], references: [runs.id] }),
}));
export const checkpointsRelations = relations(checkpoints, ({ one }) => ({
  run: one(runs, { fields: [checkpoints.runId], references: [runs.id] }),
}));
export const mergeRequestsRelations = relations(mergeRequests, ({ one }) => ({
  run: one(runs, { fields: [mergeRequests.runId], references: [runs.id] }),
}));

export type Workspace = typeof workspaces.$inferSelect;
export type Checkpoint = typeof checkpoints.$inferSelect;
export type Upload = typeof uploads.$inferSelect;
export type MergeRequest = typeof mergeRequests.$inferSelect;

// ---------------------------------------------------------------------------
// Projects, versioned policies, rule proposals and red-team reports (issue 4)

/** Where search_docs looks: a path under the workspace, or a text snippet kept here. */
export interface ProjectDocSource {
  kind: "path" | "text";
  title: string;
  path?: string;
  text?: string;
}

export const projects = sqliteTable(
  "projects",
  {
    id: text("id").primaryKey(),
    slug: text("slug").notNull(),
    name: text("name").notNull(),
    description: text("description").notNull().default(""),
    // Used by run_tests when a run is created without its own test command.
    testCommand: text("test_command"),
    // Limits a run of this project starts with (each may only be lower than Airlock's ceiling).
    defaultLimits: text("default_limits", { mode: "json" }).$type<Partial<RunLimitsJson>>().notNull().default({}),
    docSources: text("doc_sources", { mode: "json" }).$type<ProjectDocSource[]>().notNull().default([]),
    // The version of policy_versions in force.
    policyVersion: integer("policy_version").notNull().default(0),
    // Escalation: a request still undecided after this many minutes is sent to a second group (null: off).
    escalateAfterMinutes: integer("escalate_after_minutes"),
    escalateTo: text("escalate_to", { enum: ["admins", "reviewers"] })
      .notNull()
      .default("admins"),
    // Issue 13: at most this many of the project's runs execute at once (null: only the instance and user limits).
    maxConcurrentRuns: integer("max_concurrent_runs"),
    // Issue 13: "runsc" requires gVisor for every run of the project (null: AIRLOCK_RUNTIME decides).
    runtime: text("runtime", { enum: ["runsc"] }),
    // Issue 17: a run of the project goes only to an engine carrying every one of these labels ([]: any engine).
    engineLabels: text("engine_labels", { mode: "json" }).$type<string[]>().notNull().default([]),
    createdBy: text("created_by"),
    createdAt: createdAt(),
    updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
  },
  (t) => [uniqueIndex("projects_slug_unique").on(t.slug)],
);

/** Who may start runs in a project (none listed: every operator). */
export const projectMembers = sqliteTable(
  "project_members",
  {
    projectId: text("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    addedBy: text("added_by"),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.userId] })],
);

/** Every saved policy document; a save or a restore appends a version, none is ever changed. */
export const policyVersions = sqliteTable(
  "policy_versions",
  {
    id: text("id").primaryKey(),
    projectId: text("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    version: integer("version").notNull(),
    yaml: text("yaml").notNull(),
    comment: text("comment"),
    restoredFrom: integer("restored_from"),
    createdBy: text("created_by"),
    createdByLabel: text("created_by_label").notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("policy_versions_project_version").on(t.projectId, t.version)],
);

export const RULE_PROPOSAL_STATES = ["pending", "accepted", "rejected"] as const;
export type RuleProposalState = (typeof RULE_PROPOSAL_STATES)[number];

/** "Allow this pattern in this project": proposed from approvals, a rule once accepted. */
export const ruleProposals = sqliteTable(
  "rule_proposals",
  {
    id: text("id").primaryKey(),
    projectId: text("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    ruleId: text("rule_id").notNull(),
    // The proposed rule (policy rule data).
    rule: text("rule", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    tool: text("tool").notNull(),
    pattern: text("pattern").notNull(),
    approvalIds: text("approval_ids", { mode: "json" }).$type<string[]>().notNull(),
    comment: text("comment"),
    state: text("state", { enum: RULE_PROPOSAL_STATES }).notNull(),
    proposedBy: text("proposed_by")
      .notNull()
      .references(() => users.id),
    decidedAt: integer("decided_at", { mode: "timestamp_ms" }),
    decisionReason: text("decision_reason"),
    // The policy version the accepted rule first appeared in.
    policyVersion: integer("policy_version"),
    createdAt: createdAt(),
  },
  (t) => [index("rule_proposals_project_idx").on(t.projectId, t.state)],
);

export const ruleProposalVotes = sqliteTable(
  "rule_proposal_votes",
  {
    id: text("id").primaryKey(),
    proposalId: text("proposal_id")
      .notNull()
      .references(() => ruleProposals.id, { onDelete: "cascade" }),
    userId: text("user_id")
      .notNull()
      .references(() => users.id),
    decision: text("decision", { enum: ["accept", "reject"] }).notNull(),
    reason: text("reason"),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("rule_proposal_votes_unique").on(t.proposalId, t.userId)],
);

export const REDTEAM_REPORT_STATES = ["running", "done", "failed"] as const;

export const redteamReports = sqliteTable(
  "redteam_reports",
  {
    id: text("id").primaryKey(),
    projectId: text("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    policyVersion: integer("policy_version").notNull(),
    state: text("state", { enum: REDTEAM_REPORT_STATES }).notNull(),
    startedBy: text("started_by"),
    startedByLabel: text("started_by_label").notNull(),
    // Counts per outcome and progress; the per-scenario evidence is in results.
    summary: text("summary", { mode: "json" }).$type<Record<string, unknown>>().notNull().default({}),
    results: text("results", { mode: "json" }).$type<Record<string, unknown>[]>().notNull().default([]),
    error: text("error"),
    createdAt: createdAt(),
    finishedAt: integer("finished_at", { mode: "timestamp_ms" }),
  },
  (t) => [index("redteam_reports_project_idx").on(t.projectId, t.createdAt)],
);

export const projectsRelations = relations(projects, ({ many }) => ({
  members: many(projectMembers),
  policyVersions: many(policyVersions),
}));
export const projectMembersRelations = relations(projectMembers, ({ one }) => ({
  project: one(projects, { fields: [projectMembers.projectId], references: [projects.id] }),
  user: one(users, { fields: [projectMembers.userId], references: [users.id] }),
}));
export const policyVersionsRelations = relations(policyVersions, ({ one }) => ({
  project: one(projects, { fields: [policyVersions.projectId], references: [projects.id] }),
}));
export const ruleProposalsRelations = relations(ruleProposals, ({ one, many }) => ({
  project: one(projects, { fields: [ruleProposals.projectId], references: [projects.id] }),
  votes: many(ruleProposalVotes),
}));
export const ruleProposalVotesRelations = relations(ruleProposalVotes, ({ one }) => ({
  proposal: one(ruleProposals, { fields: [ruleProposalVotes.proposalId], references: [ruleProposals.id] }),
}));

export type Project = typeof projects.$inferSelect;
export type ProjectMember = typeof projectMembers.$inferSelect;
export type PolicyVersion = typeof policyVersions.$inferSelect;
export type RuleProposal = typeof ruleProposals.$inferSelect;
export type RuleProposalVote = typeof ruleProposalVotes.$inferSelect;
export type RedteamReport = typeof redteamReports.$inferSelect;

// ---------------------------------------------------------------------------
// External agents over MCP

/**
 * One bearer token per external run: shown once when the run is created,
 * stored as SHA-256, valid only for that run while it is live, revoked in the
 * same transaction that ends the run.
 */
export const runTokens = sqliteTable(
  "run_tokens",
  {
    runId: text("run_id")
      .primaryKey()
      .references(() => runs.id, { onDelete: "cascade" }),
    tokenHash: text("token_hash").notNull(),
    prefix: text("prefix").notNull(),
    createdAt: createdAt(),
    revokedAt: integer("revoked_at", { mode: "timestamp_ms" }),
    /** First authenticated MCP request: the run page stops saying "waiting for the external agent". */
    connectedAt: integer("connected_at", { mode: "timestamp_ms" }),
    lastUsedAt: integer("last_used_at", { mode: "timestamp_ms" }),
  },
  (t) => [uniqueIndex("run_tokens_hash_unique").on(t.tokenHash)],
);

export const runTokensRelations = relations(runTokens, ({ one }) => ({
  run: one(runs, { fields: [runTokens.runId], references: [runs.id] }),
}));

export type RunToken = typeof runTokens.$inferSelect;

// -------------------------------------------------------------- secrets

/** Secret names are environment variable names (the request_secret palette's rule). */
export const SECRET_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/**
 * Named values an admin stores for agents' commands (API tokens…). The value is
 * AES-256-GCM ciphertext (server/secrets/crypto.ts) and no procedure returns it.
 * projectId null: available to every project's runs; a project's own secret of
 * the same name wins for its runs.
 */
export const secrets = sqliteTable(
  "secrets",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull(),
    projectId: text("project_id").references(() => projects.id, { onDelete: "cascade" }),
    description: text("description").notNull().default(""),
    valueEnc: text("value_enc").notNull(),
    createdBy: text("created_by"),
    createdAt: createdAt(),
    updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
    rotatedAt: integer("rotated_at", { mode: "timestamp_ms" }),
  },
  (t) => [index("secrets_name_idx").on(t.name), uniqueIndex("secrets_project_name_unique").on(t.projectId, t.name)],
);

/**
 * Every value a run's commands were given (per run and value): after a
 * rotation or a deletion the old value may still sit in the run's files or
 * processes, so the run's output stays redacted for it. No link to the
 * secret: it outlives a deleted one. valueMac (HMAC under the secrets key)
 * only tells values apart.
 */
export const secretExposures = sqliteTable(
  "secret_exposures",
  {
    id: text("id").primaryKey(),
    runId: text("run_id")
      .notNull()
      .references(() => runs.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    valueMac: text("value_mac").notNull(),
    valueEnc: text("value_enc").notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("secret_exposures_run_value_unique").on(t.runId, t.valueMac)],
);

/** A secret given to one run, after a reviewer approved (or a policy rule allowed) its request_secret call. */
export const secretGrants = sqliteTable(
  "secret_grants",
  {
    id: text("id").primaryKey(),
    runId: text("run_id")
      .notNull()
      .references(() => runs.id, { onDelete: "cascade" }),
    secretId: text("secret_id")
      .notNull()
      .references(() => secrets.id, { onDelete: "cascade" }),
    toolCallId: text("tool_call_id"),
    approvalId: text("approval_id"),
    // The deciding reviewer; null when a policy rule allowed the request.
    grantedBy: text("granted_by"),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("secret_grants_run_secret_unique").on(t.runId, t.secretId), index("secret_grants_secret_idx").on(t.secretId)],
);

export const secretsRelations = relations(secrets, ({ one, many }) => ({
  project: one(projects, { fields: [secrets.projectId], references: [projects.id] }),
  grants: many(secretGrants),
}));
export const secretGrantsRelations = relations(secretGrants, ({ one }) => ({
  secret: one(secrets, { fields: [secretGrants.secretId], references: [secrets.id] }),
  run: one(runs, { fields: [secretGrants.runId], references: [runs.id] }),
}));

export type Secret = typeof secrets.$inferSelect;
export type SecretGrant = typeof secretGrants.$inferSelect;

// -------------------------------------------------------------- notifications (issue 11)

/**
 * What one user wants to hear about outside the dashboard. No row: the
 * defaults (push on, email off, every event, every project, no quiet hours).
 */
export const notificationPreferences = sqliteTable("notification_preferences", {
  userId: text("user_id")
    .primaryKey()
    .references(() => users.id, { onDelete: "cascade" }),
  pushEnabled: integer("push_enabled", { mode: "boolean" }).notNull().default(true),
  emailEnabled: integer("email_enabled", { mode: "boolean" }).notNull().default(false),
  // Event names (server/notify/types.ts NOTIFY_EVENT_TYPES) the user wants.
  events: text("events", { mode: "json" }).$type<string[]>().notNull(),
  // null: every project; otherwise only these project ids.
  projectIds: text("project_ids", { mode: "json" }).$type<string[] | null>(),
  // "HH:MM" in timeZone; both set or both null. Push and email wait out quiet hours, except escalations.
  quietStart: text("quiet_start"),
  quietEnd: text("quiet_end"),
  timeZone: text("time_zone").notNull().default("UTC"),
  updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
});

export type NotificationPreferencesRow = typeof notificationPreferences.$inferSelect;
/**
 * A browser's Web Push subscription (one device of one user). The endpoint is
 * the push service's URL for that browser; p256dh and auth are the keys the
 * payload is encrypted for (RFC 8291). An endpoint belongs to one user.
 */
export const pushSubscriptions = sqliteTable(
  "push_subscriptions",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    endpoint: text("endpoint").notNull(),
    p256dh: text("p256dh").notNull(),
    auth: text("auth").notNull(),
    label: text("label").notNull(),
    userAgent: text("user_agent"),
    createdAt: createdAt(),
    lastUsedAt: integer("last_used_at", { mode: "timestamp_ms" }),
    // The last delivery failure (status and a short reason), cleared by a success.
    lastError: text("last_error"),
  },
  (t) => [uniqueIndex("push_subscriptions_endpoint_unique").on(t.endpoint), index("push_subscriptions_user_idx").on(t.userId)],
);

/**
 * One-time tokens behind a push notification's Approve / Deny buttons: only
 * the SHA-256 is kept. Each is bound to one request, one user, one action, the
 * arguments the notification was about (argsHash) and an expiry no later than
 * the request's.
 */
export const approvalActionTokens = sqliteTable(
  "approval_action_tokens",
  {
    id: text("id").primaryKey(),
    tokenHash: text("token_hash").notNull(),
    approvalId: text("approval_id")
      .notNull()
      .references(() => approvals.id, { onDelete: "cascade" }),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    action: text("action", { enum: ["approve", "deny"] }).notNull(),
    argsHash: text("args_hash").notNull(),
    expiresAt: integer("expires_at", { mode: "timestamp_ms" }).notNull(),
    usedAt: integer("used_at", { mode: "timestamp_ms" }),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("approval_action_tokens_hash_unique").on(t.tokenHash), index("approval_action_tokens_approval_idx").on(t.approvalId)],
);

export type PushSubscription = typeof pushSubscriptions.$inferSelect;
export type ApprovalActionToken = typeof approvalActionTokens.$inferSelect;
// ---------------------------------------------------------------------------
// Webhooks (issue 11): endpoints admins register for notify events, and the
// log of every delivery attempt (kept bounded per endpoint).

export const WEBHOOK_FORMATS = ["standard", "slack"] as const;
export type WebhookFormat = (typeof WEBHOOK_FORMATS)[number];

export const webhooks = sqliteTable(
  "webhooks",
  {
    id: text("id").primaryKey(),
    // null: every project's events.
    projectId: text("project_id").references(() => projects.id, { onDelete: "cascade" }),
    url: text("url").notNull(),
    format: text("format", { enum: WEBHOOK_FORMATS }).notNull(),
    events: text("events", { mode: "json" }).$type<string[]>().notNull(),
    // The whsec_ signing secret, encrypted under the data directory's secrets key; shown to the admin once.
    secretEnc: text("secret_enc").notNull(),
    enabled: integer("enabled", { mode: "boolean" }).notNull().default(true),
    disabledReason: text("disabled_reason"),
    // Deliveries that gave up in a row (a delivered one resets it); enough of them disable the endpoint.
    consecutiveFailures: integer("consecutive_failures").notNull().default(0),
    createdBy: text("created_by"),
    createdAt: createdAt(),
  },
  (t) => [index("webhooks_project_idx").on(t.projectId)],
);

export const WEBHOOK_DELIVERY_STATES = ["pending", "delivered", "failed", "gave_up"] as const;
export type WebhookDeliveryState = (typeof WEBHOOK_DELIVERY_STATES)[number];

/** One row per attempt: "failed" will be retried at nextAttemptAt, "gave_up" will not. */
export const webhookDeliveries = sqliteTable(
  "webhook_deliveries",
  {
    id: text("id").primaryKey(),
    webhookId: text("webhook_id")
      .notNull()
      .references(() => webhooks.id, { onDelete: "cascade" }),
    eventId: text("event_id").notNull(),
    eventType: text("event_type").notNull(),
    attempt: integer("attempt").notNull(),
    statusCode: integer("status_code"),
    error: text("error"),
    latencyMs: integer("latency_ms"),
    at: integer("at", { mode: "timestamp_ms" }).notNull(),
    nextAttemptAt: integer("next_attempt_at", { mode: "timestamp_ms" }),
    state: text("state", { enum: WEBHOOK_DELIVERY_STATES }).notNull(),
  },
  (t) => [index("webhook_deliveries_webhook_at_idx").on(t.webhookId, t.at)],
);

export const webhooksRelations = relations(webhooks, ({ one, many }) => ({
  project: one(projects, { fields: [webhooks.projectId], references: [projects.id] }),
  deliveries: many(webhookDeliveries),
}));
export const webhookDeliveriesRelations = relations(webhookDeliveries, ({ one }) => ({
  webhook: one(webhooks, { fields: [webhookDeliveries.webhookId], references: [webhooks.id] }),
}));

export type Webhook = typeof webhooks.$inferSelect;
export type WebhookDelivery = typeof webhookDeliveries.$inferSelect;
/**
 * Network destinations a reviewer opened for every run of a project, from a
 * connection the egress proxy held because a project domain rule asks
 * (issue 12, item 5). Each expires; the proxy reads only unexpired rows.
 */
export const projectEgressGrants = sqliteTable(
  "project_egress_grants",
  {
    id: text("id").primaryKey(),
    projectId: text("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    // A normalised egress entry (host:port), see server/egress/domains.ts.
    entry: text("entry").notNull(),
    // The held connection's approval request and the run it came from.
    approvalId: text("approval_id"),
    runId: text("run_id"),
    grantedBy: text("granted_by"),
    reason: text("reason").notNull(),
    expiresAt: integer("expires_at", { mode: "timestamp_ms" }).notNull(),
    createdAt: createdAt(),
  },
  (t) => [index("project_egress_grants_project_idx").on(t.projectId)],
);

export type ProjectEgressGrant = typeof projectEgressGrants.$inferSelect;
// -------------------------------------------------------------- run grants (issue 12)

/**
 * A bounded permission a reviewer gives one run: calls of `tool` under
 * `pathGlob` that the policy would ask about run without asking, until
 * `expiresAt` or `maxCalls` uses, whichever comes first, or until revoked.
 * A grant never overrides a deny (server/grants/grants.ts says which asks it answers).
 */
export const runGrants = sqliteTable(
  "run_grants",
  {
    id: text("id").primaryKey(),
    runId: text("run_id")
      .notNull()
      .references(() => runs.id, { onDelete: "cascade" }),
    tool: text("tool", { enum: ["write_file", "edit_file"] }).notNull(),
    // Absolute container path glob (normalised under /workspace), e.g. /workspace/src/**.
    pathGlob: text("path_glob").notNull(),
    maxCalls: integer("max_calls").notNull(),
    usedCalls: integer("used_calls").notNull().default(0),
    expiresAt: integer("expires_at", { mode: "timestamp_ms" }).notNull(),
    createdBy: text("created_by")
      .notNull()
      .references(() => users.id),
    // Provenance: "granted while approving approval <id>" or the reviewer's note.
    reason: text("reason").notNull(),
    fromApprovalId: text("from_approval_id"),
    revokedAt: integer("revoked_at", { mode: "timestamp_ms" }),
    revokedBy: text("revoked_by"),
    createdAt: createdAt(),
  },
  (t) => [index("run_grants_run_idx").on(t.runId)],
);

export type RunGrant = typeof runGrants.$inferSelect;
// -------------------------------------------------------------- instance settings (issue 13)

/**
 * Settings an admin changes at run time for the whole instance, one row per
 * key (its value JSON). Environment variables give the defaults; a row here
 * overrides them. Today: "queue" (server/runs/queue-settings.ts).
 */
export const instanceSettings = sqliteTable("instance_settings", {
  key: text("key").primaryKey(),
  value: text("value", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
  updatedBy: text("updated_by"),
  updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
});
// -------------------------------------------------------------- run services (issue 13)

export const SERVICE_STATES = ["running", "exited", "stopped", "failed"] as const;
export type ServiceState = (typeof SERVICE_STATES)[number];

/**
 * A long-running process the agent started with start_service (a dev server
 * for the tests, say). It runs in a container of its own beside the run's
 * sandbox (same workspace, same network namespace), so the kill after every
 * command never reaches it (server/services/services.ts). `output` is the
 * tail of what it printed (bounded, secrets redacted).
 */
export const runServices = sqliteTable(
  "run_services",
  {
    id: text("id").primaryKey(),
    runId: text("run_id")
      .notNull()
      .references(() => runs.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    command: text("command").notNull(),
    cwd: text("cwd").notNull(),
    state: text("state", { enum: SERVICE_STATES }).notNull(),
    containerId: text("container_id"),
    exitCode: integer("exit_code"),
    output: text("output").notNull().default(""),
    outputBytes: integer("output_bytes").notNull().default(0),
    toolCallId: text("tool_call_id"),
    // Who or what ended it: "agent", a user's label, or why the run ended.
    endedBy: text("ended_by"),
    startedAt: integer("started_at", { mode: "timestamp_ms" }).notNull(),
    endedAt: integer("ended_at", { mode: "timestamp_ms" }),
  },
  (t) => [index("run_services_run_idx").on(t.runId)],
);

export type RunService = typeof runServices.$inferSelect;

// ---------------------------------------------------------------------------
// Search (issue 16). The full-text indexes themselves are FTS5 virtual tables
// with triggers, created by the custom migration search_fts (drizzle-kit
// cannot express them): search_run_events over run_events, search_audit over
// audit_events, search_doc_passages over doc_passages (server/search/).

/**
 * search_docs' passages: a project's text sources split into paragraphs
 * (runId null), and lines found under its path sources in one run's
 * workspace (runId set: those live in each run's own workspace).
 */
export const docPassages = sqliteTable(
  "doc_passages",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    projectId: text("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    runId: text("run_id").references(() => runs.id, { onDelete: "cascade" }),
    source: text("source").notNull(),
    path: text("path"),
    lineStart: integer("line_start").notNull(),
    lineEnd: integer("line_end").notNull(),
    text: text("text").notNull(),
  },
  (t) => [index("doc_passages_project_idx").on(t.projectId, t.runId)],
);

/** What a project's text passages were built from (a hash of its sources): a different hash re-indexes them. */
export const docIndexes = sqliteTable("doc_indexes", {
  projectId: text("project_id")
    .primaryKey()
    .references(() => projects.id, { onDelete: "cascade" }),
  sourcesHash: text("sources_hash").notNull(),
  indexedAt: integer("indexed_at", { mode: "timestamp_ms" }).notNull(),
});

export type DocPassage = typeof docPassages.$inferSelect;
// -------------------------------------------------------------- resource history (issue 16)

/**
 * Resource use of a live run's sandbox, sampled every few seconds by the
 * supervisor (server/runs/resource-history.ts), with the caps in force at the
 * time so a chart can draw them. Bounded per run: past a row cap the older
 * half is merged pairwise (keeping each pair's peaks, so a cap hit is never
 * thinned away); `span` counts the raw samples a row stands for.
 */
export const runResourceSamples = sqliteTable(
  "run_resource_samples",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    runId: text("run_id")
      .notNull()
      .references(() => runs.id, { onDelete: "cascade" }),
    at: integer("at", { mode: "timestamp_ms" }).notNull(),
    span: integer("span").notNull().default(1),
    // 100 = one CPU fully busy; the cap is the run's cpus × 100.
    cpuPercent: integer("cpu_percent").notNull(),
    cpuCapPercent: integer("cpu_cap_percent").notNull(),
    memoryBytes: integer("memory_bytes").notNull(),
    memoryCapBytes: integer("memory_cap_bytes").notNull(),
    pids: integer("pids").notNull(),
    pidsCap: integer("pids_cap").notNull(),
    // Null when not measured (no workspace directory) or not reported (no network interface).
    workspaceBytes: integer("workspace_bytes"),
    workspaceCapBytes: integer("workspace_cap_bytes").notNull(),
    netRxBytes: integer("net_rx_bytes"),
    netTxBytes: integer("net_tx_bytes"),
  },
  (t) => [index("run_resource_samples_run_idx").on(t.runId, t.at)],
);

export type RunResourceSample = typeof runResourceSamples.$inferSelect;
// -------------------------------------------------------------- run review (issue 16)

/**
 * A line comment on a run's cumulative diff (the Files changed tab), kept with
 * the run and the checkpoint that was the latest when it was written, so it
 * still says what it was about after the agent changes the file again.
 * `side` is "new" for added and context lines, "old" for removed ones.
 * Unsent comments are drafts of their author; "Request changes" sends them to
 * the agent together (sentAt, sentBy) and they cannot change after that.
 */
export const reviewComments = sqliteTable(
  "review_comments",
  {
    id: text("id").primaryKey(),
    runId: text("run_id")
      .notNull()
      .references(() => runs.id, { onDelete: "cascade" }),
    checkpointId: text("checkpoint_id")
      .notNull()
      .references(() => checkpoints.id, { onDelete: "cascade" }),
    path: text("path").notNull(),
    side: text("side", { enum: ["old", "new"] }).notNull(),
    line: integer("line").notNull(),
    body: text("body").notNull(),
    authorId: text("author_id")
      .notNull()
      .references(() => users.id),
    createdAt: createdAt(),
    updatedAt: integer("updated_at", { mode: "timestamp_ms" }),
    sentAt: integer("sent_at", { mode: "timestamp_ms" }),
    sentBy: text("sent_by").references(() => users.id),
  },
  (t) => [index("review_comments_run_idx").on(t.runId)],
);

export type ReviewComment = typeof reviewComments.$inferSelect;

/**
 * A user's "viewed" mark on one file of a run's cumulative diff. `diffHash` is
 * the hash of that file's diff when it was marked: once a later checkpoint
 * changes the file, the hash differs and the mark no longer counts.
 */
export const reviewFileViews = sqliteTable(
  "review_file_views",
  {
    runId: text("run_id")
      .notNull()
      .references(() => runs.id, { onDelete: "cascade" }),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    path: text("path").notNull(),
    diffHash: text("diff_hash").notNull(),
    viewedAt: integer("viewed_at", { mode: "timestamp_ms" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.userId, t.path] })],
);

export type ReviewFileView = typeof reviewFileViews.$inferSelect;
/**
 * Issue 16: a run started with runs.rerun records the run it re-ran (same
 * task, settings, model, project and workspace source), so both runs can
 * show the link. A table of its own rather than a column on runs.
 */
export const runReruns = sqliteTable(
  "run_reruns",
  {
    runId: text("run_id")
      .primaryKey()
      .references(() => runs.id, { onDelete: "cascade" }),
    rerunOf: text("rerun_of")
      .notNull()
      .references(() => runs.id, { onDelete: "cascade" }),
    createdAt: createdAt(),
  },
  (t) => [index("run_reruns_of_idx").on(t.rerunOf)],
);

export type RunRerun = typeof runReruns.$inferSelect;

/**
 * Issue 17: the Docker engines runs are placed on. The row "local" (the engine
 * next to Airlock: DOCKER_HOST or the local socket, workspaces bind-mounted)
 * is made at start and cannot be deleted; every other engine is remote: its
 * workspaces are volumes on that engine, filled and read through the archive API.
 */
export const engines = sqliteTable("engines", {
  name: text("name").primaryKey(),
  /** unix:///var/run/docker.sock, tcp://host:2376 (TLS client certificates) or ssh://user@host. */
  endpoint: text("endpoint").notNull(),
  local: integer("local", { mode: "boolean" }).notNull().default(false),
  labels: text("labels", { mode: "json" }).$type<string[]>().notNull().default([]),
  /** Runs at once; null: from the engine's cores and memory (as AIRLOCK_MAX_CONCURRENT_RUNS' default). */
  capacityRuns: integer("capacity_runs"),
  /** CPUs the runs' cpu limits may add up to; null: the engine's cores. */
  capacityCpus: real("capacity_cpus"),
  /** Memory the runs' memory limits may add up to, MB; null: the engine's memory × the run memory ratio. */
  capacityMemoryMb: integer("capacity_memory_mb"),
  draining: integer("draining", { mode: "boolean" }).notNull().default(false),
  /** TLS (ca, cert, key PEM) or ssh (privateKey) credentials as encrypted JSON (encryptSecret), null: none. */
  credentialsEnc: text("credentials_enc"),
  /** Where it is defined: "builtin" (local), "file" (AIRLOCK_ENGINES: edited there, not in the UI) or "ui". */
  source: text("source", { enum: ["builtin", "file", "ui"] })
    .notNull()
    .default("ui"),
  /** Set while the engine does not answer (kept across restarts, for "unreachable since …"). */
  downSince: integer("down_since", { mode: "timestamp_ms" }),
  createdAt: createdAt(),
  updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
});
export type EngineRow = typeof engines.$inferSelect;
