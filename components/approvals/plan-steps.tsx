"use client";
// A plan's steps with their risks, and the editor reviewers use to change a
// plan before approving it.
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { SelectField, TextField } from "@/components/ui/field";
import { TextAreaField } from "@/components/ui/textarea-field";
import { cn } from "@/lib/cn";
import type { PlanStep, Risk } from "@/components/approvals/types";

const RISK_TONE = { low: "success", medium: "warning", high: "danger" } as const;

export function RiskBadge({ risk }: { risk: Risk }) {
  return <Badge tone={RISK_TONE[risk] ?? "neutral"}>{risk} risk</Badge>;
}

export function PlanStepList({
  steps,
  currentStep,
  done,
  doneSteps,
}: {
  steps: PlanStep[];
  currentStep?: number;
  done?: boolean;
  /** Steps the agent reported done (complete_step); when given, only these are ticked, whatever the run's state says. */
  doneSteps?: number[];
}) {
  if (steps.length === 0) return <p className="text-sm text-fg-muted">The plan has no steps.</p>;
  return (
    <ol className="space-y-2" aria-label="Plan steps">
      {steps.map((step, i) => {
        const n = i + 1;
        const finished = doneSteps ? doneSteps.includes(n) : done || (currentStep !== undefined && currentStep > n);
        const current = !done && !finished && currentStep === n;
        return (
          <li
            key={i}
            aria-current={current ? "step" : undefined}
            className={cn("flex gap-3 rounded-lg border p-3", current ? "border-accent bg-accent-soft/40" : "border-border bg-surface")}
          >
            <span
              aria-hidden="true"
              className={cn(
                "grid size-6 shrink-0 place-items-center rounded-full text-xs font-semibold",
                finished ? "bg-success text-white dark:text-bg" : current ? "bg-accent text-accent-fg" : "bg-surface-muted text-fg-muted",
              )}
            >
              {finished ? "✓" : n}
            </span>
            <div className="min-w-0 flex-1">
              <div className="flex flex-wrap items-center gap-2">
                <span className="sr-only">
                  Step {n}
                  {finished ? " (reported done)" : ""}:{" "}
                </span>
                <span className="font-medium break-words text-fg">{step.title}</span>
                <RiskBadge risk={step.risk} />
                {current ? <Badge tone="accent">Current step</Badge> : null}
              </div>
              {step.detail ? <p className="mt-1 text-sm break-words whitespace-pre-wrap text-fg-muted">{step.detail}</p> : null}
              {step.risk_note ? (
                <p className="mt-1 text-sm break-words text-fg">
                  <span className="text-fg-muted">Risk note: </span>
                  {step.risk_note}
                </p>
              ) : null}
            </div>
          </li>
        );
      })}
    </ol>
  );
}

export function planProblems(steps: PlanStep[]): string | null {
  if (steps.length === 0) return "A plan needs at least one step.";
  const i = steps.findIndex((s) => !s.title.trim() || !s.risk_note.trim());
  if (i !== -1) return `Step ${i + 1} needs a title and a risk note.`;
  return null;
}

export function PlanEditor({ steps, onChange }: { steps: PlanStep[]; onChange: (steps: PlanStep[]) => void }) {
  const update = (i: number, patch: Partial<PlanStep>) => onChange(steps.map((s, k) => (k === i ? { ...s, ...patch } : s)));
  return (
    <div className="space-y-3">
      {steps.map((step, i) => (
        <fieldset key={i} className="space-y-3 rounded-lg border border-border bg-surface-muted/40 p-3">
          <div className="flex items-center justify-between gap-2">
            <legend className="float-left text-sm font-semibold">Step {i + 1}</legend>
            <Button size="sm" variant="danger-outline" onClick={() => onChange(steps.filter((_, k) => k !== i))} aria-label={`Remove step ${i + 1}`}>
              Remove
            </Button>
          </div>
          <TextField
            label={
              <>
                <span className="sr-only">Step {i + 1} </span>Title
              </>
            }
            value={step.title}
            maxLength={200}
            required
            onChange={(e) => update(i, { title: e.target.value })}
          />
          <TextAreaField
            label={
              <>
                <span className="sr-only">Step {i + 1} </span>Detail (optional)
              </>
            }
            rows={2}
            maxLength={4000}
            value={step.detail ?? ""}
            onChange={(e) => update(i, { detail: e.target.value })}
          />
          <div className="grid gap-3 sm:grid-cols-[10rem_1fr]">
            <SelectField
              label={
                <>
                  <span className="sr-only">Step {i + 1} </span>Risk
                </>
              }
              value={step.risk}
              onChange={(e) => update(i, { risk: e.target.value as Risk })}
            >
              <option value="low">low</option>
              <option value="medium">medium</option>
              <option value="high">high</option>
            </SelectField>
            <TextField
              label={
                <>
                  <span className="sr-only">Step {i + 1} </span>Risk note
                </>
              }
              value={step.risk_note}
              maxLength={2000}
              required
              onChange={(e) => update(i, { risk_note: e.target.value })}
            />
          </div>
        </fieldset>
      ))}
      <Button variant="secondary" size="sm" onClick={() => onChange([...steps, { title: "", risk: "low", risk_note: "" }])}>
        + Add step
      </Button>
    </div>
  );
}

/** Edited steps in the shape submit_plan takes (empty details dropped). */
export function cleanSteps(steps: PlanStep[]): PlanStep[] {
  return steps.map((s) => ({
    title: s.title.trim(),
    ...(s.detail?.trim() ? { detail: s.detail.trim() } : {}),
    risk: s.risk,
    risk_note: s.risk_note.trim(),
  }));
}
