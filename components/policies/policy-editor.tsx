"use client";
// The policy editor: the YAML document with line numbers, checked as you type
// (problems marked at their lines), a diff against the version in force before
// saving, and the save itself (admins). Others see the document read-only.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useEffect, useMemo, useRef, useState, type UIEvent } from "react";
import type { inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "@/server/api/root";
import { DiffView } from "@/components/diff/diff-view";
import { InlineAlert } from "@/components/ui/alert";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { TextField } from "@/components/ui/field";
import { Spinner } from "@/components/ui/spinner";
import { cn } from "@/lib/cn";
import { errorMessage } from "@/lib/errors";
import { DRAFT_ROLE } from "@/lib/roles";
import { useTRPC } from "@/lib/trpc/client";
import { ReadOnlyNote } from "@/components/ui/read-only-note";
import { whoMayChange } from "@/lib/permissions";

type Validation = inferRouterOutputs<AppRouter>["policies"]["validate"];
type Problem = Validation["problems"][number];

const LINE_HEIGHT_PX = 20;

function lineStart(text: string, line: number): number {
  let offset = 0;
  for (let i = 1; i < line; i++) {
    const next = text.indexOf("\n", offset);
    if (next === -1) return text.length;
    offset = next + 1;
  }
  return offset;
}

export function PolicyEditor({
  projectId,
  version,
  storedYaml,
  draft,
  onDraftChange,
  canEdit,
  canCheck,
}: {
  projectId: string;
  version: number;
  storedYaml: string;
  draft: string;
  onDraftChange: (yaml: string) => void;
  canEdit: boolean;
  /** Whether the user may have drafts checked (reviewers and up; the server refuses others). */
  canCheck: boolean;
}) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const textarea = useRef<HTMLTextAreaElement>(null);
  const gutter = useRef<HTMLDivElement>(null);
  const [validation, setValidation] = useState<Validation | null>(null);
  const [reviewing, setReviewing] = useState(false);
  const [comment, setComment] = useState("");
  const [saved, setSaved] = useState<string | null>(null);
  const dirty = draft !== storedYaml;

  const validate = useMutation(trpc.policies.validate.mutationOptions({ onSuccess: setValidation }));
  const save = useMutation(
    trpc.policies.update.mutationOptions({
      onSuccess: (result) => {
        setReviewing(false);
        setComment("");
        setSaved(result.unchanged ? "Nothing changed, so no new version was saved." : `Saved as version ${result.version}.`);
        void queryClient.invalidateQueries({ queryKey: trpc.policies.pathKey() });
        void queryClient.invalidateQueries({ queryKey: trpc.projects.pathKey() });
      },
    }),
  );

  // Check the draft shortly after typing stops.
  const { mutate } = validate;
  useEffect(() => {
    if (!canCheck) return;
    const timer = setTimeout(() => mutate({ projectId, yaml: draft }), 400);
    return () => clearTimeout(timer);
  }, [draft, projectId, mutate, canCheck]);

  const problems = useMemo(() => validation?.problems ?? [], [validation]);
  const problemLines = useMemo(() => new Map(problems.map((p) => [p.line, p.message])), [problems]);
  const lineCount = draft.split("\n").length;

  function onScroll(e: UIEvent<HTMLTextAreaElement>) {
    if (gutter.current) gutter.current.scrollTop = e.currentTarget.scrollTop;
  }

  function jumpTo(problem: Problem) {
    const el = textarea.current;
    if (!el) return;
    const start = lineStart(draft, problem.line) + Math.max(0, problem.column - 1);
    const end = draft.indexOf("\n", start);
    el.focus();
    el.setSelectionRange(start, end === -1 ? draft.length : end);
    el.scrollTop = Math.max(0, (problem.line - 4) * LINE_HEIGHT_PX);
  }

  async function review() {
    setSaved(null);
    save.reset();
    const result = await validate.mutateAsync({ projectId, yaml: draft });
    setValidation(result);
    if (result.ok) setReviewing(true);
  }

  return (
    <div className="space-y-3">
      <div className="flex flex-wrap items-center justify-between gap-2 text-sm">
        <div className="flex flex-wrap items-center gap-2">
          <Badge tone="accent">Version {version} in force</Badge>
          {dirty ? <Badge tone="warning">Unsaved changes</Badge> : null}
          {!canCheck ? (
            <span className="text-fg-muted" data-testid="policy-read-only">
              Read-only: checking drafts needs the {DRAFT_ROLE} role.
            </span>
          ) : validate.isPending ? (
            <span className="inline-flex items-center gap-1.5 text-fg-muted">
              <Spinner /> Checking…
            </span>
          ) : validation ? (
            validation.ok ? (
              <span className="text-success" data-testid="policy-valid">
                ✓ Valid{validation.warnings.length ? ` (${validation.warnings.length} warning${validation.warnings.length === 1 ? "" : "s"})` : ""}
              </span>
            ) : (
              <span className="font-medium text-danger" data-testid="policy-invalid">
                {validation.problems.length} problem{validation.problems.length === 1 ? "" : "s"}
              </span>
            )
          ) : null}
        </div>
        {canEdit ? (
          <div className="flex gap-2">
            <Button variant="ghost" size="sm" disabled={!dirty} onClick={() => onDraftChange(storedYaml)}>
              Discard changes
            </Button>
            <Button size="sm" disabled={!dirty} loading={validate.isPending && reviewing} onClick={() => void review()}>
              Review and save
            </Button>
          </div>
        ) : (
          <ReadOnlyNote>{whoMayChange("policies")}</ReadOnlyNote>
        )}
      </div>

      <div className="relative flex h-[60vh] min-h-80 overflow-hidden rounded-lg border border-border-strong bg-surface font-mono text-[13px] shadow-xs">
        <div
          ref={gutter}
          aria-hidden="true"
          className="w-11 shrink-0 overflow-hidden border-r border-border bg-surface-muted py-2 text-right text-fg-muted select-none"
        >
          {Array.from({ length: lineCount }, (_, i) => {
            const message = problemLines.get(i + 1);
            return (
              <div
                key={i}
                title={message}
                style={{ height: LINE_HEIGHT_PX, lineHeight: `${LINE_HEIGHT_PX}px` }}
                className={cn("pr-2", message && "bg-danger-soft font-semibold text-danger")}
              >
                {i + 1}
              </div>
            );
          })}
        </div>
        <textarea
          ref={textarea}
          aria-label="Policy YAML"
          aria-invalid={problems.length > 0 || undefined}
          aria-describedby="policy-problems"
          value={draft}
          readOnly={!canEdit}
          onChange={(e) => {
            setSaved(null);
            setReviewing(false);
            onDraftChange(e.target.value);
          }}
          onScroll={onScroll}
          wrap="off"
          spellCheck={false}
          autoCapitalize="off"
          autoCorrect="off"
          style={{ lineHeight: `${LINE_HEIGHT_PX}px` }}
          className="h-full min-w-0 flex-1 resize-none overflow-auto bg-transparent px-3 py-2 whitespace-pre text-fg focus:outline-none"
        />
      </div>

      <div id="policy-problems" aria-live="polite">
        {problems.length > 0 ? (
          <InlineAlert title="The policy cannot be saved like this">
            <ul className="mt-1 space-y-1" data-testid="policy-problems">
              {problems.map((p, i) => (
                <li key={i}>
                  <button type="button" onClick={() => jumpTo(p)} className="text-left hover:underline">
                    <span className="font-mono text-xs font-semibold text-danger">
                      Line {p.line}, column {p.column}
                    </span>
                    {p.path ? <span className="font-mono text-xs text-fg-muted"> · {p.path}</span> : null}
                    <span className="block text-sm break-words">{p.message}</span>
                  </button>
                </li>
              ))}
            </ul>
          </InlineAlert>
        ) : null}
        {validation && validation.warnings.length > 0 ? (
          <InlineAlert tone="warning" title="Warnings" className="mt-2">
            <ul className="space-y-1">
              {validation.warnings.map((w, i) => (
                <li key={i}>
                  Line {w.line}: {w.message}
                </li>
              ))}
            </ul>
          </InlineAlert>
        ) : null}
      </div>

      {saved ? <InlineAlert tone="success">{saved}</InlineAlert> : null}

      {reviewing && validation?.ok ? (
        <section aria-label="Changes to save" className="space-y-3 rounded-xl border border-border bg-surface p-3 sm:p-4">
          <h3 className="text-sm font-semibold">Changes against version {validation.baseVersion}</h3>
          <div className="overflow-x-auto rounded-lg border border-border">
            <DiffView diff={validation.diff} path="policy.yaml" mode="unified" wrap={false} />
          </div>
          <TextField
            label="What changed and why (kept in the history and the audit trail)"
            value={comment}
            onChange={(e) => setComment(e.target.value)}
            maxLength={2000}
          />
          {save.error ? (
            <InlineAlert>
              <span className="whitespace-pre-wrap">{errorMessage(save.error)}</span>
            </InlineAlert>
          ) : null}
          <div className="flex flex-wrap gap-2">
            <Button
              loading={save.isPending}
              onClick={() => save.mutate({ projectId, yaml: draft, comment: comment || undefined, baseVersion: validation.baseVersion })}
            >
              Save as version {validation.baseVersion + 1}
            </Button>
            <Button variant="secondary" onClick={() => setReviewing(false)}>
              Keep editing
            </Button>
          </div>
        </section>
      ) : null}
    </div>
  );
}
