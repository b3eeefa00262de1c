import { cn } from "@/lib/cn";
import { outcomeMeta } from "@/components/runs/run-state";

const TONES = {
  neutral: "bg-surface-muted text-fg-muted ring-border",
  accent: "bg-accent-soft text-accent ring-accent/25",
  success: "bg-success-soft text-success ring-success/25",
  danger: "bg-danger-soft text-danger ring-danger/25",
  // Waiting states must stand out in a list: solid, with a pulsing dot.
  warning: "bg-warning text-white ring-warning dark:text-bg",
  // A success claim with denied calls: amber, never green.
  caution: "bg-warning-soft text-warning ring-warning/40",
} as const;

export function RunStateBadge({
  state,
  deniedCalls = 0,
  className,
  size = "sm",
}: {
  state: string;
  /** Calls the policy or a reviewer denied: a "succeeded" run with denials reads as finished, not succeeded. */
  deniedCalls?: number;
  className?: string;
  size?: "sm" | "md";
}) {
  const meta = outcomeMeta(state, deniedCalls);
  return (
    <span
      title={meta.help}
      data-state={state}
      data-outcome={meta.tone === "caution" ? "success-with-denials" : undefined}
      className={cn(
        "inline-flex items-center gap-1.5 font-medium ring-1 ring-inset",
        // The long "Finished — the agent reports success · …" may wrap on a phone.
        meta.tone === "caution" ? "rounded-lg text-left" : "rounded-full whitespace-nowrap",
        size === "md" ? "px-2.5 py-1 text-[13px]" : "px-2 py-0.5 text-xs",
        TONES[meta.tone],
        className,
      )}
    >
      {meta.waiting || state === "running" || state === "starting" || state === "planning" ? (
        <span aria-hidden="true" className="relative flex size-2">
          <span className="absolute inline-flex size-full animate-ping rounded-full bg-current opacity-60" />
          <span className="relative inline-flex size-2 rounded-full bg-current" />
        </span>
      ) : null}
      {meta.label}
    </span>
  );
}
