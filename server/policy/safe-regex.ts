// A conservative check for regular expressions that could backtrack
// catastrophically in V8 (which cannot interrupt a running match, so one bad
// `anyArg` pattern would freeze the gateway). Refused: nested quantifiers
// (`(a+)+`, `(\w*)*`, `(x?){8}`), quantified alternations whose branches can
// match the same text (`(a|a)*`, `(a|ab)+`, `(|x)*`), backreferences, and
// very long patterns. Legitimate policy regexes rarely need any of these.

export const MAX_REGEX_LENGTH = 500;

interface Group {
  /** A quantifier appears somewhere inside (at any depth). */
  quantified: boolean;
  /** Top-level alternatives of the group, as source text. */
  branches: string[];
  branchStart: number;
  start: number;
}

/** Reads a quantifier at `i`; returns its length and whether it repeats without a small bound. */
function quantifierAt(source: string, i: number): { length: number; repeats: boolean } | null {
  const c = source[i];
  let length = 0;
  let repeats = false;
  if (c === "*" || c === "+") {
    length = 1;
    repeats = true;
  } else if (c === "?") {
    length = 1;
  } else if (c === "{") {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(source.slice(i));
    if (!m) return null;
    length = m[0].length;
    const max = m[2] === undefined ? Number(m[1]) : m[3] === "" ? Infinity : Number(m[3]);
    repeats = max > 1;
  } else return null;
  if (source[i + length] === "?" || source[i + length] === "+") length += 1; // lazy or possessive-looking suffix
  return { length, repeats };
}

function branchesOverlap(branches: string[]): boolean {
  const plain = branches;
  for (let a = 0; a < plain.length; a++) {
    if (plain[a] === "") return true;
    for (let b = 0; b < plain.length; b++) {
      if (a === b) continue;
      const x = plain[a]!;
      const y = plain[b]!;
      if (x === y || y.startsWith(x)) return true;
      // Branches starting with a class, a dot or an escape may match the same character: be conservative.
      if (/^(\.|\\[dDwWsS]|\[)/.test(x) || /^(\.|\\[dDwWsS]|\[)/.test(y)) return true;
      if (x[0] === y[0]) return true;
    }
  }
  return false;
}

/**
 * Null when the pattern is acceptable; otherwise why it is refused. The pattern
 * must already compile (`new RegExp(source)`).
 */
export function unsafeRegexReason(source: string): string | null {
  if (source.length > MAX_REGEX_LENGTH) return `the regular expression is longer than ${MAX_REGEX_LENGTH} characters`;
  const stack: Group[] = [{ quantified: false, branches: [], branchStart: 0, start: 0 }];
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === "\\") {
      const next = source[i + 1] ?? "";
      if (/[1-9]/.test(next) || (next === "k" && source[i + 2] === "<")) {
        return "backreferences (\\1, \\k<name>) can make matching take exponential time";
      }
      i += 1;
      continue;
    }
    if (c === "[") {
      // Skip the character class; `]` right after `[` or `[^` is literal.
      let j = i + 1;
      if (source[j] === "^") j += 1;
      if (source[j] === "]") j += 1;
      while (j < source.length && source[j] !== "]") j += source[j] === "\\" ? 2 : 1;
      i = j;
      continue;
    }
    if (c === "(") {
      // (?:…) (?=…) (?!…) (?<=…) (?<!…) (?<name>…): the prefix is not a quantifier.
      const prefix = /^\?(?::|=|!|<=|<!|<[A-Za-z_$][\w$]*>)/.exec(source.slice(i + 1));
      const bodyStart = i + 1 + (prefix ? prefix[0].length : 0);
      stack.push({ quantified: false, branches: [], branchStart: bodyStart, start: i });
      i = bodyStart - 1;
      continue;
    }
    if (c === "|") {
      const top = stack.at(-1)!;
      top.branches.push(source.slice(top.branchStart, i));
      top.branchStart = i + 1;
      continue;
    }
    if (c === ")") {
      const group = stack.pop();
      if (!group || stack.length === 0) return null; // unbalanced: RegExp would have refused it
      group.branches.push(source.slice(group.branchStart, i));
      const q = quantifierAt(source, i + 1);
      const parent = stack.at(-1)!;
      if (q) {
        const text = source.slice(group.start, i + 1 + q.length);
        if (q.repeats && group.quantified) {
          return `the nested quantifier in ${text} can backtrack catastrophically; quantify the inner or the outer part, not both`;
        }
        if (q.repeats && group.branches.length > 1 && branchesOverlap(group.branches)) {
          return `the repeated alternation ${text} has branches that can match the same text, which can backtrack catastrophically`;
        }
        parent.quantified = true;
        i += q.length;
      }
      if (group.quantified) parent.quantified = true;
      continue;
    }
    const q = quantifierAt(source, i);
    if (q) {
      stack.at(-1)!.quantified = true;
      i += q.length - 1;
    }
  }
  return null;
}
