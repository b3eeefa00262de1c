// How a search hit's snippet marks the matched words: two control characters
// around each match, which the page turns into <mark> elements (as React
// text, never as HTML), so a hit's text cannot inject markup.
export const MARK_START = "\u0002";
export const MARK_END = "\u0003";

export interface SnippetPart {
  text: string;
  marked: boolean;
}

/** The snippet split into plain and marked runs of text; stray delimiters are dropped. */
export function snippetParts(snippet: string): SnippetPart[] {
  const parts: SnippetPart[] = [];
  let marked = false;
  let text = "";
  for (const ch of snippet) {
    if (ch === MARK_START || ch === MARK_END) {
      if (text) parts.push({ text, marked });
      text = "";
      marked = ch === MARK_START;
      continue;
    }
    text += ch;
  }
  if (text) parts.push({ text, marked });
  return parts;
}
