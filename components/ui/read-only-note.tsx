// The line a read-only view shows instead of greyed-out inputs: who may change
// what is shown (the text comes from whoMayChange in lib/permissions.ts).
import { LockIcon } from "@/components/ui/icons";
import { cn } from "@/lib/cn";

export function ReadOnlyNote({ children, className }: { children: string; className?: string }) {
  return (
    <p role="note" data-testid="read-only-note" className={cn("flex items-start gap-2 text-sm text-fg-muted", className)}>
      <LockIcon size={15} className="mt-0.5 shrink-0" aria-hidden="true" />
      <span>{children}</span>
    </p>
  );
}
