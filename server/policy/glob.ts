// Matching of policy path patterns against the paths a call touches. A path
// from a shell word may itself be a glob (`rm -rf /*`, `cat ~/.ss?/id_rsa`),
// so besides plain matching there are two glob-aware modes:
//  - "overlaps": could the subject glob name any path the pattern names?
//    (used for reads and writes: being wrong means being stricter)
//  - "covers":   does the subject name everything the pattern names?
//    (used for destructive targets: `rm -rf *.log` is not `rm -rf *`, and
//    `rm -rf node_modules` is not `rm -rf /workspace/*`)
// and, for a rule's exceptions, "within": is all the subject names excepted?
import picomatch from "picomatch";
import { AGENT_HOME } from "./paths";

/** A path a command touches. `glob` marks unquoted glob characters in it. */
export interface PathRef {
  path: string;
  glob: boolean;
}

export type PathMatchMode = "overlaps" | "covers";

export interface CompiledGlob {
  source: string;
  expanded: string;
  test: (path: string) => boolean;
  segments: string[];
}

const GLOB_CHARS = /[*?[]/;
const segmentGlobCache = new Map<string, boolean>();

/** Expands a leading `~` in a policy pattern to the agent's home. */
export function expandPatternHome(pattern: string): string {
  if (pattern === "~") return AGENT_HOME;
  if (pattern.startsWith("~/")) return AGENT_HOME + pattern.slice(1);
  return pattern;
}

export function compileGlob(pattern: string): CompiledGlob {
  const expanded = expandPatternHome(pattern);
  return {
    source: pattern,
    expanded,
    test: picomatch(expanded, { dot: true }),
    segments: expanded.split("/").filter((s) => s !== ""),
  };
}

function isPatternGlob(segment: string): boolean {
  let known = segmentGlobCache.get(segment);
  if (known === undefined) {
    known = segment === "**" || picomatch.scan(segment).isGlob;
    if (segmentGlobCache.size > 10_000) segmentGlobCache.clear();
    segmentGlobCache.set(segment, known);
  }
  return known;
}

/** A literal stand-in for a glob segment, to ask "could these two globs meet?". */
function representative(segment: string): string {
  return segment
    .replace(/\[!?\^?(.)[^\]]*\]/g, "$1")
    .replace(/[@!+]\(([^|)]*)[^)]*\)/g, "$1")
    .replace(/[*?]/g, "x");
}

function segmentsMeet(subject: string, subjectIsGlob: boolean, pattern: string): boolean {
  const subjectGlob = subjectIsGlob && GLOB_CHARS.test(subject);
  const patternGlob = isPatternGlob(pattern);
  if (!subjectGlob && !patternGlob) return subject === pattern;
  if (!subjectGlob) return picomatch.isMatch(subject, pattern, { dot: true });
  // The shell's `*` does not match a leading dot (no dotglob), hence dot: false.
  if (!patternGlob) return picomatch.isMatch(pattern, subject, { dot: false });
  // A bare wildcard (`cat *`) is not taken as aiming at a name pattern such as
  // `id_rsa*` or `*.pem`; `cat *.pem` or `cat id*` is.
  if (isWildcardOnly(subject) && /[^*?.[\]]/.test(pattern.replace(/\[[^\]]*\]/g, ""))) return false;
  return picomatch.isMatch(representative(pattern), subject, { dot: false }) || picomatch.isMatch(representative(subject), pattern, { dot: true });
}

function overlaps(subject: string[], subjectIsGlob: boolean, pattern: string[]): boolean {
  const memo = new Map<number, boolean>();
  const go = (i: number, j: number): boolean => {
    const key = i * (pattern.length + 1) + j;
    const cached = memo.get(key);
    if (cached !== undefined) return cached;
    let result: boolean;
    if (i === subject.length && j === pattern.length) result = true;
    else if (j < pattern.length && pattern[j] === "**") {
      result = go(i, j + 1) || (i < subject.length && go(i + 1, j));
    } else if (i === subject.length || j === pattern.length) result = false;
    else result = segmentsMeet(subject[i]!, subjectIsGlob, pattern[j]!) && go(i + 1, j + 1);
    memo.set(key, result);
    return result;
  };
  return go(0, 0);
}

function isWildcardOnly(segment: string): boolean {
  if (!GLOB_CHARS.test(segment)) return false;
  return /^[*?.]*$/.test(segment.replace(/\[[^\]]*\]/g, ""));
}

function segmentsOf(path: string): string[] {
  return path.split("/").filter((s) => s !== "");
}

/**
 * Does the subject name everything the pattern names? True when the subject
 * is the pattern's path, an ancestor of it, or a glob whose wildcard-only
 * segments (`*`, `.*`, `???`) stand where the pattern has wildcards.
 */
function covers(ref: PathRef, glob: CompiledGlob): boolean {
  const subject = segmentsOf(ref.path);
  const pattern = glob.segments;
  for (let i = 0; ; i++) {
    if (i === subject.length) return true; // the subject is an ancestor of (or is) everything left
    if (i === pattern.length) return false; // the subject names something narrower
    const s = subject[i]!;
    const p = pattern[i]!;
    if (p === "**") return false;
    const subjectGlob = ref.glob && GLOB_CHARS.test(s);
    const patternGlob = isPatternGlob(p);
    if (subjectGlob && isWildcardOnly(s)) continue;
    if (patternGlob) return false;
    if (subjectGlob ? !picomatch.isMatch(p, s, { dot: false }) : s !== p) return false;
  }
}

/** Is everything the subject names matched by the pattern? (used for `except`) */
function within(ref: PathRef, glob: CompiledGlob): boolean {
  if (!ref.glob) return glob.test(ref.path);
  const subject = segmentsOf(ref.path);
  const pattern = glob.segments;
  for (let i = 0; i < subject.length; i++) {
    const p = pattern[i];
    if (p === undefined) return false;
    if (p === "**") return true;
    const s = subject[i]!;
    const subjectGlob = GLOB_CHARS.test(s);
    if (!subjectGlob) {
      if (isPatternGlob(p) ? !picomatch.isMatch(s, p, { dot: true }) : s !== p) return false;
    } else if (p !== "*") return false;
  }
  return subject.length === pattern.length || pattern[subject.length] === "**";
}

export type PathRelation = PathMatchMode | "within";

export function pathMatches(ref: PathRef, glob: CompiledGlob, relation: PathRelation): boolean {
  if (relation === "covers") return covers(ref, glob);
  if (relation === "within") return within(ref, glob);
  if (!ref.glob) return glob.test(ref.path);
  return overlaps(segmentsOf(ref.path), true, glob.segments);
}

const programGlobCache = new Map<string, (name: string) => boolean>();

/** Program lists may hold globs (`mkfs*`); plain names compare exactly. */
export function programMatches(name: string, patterns: readonly string[]): boolean {
  for (const pattern of patterns) {
    if (pattern === name) return true;
    if (!GLOB_CHARS.test(pattern)) continue;
    let test = programGlobCache.get(pattern);
    if (!test) {
      test = picomatch(pattern, { dot: true });
      programGlobCache.set(pattern, test);
    }
    if (test(name)) return true;
  }
  return false;
}
