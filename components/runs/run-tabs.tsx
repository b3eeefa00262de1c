// The run's sub-pages as a row of tabs: real links, the current one marked
// with aria-current; the row scrolls sideways on a narrow phone.
import Link from "next/link";
import { cn } from "@/lib/cn";

export type RunTab = "activity" | "files" | "timeline" | "checkpoints";

const TABS: { tab: RunTab; label: string; suffix: string }[] = [
  { tab: "activity", label: "Activity", suffix: "" },
  { tab: "files", label: "Files changed", suffix: "/files" },
  { tab: "timeline", label: "Timeline", suffix: "/timeline" },
  { tab: "checkpoints", label: "Checkpoints", suffix: "/checkpoints" },
];

export function RunTabs({ runId, current, className }: { runId: string; current: RunTab; className?: string }) {
  return (
    <nav aria-label="Run pages" className={cn("-mx-1 overflow-x-auto border-b border-border px-1", className)} data-testid="run-tabs">
      <ul className="flex min-w-max gap-1">
        {TABS.map(({ tab, label, suffix }) => {
          const active = tab === current;
          return (
            <li key={tab}>
              <Link
                href={`/runs/${runId}${suffix}`}
                // No prefetch: the run pages are live and heavy, and four prefetches per run page add load for nothing.
                prefetch={false}
                aria-current={active ? "page" : undefined}
                className={cn(
                  "-mb-px inline-flex min-h-10 items-center border-b-2 px-3 text-sm font-medium whitespace-nowrap",
                  active ? "border-accent text-fg" : "border-transparent text-fg-muted hover:border-border-strong hover:text-fg",
                )}
              >
                {label}
              </Link>
            </li>
          );
        })}
      </ul>
    </nav>
  );
}
