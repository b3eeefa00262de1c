"use client";
// One-tap reasons for a denial (a phone keyboard is slow): a chip fills the
// reason field, which stays editable.

const REASONS = {
  tool: ["Too risky", "Not in the plan", "Wrong file", "Use a safer command", "Not needed for the task"],
  plan: ["Too risky", "Too broad: do less", "Missing a test step", "Not what the task asks"],
  step: ["Wrong direction", "Enough for now", "Check with me first"],
} as const;

export function DenyReasonChips({ kind, value, onPick }: { kind: keyof typeof REASONS; value: string; onPick: (reason: string) => void }) {
  return (
    <div role="group" aria-label="Common reasons" className="flex flex-wrap gap-1.5" data-testid="deny-reason-chips">
      {REASONS[kind].map((r) => (
        <button
          key={r}
          type="button"
          aria-pressed={value.trim() === r}
          onClick={() => onPick(r)}
          className="inline-flex min-h-9 items-center rounded-full border border-border-strong bg-surface px-3 text-[13px] font-medium text-fg hover:bg-surface-muted aria-pressed:border-danger aria-pressed:bg-danger-soft aria-pressed:text-danger"
        >
          {r}
        </button>
      ))}
    </div>
  );
}
