"use client";
// One approval request, shaped by its kind: a plan (approve, reject with
// feedback, or edit then approve), a file change (diff), a command (its parsed
// parts), or a finished step in step mode (continue / stop here). Every card
// says which rule asked and why, how many approvals it needs, when it expires
// and whether you may decide.
import { ProposeRuleButton } from "@/components/policies/propose-rule-button";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { TRPCClientError } from "@trpc/client";
import Link from "next/link";
import { useId, useRef, useState, type FormEvent, type ReactNode } from "react";
import { InlineAlert } from "@/components/ui/alert";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { ConfirmDialog } from "@/components/ui/dialog";
import { Switch } from "@/components/ui/switch";
import { TextAreaField } from "@/components/ui/textarea-field";
import { cn } from "@/lib/cn";
import { errorMessage } from "@/lib/errors";
import type { SessionUser } from "@/lib/session-user";
import { registryFor } from "@/lib/egress-presets";
import { EgressRequest, isEgressRequest, type EgressScope } from "@/components/approvals/egress-request";
import { useTRPC } from "@/lib/trpc/client";
import { FileChange, isFileDiffPreview } from "@/components/diff/file-change";
import { GrantOffer } from "@/components/approvals/grant-offer";
import { CommandBlock, CommandParts } from "@/components/approvals/command-preview";
import { ExpiryCountdown } from "@/components/approvals/expiry-countdown";
import { cleanSteps, PlanEditor, PlanStepList, planProblems } from "@/components/approvals/plan-steps";
import {
  approvalSubject,
  commandParts,
  editFieldFor,
  planSteps,
  stepPreview,
  type ApprovalItem,
  type EditField,
  type PlanStep,
} from "@/components/approvals/types";
import { RuleAndReason } from "@/components/approvals/verdict-badge";
import { ApprovalContext, ApprovalRiskBadge, EscalatedMark, RISK_HEADER } from "@/components/approvals/approval-context";
import { DenyForm } from "@/components/approvals/deny-form";
import { approvalRisk, needsSecondConfirmation } from "@/components/approvals/risk";
import { focusNextDecidable } from "@/components/approvals/shortcuts";
import { approvalPermissions } from "@/lib/permissions";
import { LocalTime } from "@/components/ui/local-time";

type Mode = "idle" | "deny" | "edit";

const STATE_TONE = { pending: "warning", approved: "success", denied: "danger", expired: "neutral", cancelled: "neutral" } as const;
const STATE_LABEL = { pending: "Pending", approved: "Approved", denied: "Denied", expired: "Expired", cancelled: "Cancelled" } as const;

const COPY = {
  plan: {
    approve: "Approve plan",
    deny: "Reject",
    denyConfirm: "Reject plan",
    reasonLabel: "Feedback for the agent",
    reasonHint: "Required. The agent revises its plan from it.",
  },
  step: {
    approve: "Continue",
    deny: "Stop here",
    denyConfirm: "Stop after this step",
    reasonLabel: "Why stop here?",
    reasonHint: "Required. The agent is told not to continue, and why.",
  },
  tool: {
    approve: "Approve",
    deny: "Deny",
    denyConfirm: "Deny request",
    reasonLabel: "Reason for denying",
    reasonHint: "Required. The agent gets it back so it can change course.",
  },
} as const;

const EDIT_COPY: Record<EditField, { button: string; label: string; hint: string }> = {
  command: { button: "Edit command", label: "Command to run instead", hint: "The edited command is judged by the policy again before it runs." },
  content: { button: "Edit content", label: "File content to write instead", hint: "The file gets exactly this content." },
  new_string: { button: "Edit replacement", label: "Replacement text (new_string)", hint: "Replaces the same matched text (old_string) in the file." },
  steps: { button: "Edit plan", label: "Plan steps", hint: "" },
};

function conflictLike(err: unknown): boolean {
  const code = err instanceof TRPCClientError ? (err.data as { code?: string } | undefined)?.code : undefined;
  return code === "CONFLICT" || code === "PRECONDITION_FAILED" || code === "NOT_FOUND";
}

export interface ApprovalCardProps {
  approval: ApprovalItem;
  user: SessionUser;
  /** Show which run the request belongs to (the inbox does; the run page doesn't need to). */
  showRunLink?: boolean;
  /** Called when someone else decided first (or it expired): the list refreshes and the card may go away. */
  onConflict?: (message: string) => void;
  /** Pin Deny / Approve to the bottom of the screen (above the phone tab bar): the one request the page is about. */
  sticky?: boolean;
  className?: string;
}

export function ApprovalCard({ approval, user, showRunLink = false, onConflict, sticky = false, className }: ApprovalCardProps) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const titleId = useId();
  const [mode, setMode] = useState<Mode>("idle");
  const [reason, setReason] = useState("");
  const [editText, setEditText] = useState("");
  const [editSteps, setEditSteps] = useState<PlanStep[]>([]);
  const [localError, setLocalError] = useState<string | null>(null);
  const [confirming, setConfirming] = useState(false);
  const cardRef = useRef<HTMLElement>(null);
  const risk = approvalRisk(approval);
  // An install needs its package index: offered with the approval (on by default), granted to the run on approve.
  const registry = approval.tool === "install_package" ? registryFor(approval.args.manager) : null;
  const [grantRegistry, setGrantRegistry] = useState(true);
  // A held network connection: how far the reviewer's allow reaches (sent as edit.scope).
  const egress = isEgressRequest(approval);
  const [egressScope, setEgressScope] = useState<EgressScope>("run");
  const kind = approval.kind === "plan" || approval.kind === "step" ? approval.kind : "tool";
  const copy = COPY[kind];
  const editField = editFieldFor(approval);
  const pending = approval.state === "pending";

  const refresh = () => {
    void queryClient.invalidateQueries({ queryKey: trpc.approvals.list.pathKey() });
    void queryClient.invalidateQueries({ queryKey: trpc.runs.get.queryKey({ id: approval.runId }) });
  };
  const decide = useMutation(
    trpc.approvals.decide.mutationOptions({
      onSuccess: () => {
        setMode("idle");
        setReason("");
        setConfirming(false);
        refresh();
      },
      onError: (err) => {
        if (conflictLike(err)) {
          onConflict?.(errorMessage(err));
          refresh();
        }
      },
    }),
  );

  type DecideInput = Parameters<typeof decide.mutate>[0];
  function send(input: DecideInput) {
    decide.mutate(input, {
      onSuccess: () => {
        // Keyboard and phone reviewers continue with the next request without hunting for it.
        const card = cardRef.current;
        if (card && (card.contains(document.activeElement) || document.activeElement === document.body)) focusNextDecidable(card);
      },
    });
  }

  function approve() {
    setLocalError(null);
    if (needsSecondConfirmation(approval) && !confirming) {
      decide.reset();
      setConfirming(true);
      return;
    }
    send({
      id: approval.id,
      decision: "approve",
      ...(registry && grantRegistry ? { grantRegistry: true } : {}),
      ...(egress ? { edit: { scope: egressScope } } : {}),
    });
  }

  function submitDeny(e: FormEvent) {
    e.preventDefault();
    if (!reason.trim()) {
      setLocalError(`${copy.reasonLabel} is required.`);
      return;
    }
    setLocalError(null);
    send({ id: approval.id, decision: "deny", reason: reason.trim() });
  }

  function startEdit() {
    decide.reset();
    setLocalError(null);
    if (editField === "steps") setEditSteps(planSteps(approval));
    else if (editField) setEditText(typeof approval.args[editField] === "string" ? (approval.args[editField] as string) : "");
    setMode("edit");
  }

  function submitEdit(e: FormEvent) {
    e.preventDefault();
    if (!editField) return;
    if (editField === "steps") {
      const problem = planProblems(editSteps);
      if (problem) {
        setLocalError(problem);
        return;
      }
      setLocalError(null);
      send({ id: approval.id, decision: "approve", edit: { steps: cleanSteps(editSteps) } });
      return;
    }
    if (editField === "command" && !editText.trim()) {
      setLocalError("The command cannot be empty.");
      return;
    }
    setLocalError(null);
    send({ id: approval.id, decision: "approve", edit: { [editField]: editText } });
  }

  const error = localError ?? (decide.error && !(onConflict && conflictLike(decide.error)) ? errorMessage(decide.error) : null);
  // canDecide comes from the server (it also knows the votes); these only word why not.
  const { canReview: isReviewer, selfApprovalBlocked: ownRun } = approvalPermissions(user, approval);
  const remaining = Math.max(0, approval.requiredApprovals - approval.approvalsSoFar);

  const decidable = pending && approval.canDecide;
  const denyError = mode === "deny" ? error : null;
  const denyButton = (
    <Button
      variant="danger-outline"
      data-action="deny"
      onClick={() => {
        decide.reset();
        setLocalError(null);
        setMode("deny");
      }}
      disabled={decide.isPending}
    >
      {copy.deny}
    </Button>
  );
  const editButton = editField ? (
    <Button variant="secondary" onClick={startEdit} disabled={decide.isPending}>
      {EDIT_COPY[editField].button}
    </Button>
  ) : null;
  const approveButton = (
    <Button onClick={approve} loading={decide.isPending} data-action="approve">
      {copy.approve}
    </Button>
  );

  return (
    <article
      ref={cardRef}
      aria-labelledby={titleId}
      tabIndex={decidable ? -1 : undefined}
      data-testid="approval-card"
      data-approval-id={approval.id}
      data-kind={approval.kind}
      data-decidable={decidable ? "true" : undefined}
      className={cn(
        "min-w-0 scroll-mt-20 rounded-xl border bg-surface shadow-xs focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-accent",
        pending ? "border-warning/60 ring-1 ring-warning/20" : "border-border",
        className,
      )}
    >
      <header
        className={cn(
          "flex flex-wrap items-start justify-between gap-x-3 gap-y-2 rounded-t-xl border-b border-border px-4 py-3",
          risk ? RISK_HEADER[risk.level] : null,
        )}
        data-risk={risk?.level}
      >
        <div className="min-w-0">
          <h3 id={titleId} className="font-mono text-[14px] font-semibold break-all text-fg">
            {approvalSubject(approval)}
          </h3>
          <p className="mt-0.5 text-xs text-fg-muted">
            {showRunLink ? (
              <>
                Run{" "}
                <Link href={`/runs/${approval.runId}`} className="font-medium text-fg hover:text-accent hover:underline">
                  {approval.runTitle}
                </Link>{" "}
                ·{" "}
              </>
            ) : null}
            asked <LocalTime date={approval.createdAt} format="relative" />
          </p>
        </div>
        <div className="flex flex-wrap items-center gap-1.5">
          <ApprovalRiskBadge risk={risk} />
          <EscalatedMark escalatedAt={approval.escalatedAt} />
          <Badge tone={STATE_TONE[approval.state] ?? "neutral"}>{STATE_LABEL[approval.state] ?? approval.state}</Badge>
          <Badge tone="neutral">
            <span className="tabular-nums">
              {approval.approvalsSoFar} of {approval.requiredApprovals} approval{approval.requiredApprovals === 1 ? "" : "s"}
            </span>
          </Badge>
          {pending ? <ExpiryCountdown expiresAt={approval.expiresAt} /> : null}
        </div>
      </header>

      <div className="space-y-3 px-4 py-3">
        <div className="rounded-lg bg-surface-muted/60 px-3 py-2">
          <RuleAndReason rule={approval.rule} reason={approval.reason} prefix="Asked by rule" />
        </div>
        <ApprovalContext approval={approval} />

        {mode === "edit" && editField ? (
          <form id={`${titleId}-edit`} onSubmit={submitEdit} aria-label="Edit before approving" className="space-y-3">
            {editField === "steps" ? (
              <PlanEditor steps={editSteps} onChange={setEditSteps} />
            ) : (
              <TextAreaField
                label={EDIT_COPY[editField].label}
                hint={EDIT_COPY[editField].hint}
                rows={editField === "command" ? 3 : 12}
                className="font-mono text-[13px] sm:text-[13px]"
                spellCheck={false}
                autoCapitalize="none"
                value={editText}
                onChange={(e) => setEditText(e.target.value)}
              />
            )}
          </form>
        ) : (
          <ApprovalBody approval={approval} />
        )}

        {!pending ? (
          <DecidedSummary approval={approval} user={user} />
        ) : !approval.canDecide ? (
          <p className="rounded-lg border border-border bg-surface-muted/50 px-3 py-2 text-sm text-fg" data-testid="cannot-decide">
            {!isReviewer
              ? "Only reviewers and admins can decide. You can follow it here."
              : ownRun
                ? "You started this run; another reviewer must decide."
                : `You already voted; waiting for ${remaining} more approval${remaining === 1 ? "" : "s"} from another reviewer.`}
          </p>
        ) : (
          <p className="text-xs text-fg-muted">
            {approval.allowSelfApproval ? "Any reviewer or admin may decide." : "Any reviewer or admin other than the run's operator may decide."}
            {approval.requiredApprovals > 1 ? ` It needs ${approval.requiredApprovals} different reviewers to approve.` : ""}
          </p>
        )}

        {egress ? (
          <EgressRequest approval={approval} scope={egressScope} onScopeChange={setEgressScope} editable={pending && approval.canDecide && mode === "idle"} />
        ) : null}

        {pending && approval.canDecide && registry && mode === "idle" ? (
          <Switch
            label={`Also let this run's commands reach the ${registry.label} registry`}
            description={
              <>
                Grants <span className="font-mono">{registry.domains.join(", ")}</span> through Airlock&apos;s proxy for the rest of the run (revocable under
                Network access on the run page). Without it the sandbox has no network and the install can only use files in the workspace.
              </>
            }
            checked={grantRegistry}
            onCheckedChange={setGrantRegistry}
          />
        ) : null}

        {mode === "idle" ? <GrantOffer approval={approval} /> : null}

        {pending && approval.approverRole === "admin" ? (
          <p className="text-xs font-medium text-warning" data-testid="needs-admin">
            The policy asks an admin to approve this.
          </p>
        ) : null}

        {!pending && approval.state === "approved" && approval.kind === "tool" && !egress && isReviewer ? (
          <ProposeRuleButton approvalId={approval.id} label="Allow this pattern in this project" />
        ) : null}

        {error && !denyError ? <InlineAlert>{error}</InlineAlert> : null}
      </div>

      {decidable ? (
        <footer className="border-t border-border px-4 py-3">
          {mode === "deny" ? (
            <DenyForm
              kind={kind}
              label={copy.reasonLabel}
              hint={copy.reasonHint}
              confirmLabel={copy.denyConfirm}
              reason={reason}
              onReasonChange={(r) => {
                setReason(r);
                if (r.trim()) setLocalError(null);
              }}
              error={denyError}
              onSubmit={submitDeny}
              actions={
                <Actions key="deny">
                  <Button variant="secondary" onClick={() => setMode("idle")} disabled={decide.isPending}>
                    Cancel
                  </Button>
                  <Button type="submit" variant="danger" loading={decide.isPending}>
                    {copy.denyConfirm}
                  </Button>
                </Actions>
              }
            />
          ) : mode === "edit" ? (
            // Keyed per mode: reusing the clicked "Edit" <button> as this submit button would submit during the same click.
            <Actions key="edit">
              <Button variant="secondary" onClick={() => setMode("idle")} disabled={decide.isPending}>
                Cancel edit
              </Button>
              <Button type="submit" form={`${titleId}-edit`} loading={decide.isPending}>
                Approve edited
              </Button>
            </Actions>
          ) : sticky ? (
            <>
              {editButton ? <Actions key="idle-edit">{editButton}</Actions> : <p className="text-xs text-fg-muted">Decide with the bar at the bottom.</p>}
              {/* Pinned above the phone's tab bar (and its safe area), so Approve never sits a screen away from the thumb. */}
              <div data-testid="decision-bar" role="group" aria-label="Decision" className={DECISION_BAR}>
                <div className="mx-auto flex w-full max-w-6xl items-center gap-3">
                  <p className="min-w-0 flex-1 truncate text-sm font-medium max-sm:hidden">{approvalSubject(approval)}</p>
                  <div className="grid flex-1 grid-cols-2 gap-2 sm:flex sm:flex-none [&>button]:h-11 sm:[&>button]:h-10">
                    {denyButton}
                    {approveButton}
                  </div>
                </div>
              </div>
            </>
          ) : (
            <Actions key="idle">
              {denyButton}
              {editButton}
              {approveButton}
            </Actions>
          )}
        </footer>
      ) : null}
      <ConfirmDialog
        open={confirming}
        onOpenChange={(open) => {
          setConfirming(open);
          if (!open) decide.reset();
        }}
        title="Approve a high-risk request?"
        description={
          <>
            Airlock&apos;s policy judged <span className="font-mono font-medium break-all text-fg">{approvalSubject(approval)}</span> high risk:{" "}
            {approval.reason}
          </>
        }
        confirmLabel="Yes, approve"
        confirmVariant="danger"
        pending={decide.isPending}
        error={decide.error ? errorMessage(decide.error) : null}
        onConfirm={approve}
      />
    </article>
  );
}

const DECISION_BAR =
  "fixed inset-x-0 bottom-[calc(4rem+env(safe-area-inset-bottom))] z-20 border-t border-border bg-surface/95 px-4 py-2.5 shadow-[0_-4px_12px_rgb(0_0_0/0.08)] backdrop-blur md:bottom-0 md:left-60 md:pb-[calc(0.625rem+env(safe-area-inset-bottom))]";

function Actions({ children }: { children: ReactNode }) {
  // Full-width, thumb-sized buttons on phones; a right-aligned row on wide screens.
  return <div className="grid grid-cols-1 gap-2 sm:flex sm:flex-wrap sm:justify-end [&>button]:h-11 sm:[&>button]:h-10">{children}</div>;
}

function DecidedSummary({ approval, user }: { approval: ApprovalItem; user: SessionUser }) {
  const who = approval.decidedBy ? (approval.decidedBy === user.id ? "you" : approval.decidedBy === "system" ? "Airlock" : "a reviewer") : null;
  const verb = STATE_LABEL[approval.state] ?? approval.state;
  return (
    <div className="rounded-lg border border-border px-3 py-2 text-sm">
      <p>
        <span className="font-medium">{verb}</span>
        {who && approval.state !== "expired" ? ` by ${who}` : ""}
        {approval.decidedAt ? (
          <>
            {" "}
            <LocalTime date={approval.decidedAt} format="relative" className="text-fg-muted" />
          </>
        ) : null}
        {approval.edit ? <Badge className="ml-2">edited</Badge> : null}
      </p>
      {approval.decisionReason ? <p className="mt-1 break-words text-fg-muted">“{approval.decisionReason}”</p> : null}
    </div>
  );
}

/** The kind-specific part of a request: what exactly will happen if it is approved. */
export function ApprovalBody({ approval }: { approval: ApprovalItem }) {
  const preview = approval.preview;
  if (approval.kind === "plan") {
    const stepMode = (preview as { stepMode?: unknown } | null)?.stepMode === true;
    return (
      <div className="space-y-2">
        <PlanStepList steps={planSteps(approval)} />
        {stepMode ? <p className="text-xs text-fg-muted">Step mode is on: the run pauses after each step until a reviewer says continue.</p> : null}
      </div>
    );
  }
  if (approval.kind === "step") {
    const s = stepPreview(approval);
    return (
      <div className="rounded-lg border border-border px-3 py-2.5 text-sm">
        <p className="font-medium text-fg">
          Step {s.step} done{s.title ? `: ${s.title}` : ""}
        </p>
        {s.note ? <p className="mt-1 break-words whitespace-pre-wrap text-fg">{s.note}</p> : <p className="mt-1 text-fg-muted">The agent left no note.</p>}
        <p className="mt-2 text-fg-muted">
          {s.next ? (
            <>
              Next: <span className="text-fg">{s.next}</span>
            </>
          ) : (
            "That was the last step; next the agent finishes."
          )}
        </p>
      </div>
    );
  }
  if (isFileDiffPreview(preview)) {
    return (
      <div className="space-y-2">
        {approval.tool === "edit_file" ? <p className="text-xs text-fg-muted">Replaces one exact match in the file.</p> : null}
        <FileChange preview={preview} />
      </div>
    );
  }
  const parts = commandParts(preview);
  const type = (preview as { type?: unknown } | null)?.type;
  if (type === "command" || approval.tool === "run_command" || approval.tool === "run_tests") {
    const command = String((preview as { command?: unknown } | null)?.command ?? approval.args.command ?? "");
    const cwd = (preview as { cwd?: unknown } | null)?.cwd;
    return (
      <div className="space-y-3">
        {approval.tool === "run_tests" ? <p className="text-xs text-fg-muted">The run&apos;s configured test command:</p> : null}
        <CommandBlock command={command} cwd={typeof cwd === "string" ? cwd : ((approval.args.cwd as string | undefined) ?? "/workspace")} />
        <CommandParts parts={parts} />
      </div>
    );
  }
  if (type === "install") {
    const p = preview as { manager?: string; packages?: string[]; command?: string };
    return (
      <div className="space-y-3">
        <p className="text-sm">
          Install with <span className="font-mono">{p.manager}</span>:{" "}
          {(p.packages ?? []).map((pkg) => (
            <code key={pkg} className="mr-1 rounded bg-surface-muted px-1 font-mono text-[12px]">
              {pkg}
            </code>
          ))}
        </p>
        {p.command ? <CommandBlock command={p.command} /> : null}
        <CommandParts parts={parts} />
      </div>
    );
  }
  if (type === "http") {
    const p = preview as { method?: string; url?: string; headers?: Record<string, string>; secrets?: string[] };
    const headers = Object.entries(p.headers ?? {});
    return (
      <div className="space-y-2">
        <p className="rounded-lg bg-surface-muted px-3 py-2 font-mono text-[13px] break-all">
          <span className="font-semibold">{p.method ?? "GET"}</span> {p.url}
        </p>
        {headers.length ? (
          <ul className="space-y-0.5 font-mono text-[12px] break-all" aria-label="Request headers">
            {headers.map(([k, v]) => (
              <li key={k}>
                <span className="text-fg-muted">{k}:</span> {v}
              </li>
            ))}
          </ul>
        ) : null}
        {p.secrets?.length ? (
          <p className="text-xs text-warning">
            Sends the secret{p.secrets.length > 1 ? "s" : ""} {p.secrets.join(", ")} to this host (Airlock fills in the value; the agent never sees it).
          </p>
        ) : null}
      </div>
    );
  }
  if (type === "secret") {
    const p = preview as { name?: string; reason?: string; configured?: boolean };
    return (
      <div className="space-y-2 text-sm">
        <p>
          The agent asks for the secret <code className="rounded bg-surface-muted px-1.5 py-0.5 font-mono text-[13px] font-semibold">{p.name}</code>. If you
          approve, it becomes the environment variable <code className="font-mono text-[13px]">${p.name}</code> of this run&apos;s commands; its value is never
          shown to the agent.
        </p>
        {p.reason ? <p className="rounded-lg bg-surface-muted px-3 py-2 whitespace-pre-wrap break-words">{p.reason}</p> : null}
        {p.configured === false ? <p className="text-xs text-warning">No secret of this name is configured, so approving gives the agent nothing.</p> : null}
      </div>
    );
  }
  return <ArgsList args={approval.args} />;
}

export function ArgsList({ args }: { args: Record<string, unknown> }) {
  const entries = Object.entries(args);
  if (entries.length === 0) return <p className="text-sm text-fg-muted">No arguments.</p>;
  return (
    <dl className="grid gap-x-3 gap-y-1 text-sm sm:grid-cols-[auto_1fr]">
      {entries.map(([k, v]) => (
        <div key={k} className="contents">
          <dt className="font-mono text-xs text-fg-muted sm:pt-0.5">{k}</dt>
          <dd className="min-w-0 font-mono text-[12px] break-all whitespace-pre-wrap">{typeof v === "string" ? v : JSON.stringify(v, null, 2)}</dd>
        </div>
      ))}
    </dl>
  );
}
