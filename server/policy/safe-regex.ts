// Policy regular expressions (`anyArg`) run on RE2JS, a linear-time engine:
// V8's backtracking engine cannot be interrupted, so one pattern like
// `a*a*a*b` against a long argument froze the gateway (issue 9, H2). A
// pattern must compile under RE2 syntax (no backreferences, no lookahead),
// stay small, and only ever sees arguments up to MAX_REGEX_SUBJECT characters.
import { RE2JS } from "re2js";

export const MAX_REGEX_LENGTH = 500;
/** Compiled program size; matching costs about program size × argument length. */
export const MAX_REGEX_PROGRAM = 1000;
/** Longest argument a pattern is matched against; longer ones are judged without it (see policy.ts). */
export const MAX_REGEX_SUBJECT = 4096;

export interface PolicyRegex {
  readonly source: string;
  /** Whether the pattern occurs in `text` (case-insensitive, like the policy's old `new RegExp(s, "i")`). */
  test(text: string): boolean;
}

function compileRe2(source: string): RE2JS {
  return RE2JS.compile(source, RE2JS.CASE_INSENSITIVE);
}

function programSize(re: RE2JS): number {
  // Not in re2js's typings; absent in another version, the length limit still applies.
  const prog = (re as unknown as { re2Input?: { prog?: { numInst?: () => number } } }).re2Input?.prog;
  return typeof prog?.numInst === "function" ? prog.numInst() : 0;
}

/** Null when the pattern is acceptable; otherwise what is wrong with it, in words a policy author can act on. */
export function unsafeRegexReason(source: string): string | null {
  if (source.length > MAX_REGEX_LENGTH) return `the regular expression is longer than ${MAX_REGEX_LENGTH} characters`;
  let re: RE2JS;
  try {
    re = compileRe2(source);
  } catch (error) {
    const detail = (error as Error).message.replace(/^error parsing regexp: /, "");
    const hint = /\\[1-9]|\\k|\(\?[=!]|\(\?<[=!]/.test(source) ? "; backreferences (\\1, \\k<name>) and lookahead ((?=…), (?!…)) are not supported" : "";
    return `not a valid regular expression for Airlock's linear-time engine (RE2 syntax): ${detail}${hint}`;
  }
  const size = programSize(re);
  if (size > MAX_REGEX_PROGRAM) {
    return `the regular expression is too complex (${size} steps, at most ${MAX_REGEX_PROGRAM}); use fewer or smaller counted repeats like {1,300}`;
  }
  return null;
}

/** Compiles a pattern already accepted by unsafeRegexReason. */
export function compilePolicyRegex(source: string): PolicyRegex {
  const re = compileRe2(source);
  return { source, test: (text) => re.matcher(text).find() };
}
