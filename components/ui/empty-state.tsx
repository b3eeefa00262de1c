import type { ReactNode } from "react";
import { cn } from "@/lib/cn";

export function EmptyState({
  icon,
  title,
  children,
  actions,
  className,
}: {
  icon?: ReactNode;
  title: string;
  children?: ReactNode;
  actions?: ReactNode;
  className?: string;
}) {
  return (
    <div
      className={cn("flex flex-col items-center rounded-xl border border-dashed border-border-strong bg-surface px-5 py-10 text-center sm:py-14", className)}
    >
      {icon ? <div className="mb-4 rounded-2xl bg-accent-soft p-3 text-accent">{icon}</div> : null}
      <h2 className="text-base font-semibold text-fg">{title}</h2>
      {children ? <div className="mt-2 max-w-md text-sm text-fg-muted">{children}</div> : null}
      {actions ? <div className="mt-5 flex flex-wrap justify-center gap-2">{actions}</div> : null}
    </div>
  );
}
