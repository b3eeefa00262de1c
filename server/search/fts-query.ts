// Turns what a person types into an FTS5 query that can never be a syntax
// error: every whitespace-separated word becomes a quoted phrase (FTS5's
// operators, column filters, NEAR, ^, * and parentheses are then plain text),
// words are ANDed, and the last one matches as a prefix (search as you type).

/** At most this many words of a query are used. */
export const MAX_QUERY_TERMS = 12;

/**
 * The FTS5 MATCH expression for a person's query, or null when it holds
 * nothing searchable (only punctuation): the caller returns no hits then.
 */
export function ftsMatchExpression(q: string): string | null {
  const words = q
    .split(/\s+/u)
    // A chunk with no letter or digit tokenizes to nothing: an empty phrase.
    .filter((w) => /[\p{L}\p{N}]/u.test(w))
    .slice(0, MAX_QUERY_TERMS);
  if (words.length === 0) return null;
  return words.map((w, i) => `"${w.replace(/"/g, '""')}"${i === words.length - 1 ? "*" : ""}`).join(" ");
}

/**
 * An FTS5 expression matching passages with ANY of the words (quoted, so
 * never a syntax error); bm25 then ranks passages holding more, and rarer,
 * of them first. For search_docs, whose queries are questions in prose.
 */
export function ftsAnyOfExpression(terms: string[]): string | null {
  const words = terms.filter((w) => /[\p{L}\p{N}]/u.test(w)).slice(0, MAX_QUERY_TERMS);
  if (words.length === 0) return null;
  return words.map((w) => `"${w.replace(/"/g, '""')}"`).join(" OR ");
}
