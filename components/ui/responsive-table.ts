// Class names for tables that turn into stacked cards below the md breakpoint.
// One markup for both layouts: each <td> carries data-label, shown on phones.
import { cn } from "@/lib/cn";

export const rt = {
  wrapper: "md:overflow-x-auto md:rounded-xl md:border md:border-border md:bg-surface",
  table: "w-full text-sm max-md:block",
  thead: "max-md:hidden",
  th: "px-3 py-2.5 text-left text-xs font-medium tracking-wide text-fg-muted uppercase",
  tbody: "max-md:block max-md:space-y-2.5",
  row: cn(
    "md:border-t md:border-border",
    "max-md:flex max-md:flex-col max-md:rounded-xl max-md:border max-md:border-border max-md:bg-surface max-md:px-3.5 max-md:py-2.5",
  ),
  cell: cn(
    "align-middle md:px-3 md:py-2.5",
    "max-md:flex max-md:min-w-0 max-md:items-center max-md:justify-between max-md:gap-4 max-md:py-1",
    "max-md:before:shrink-0 max-md:before:text-xs max-md:before:text-fg-muted max-md:before:content-[attr(data-label)]",
  ),
  /** A cell without a phone label (the card's title line or its actions). */
  bareCell: "align-middle md:px-3 md:py-2.5 max-md:py-1",
};
