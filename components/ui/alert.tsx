import type { ReactNode } from "react";
import { cn } from "@/lib/cn";
import { AlertIcon, CheckIcon, InfoIcon } from "@/components/ui/icons";

type Tone = "error" | "success" | "info" | "warning";

const TONES: Record<Tone, string> = {
  error: "border-danger/40 bg-danger-soft text-danger",
  success: "border-success/40 bg-success-soft text-success",
  info: "border-border bg-surface-muted text-fg",
  warning: "border-warning/50 bg-warning-soft text-fg",
};

/** An inline message. Errors are announced at once (role=alert), the rest politely. */
export function InlineAlert({ tone = "error", title, children, className }: { tone?: Tone; title?: ReactNode; children?: ReactNode; className?: string }) {
  const Icon = tone === "success" ? CheckIcon : tone === "info" ? InfoIcon : AlertIcon;
  return (
    <div role={tone === "error" ? "alert" : "status"} className={cn("flex gap-2.5 rounded-lg border px-3 py-2.5 text-sm", TONES[tone], className)}>
      <Icon className={cn("mt-0.5 shrink-0", tone === "warning" && "text-warning")} size={16} />
      <div className="min-w-0 break-words">
        {title ? <p className="font-semibold">{title}</p> : null}
        {children ? <div className={cn(title && "mt-0.5", tone !== "info" && tone !== "warning" && "text-fg")}>{children}</div> : null}
      </div>
    </div>
  );
}
