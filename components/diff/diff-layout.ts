// How a diff is laid out for reading on a narrow screen: which line-number
// columns it needs, and the hanging indent that keeps a wrapped code line's
// continuation under its own indentation (so wrapping never hides structure).
import type { DiffHunk } from "@/components/diff/parse-diff";

/** Both columns for a change; one for a new (all-added) or deleted (all-removed) file, where the other would be empty. */
export type LineNumberColumns = "both" | "new" | "old";

export function lineNumberColumns(hunks: DiffHunk[]): LineNumberColumns {
  let adds = 0;
  let dels = 0;
  let context = 0;
  for (const h of hunks)
    for (const l of h.lines) {
      if (l.type === "add") adds++;
      else if (l.type === "del") dels++;
      else if (l.type === "context") context++;
    }
  if (context === 0 && dels === 0 && adds > 0) return "new";
  if (context === 0 && adds === 0 && dels > 0) return "old";
  return "both";
}

/** The diff view renders tabs this wide (CSS tab-size), so indentation widths are counted the same way. */
export const DIFF_TAB_SIZE = 4;

/** Width in columns of a line's leading whitespace, tabs advancing to the next tab stop. */
export function leadingIndentWidth(text: string, tabSize = DIFF_TAB_SIZE): number {
  let col = 0;
  for (const ch of text) {
    if (ch === " ") col++;
    else if (ch === "\t") col += tabSize - (col % tabSize);
    else break;
  }
  return col;
}

/** Continuation lines sit this much deeper than the line's own indentation, so they read as a continuation. */
export const HANG_EXTRA = 2;
/** Deep indentation on a 375 px screen would leave a sliver for the code; beyond this the hang stops growing. */
export const MAX_HANG = 16;

/** The hanging indent (in ch) for a wrapped line: its indentation (capped) plus a little. */
export function hangingIndent(text: string, tabSize = DIFF_TAB_SIZE): number {
  return Math.min(leadingIndentWidth(text, tabSize), MAX_HANG) + HANG_EXTRA;
}

/**
 * Styles for a wrapped line: the first line starts at the left edge with its
 * own whitespace as written (pre-wrap), the continuation lines start at the
 * hanging indent. Lines break between words; a single token longer than the
 * line is the only thing broken mid-word (overflow-wrap: break-word).
 */
export function wrappedLineStyle(text: string): { paddingLeft: string; textIndent: string } {
  const hang = hangingIndent(text);
  return { paddingLeft: `${hang}ch`, textIndent: `-${hang}ch` };
}
