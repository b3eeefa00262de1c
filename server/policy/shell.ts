// Shell parsing for run_command. A command line is parsed with a real bash
// grammar (mvdan-sh) and flattened into every simple command that could run —
// inside `&&`, pipes, loops, functions, `$(…)`, `bash -c '…'`, `eval '…'`,
// wrappers like `timeout 5 …` — each flagged with whatever the policy cannot
// see statically. Parsing is pure and synchronous.
import { STACK_TRACE_LIMIT_BEFORE_MVDAN } from "./stack-limit";
import mvdan, { type MvdanSh } from "mvdan-sh";
import { canonicalProgram, interpreterInvocation, interpreterSpec, scanArgs, isSensitiveEnv, unwrapCommand, WRAPPERS } from "./commands";
import { AGENT_HOME, expandTilde, resolveLexically, WORKSPACE_ROOT } from "./paths";

Error.stackTraceLimit = STACK_TRACE_LIMIT_BEFORE_MVDAN;

/** Longest command line the parser accepts. */
export const MAX_COMMAND_BYTES = 64 * 1024;
/** How deep code strings may nest (`bash -c "eval '…'"`). */
export const MAX_CODE_DEPTH = 4;
/** Most sub-commands one command line may expand to. */
export const MAX_PARTS = 256;
const MAX_BRACE_WORDS = 256;
/** Characters brace expansion may produce for one word, intermediate words included. */
const MAX_BRACE_CHARS = 256 * 1024;
const MAX_VAR_CANDIDATES = 8;
const MAX_SPECULATIONS = 16;
/** Longest value a variable is guessed to hold (see assignValue). */
const MAX_GUESSED_VALUE = 4096;

export const SHELL_FLAGS = [
  "command-substitution", // $(…) or `…`
  "process-substitution", // <(…) or >(…)
  "parameter-expansion", // $X, ${X…}
  "arithmetic", // $((…)), ((…)), let
  "dynamic-program", // the program itself comes from an expansion
  "glob-program", // the program is a glob (/bin/r?)
  "program-by-path", // ./ls, /workspace/ls: not a system program
  "eval",
  "source", // source / .
  "exec",
  "trap", // trap 'code' SIGNAL
  "interpreter-code", // code the policy cannot read (python -c, bash -c "$X")
  "inline-shell", // bash -c 'literal': the literal code was parsed and judged
  "script-file", // runs code from a file (bash x.sh, python -m x)
  "pipe-into-shell", // … | sh
  "heredoc-into-shell", // sh <<EOF, sh <<< '…'
  "interactive-shell", // a shell or interpreter with no code at all
  "function-definition",
  "alias-definition",
  "fork-bomb",
  "wrapper", // runs the command in its arguments (env, timeout, nice…)
  "xargs",
  "find-exec",
  "args-from-input", // arguments come from input (xargs, find -exec {})
  "subshell",
  "background",
  "coprocess",
  "in-substitution", // runs inside $(…) or <(…)
  "sensitive-env", // sets PATH, LD_PRELOAD, BASH_ENV…
  "assignment-only",
  "environment-dump", // env, printenv, export -p
  "brace-expansion",
  "unresolved-brace",
  "too-deep",
  "too-many-parts",
  "unknown-construct",
] as const;

export type ShellFlag = (typeof SHELL_FLAGS)[number];

export interface ShellArg {
  /** The word after quote removal and expansion; the source text when dynamic. */
  value: string;
  /** The word as written. */
  text: string;
  /** False when the value depends on run-time expansion. */
  static: boolean;
  /** Unquoted glob characters remain (`*.ts`). */
  glob: boolean;
}

export interface Redirection {
  /** ">", ">>", "<", "<>", ">&", "<&", ">|", "<<", "<<-", "<<<", "&>", "&>>" */
  op: string;
  /** The file descriptor written before the operator ("2" in `2>&1`). */
  fd: string | null;
  /** The literal target path (or here-doc delimiter); the source text when dynamic. */
  target: string;
  static: boolean;
  glob: boolean;
  /** Here-doc or here-string contents; null when they hold expansions. */
  heredoc?: string | null;
}

export interface SimpleCommand {
  /** Source text of this command (for nested or unwrapped commands, a re-quoted rendering). */
  text: string;
  /** The program as written (after quote removal), or null for assignment-only and synthetic parts. */
  program: string | null;
  /** The name rules match on: `ls` for `ls` and `/usr/bin/ls`; null for `./ls`, dynamic programs. */
  name: string | null;
  argv: string[];
  args: ShellArg[];
  redirects: Redirection[];
  assigns: { name: string; value: string | null }[];
  flags: ShellFlag[];
  /** Working directories this command may run in (after `cd`s seen earlier). */
  cwds: string[];
  /** Wrappers this command runs under, outermost first (`["timeout"]`). */
  via: string[];
  /** Where the args of the wrapped command start, when this part is a wrapper. */
  innerIndex?: number;
  /** Nesting depth of code strings (0 = the command line itself). */
  depth: number;
  inPipeline: boolean;
  /** Where nested code came from: "bash -c", "eval", "here-doc into sh", "alias ll"… */
  origin?: string;
  /** Produced by substituting values assigned earlier (`a=r; b=m; $a$b -rf /`). */
  speculative?: boolean;
  /** Name of the function this part defines. */
  defines?: string;
}

export type ParsedCommand =
  { parsed: true; source: string; cwd: string; commands: SimpleCommand[] } | { parsed: false; source: string; cwd: string; error: string };

// ---------------------------------------------------------------------------
// mvdan-sh plumbing

type Node = MvdanSh.Node;
type Slice<T> = MvdanSh.Slice<T>;

let parser: MvdanSh.Parser | null = null;

/** mvdan-sh needs an unlimited stack trace while it runs (see stack-limit.ts). */
function withParserStack<T>(run: () => T): T {
  const before = Error.stackTraceLimit;
  Error.stackTraceLimit = Infinity;
  try {
    return run();
  } finally {
    Error.stackTraceLimit = before;
  }
}

/** Parses with mvdan-sh and returns GopherJS's internal *File (see mvdan-sh.d.ts). */
function parseSource(source: string): MvdanSh.File {
  parser ??= mvdan.syntax.NewParser();
  const p = parser;
  const file = withParserStack(() => p.Parse(source, "command")).__internal_object__;
  // shell.ts reads GopherJS internals (see mvdan-sh.d.ts); if a new mvdan-sh
  // build changes them, fail loudly: the caller turns this into "unparseable" (ask).
  if (!file || !Array.isArray(file.Stmts?.$array)) throw new Error("unexpected mvdan-sh tree layout; was mvdan-sh upgraded?");
  return file;
}

function errorText(error: unknown): string {
  if (error && typeof error === "object" && "Error" in error && typeof (error as MvdanSh.ParseError).Error === "function") {
    return str((error as MvdanSh.ParseError).Error()).replace(/^command:/, "");
  }
  return error instanceof Error ? error.message : String(error);
}

interface GoValue {
  constructor: { string?: string; nil?: unknown };
}

/** The Go type of a syntax node ("CallExpr"); "" for a nil pointer or interface. */
function nodeType(node: unknown): string {
  if (!node || typeof node !== "object") return "";
  const type = (node as GoValue).constructor;
  const name = type?.string;
  if (typeof name !== "string" || node === type.nil || !name.startsWith("*syntax.")) return "";
  return name.slice("*syntax.".length);
}

function present<T>(node: T | null | undefined): node is T {
  return nodeType(node) !== "";
}

function items<T>(slice: Slice<T> | null | undefined): T[] {
  if (!slice || !Array.isArray(slice.$array)) return [];
  return slice.$array.slice(slice.$offset, slice.$offset + slice.$length);
}

const NON_ASCII = /[^\x00-\x7f]/;

/** Go strings arrive as UTF-8 bytes, one JS character per byte. */
function str(goString: string): string {
  return NON_ASCII.test(goString) ? Buffer.from(goString, "latin1").toString("utf8") : goString;
}

/** Syntax nodes visited by walkNodes since the process started: lets tests bound the work a command costs. */
let nodesWalked = 0;
export function shellNodesWalked(): number {
  return nodesWalked;
}

/** Visits every syntax node from `node` down; `visit` returns false to skip a node's children. */
function walkNodes(node: Node, visit: (node: Node) => boolean): void {
  nodesWalked += 1;
  if (!present(node) || !visit(node)) return;
  for (const key of Object.keys(node)) {
    if (key === "$val") continue;
    const value = (node as unknown as Record<string, unknown>)[key];
    if (!value || typeof value !== "object") continue;
    if ("$array" in value) {
      for (const child of items(value as Slice<unknown>)) if (present(child)) walkNodes(child as Node, visit);
    } else if (present(value)) walkNodes(value as Node, visit);
  }
}

interface OpTables {
  binary: Map<number, string>;
  redirect: Map<number, string>;
}
let opTables: OpTables | null = null;

/** Operator codes are Go iota values; learn them from the parser itself rather than hard-coding them. */
function ops(): OpTables {
  if (opTables) return opTables;
  const binary = new Map<number, string>();
  for (const op of ["&&", "||", "|", "|&"]) {
    const cmd = items(parseSource(`a ${op} b`).Stmts)[0]!.Cmd as MvdanSh.BinaryCmd;
    binary.set(cmd.Op, op);
  }
  const redirect = new Map<number, string>();
  const samples: [string, string][] = [
    [">", "a > f"],
    [">>", "a >> f"],
    ["<", "a < f"],
    ["<>", "a <> f"],
    ["<&", "a <& 3"],
    [">&", "a >& 2"],
    [">|", "a >| f"],
    ["<<", "a <<E\nx\nE"],
    ["<<-", "a <<-E\nx\nE"],
    ["<<<", "a <<< w"],
    ["&>", "a &> f"],
    ["&>>", "a &>> f"],
  ];
  for (const [op, sample] of samples) redirect.set(items(items(parseSource(sample).Stmts)[0]!.Redirs)[0]!.Op, op);
  opTables = { binary, redirect };
  return opTables;
}

class Source {
  private static nextId = 0;
  readonly id = Source.nextId++;
  private readonly bytes: Buffer;
  constructor(readonly text: string) {
    this.bytes = Buffer.from(text, "utf8");
  }
  slice(node: Node): string {
    return this.bytes.subarray(node.Pos().offs, node.End().offs).toString("utf8");
  }
  /** A statement's text without the `;` or `&` that ends it. */
  statement(stmt: MvdanSh.Stmt): string {
    let end = present(stmt.Cmd) ? stmt.Cmd.End().offs : stmt.Pos().offs;
    for (const r of items(stmt.Redirs)) end = Math.max(end, r.End().offs);
    return this.bytes.subarray(stmt.Pos().offs, end).toString("utf8");
  }
  key(node: Node): string {
    return `${this.id}:${node.Pos().offs}`;
  }
}

// ---------------------------------------------------------------------------
// Words: quote removal, expansion, brace expansion, splitting

/** Per-character origin: what the shell will still do to it. */
const LIT = 0; // unquoted literal: brace, tilde and glob apply
const QUOTED = 1; // quoted literal: inert
const EXPANDED = 2; // unquoted expansion result: split and glob apply
const QUOTED_EXPANDED = 3; // quoted expansion result: inert

interface QWord {
  chars: string[];
  kinds: number[];
  /** A quote was present, so an empty result is still one (empty) argument. */
  quoted: boolean;
  /** An extended glob (@(…), !(…)) was present. */
  extglob: boolean;
}

function newQWord(): QWord {
  return { chars: [], kinds: [], quoted: false, extglob: false };
}

function pushText(word: QWord, text: string, kind: number): void {
  for (const ch of text) {
    word.chars.push(ch);
    word.kinds.push(kind);
  }
}

interface WordEval {
  text: string;
  /** The word with quotes removed, or null when an expansion could not be resolved. */
  q: QWord | null;
  /** No expansion of any kind. */
  static: boolean;
  flags: Set<ShellFlag>;
  /** Plain parameters ($X, ${X}) referenced; resolvable by substitution. */
  params: Set<string>;
  /** Something other than plain parameters is dynamic ($(…), ${X:-…}, $((…))). */
  opaque: boolean;
  /** Statement lists of $(…), <(…) inside the word. */
  nested: Slice<MvdanSh.Stmt>[];
}

const PLAIN_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const NUMERIC_PARAMS = new Set(["?", "#", "$", "!"]);

/** Decodes the body of $'…' (ANSI-C quoting). */
export function decodeAnsiC(body: string): string {
  let out = "";
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== "\\" || i === body.length - 1) {
      out += c;
      continue;
    }
    const n = body[++i]!;
    const simple: Record<string, string> = {
      a: "\x07",
      b: "\b",
      e: "\x1b",
      E: "\x1b",
      f: "\f",
      n: "\n",
      r: "\r",
      t: "\t",
      v: "\v",
      "\\": "\\",
      "'": "'",
      '"': '"',
      "?": "?",
    };
    if (n in simple) out += simple[n];
    else if (n === "x") {
      const m = /^[0-9a-fA-F]{1,2}/.exec(body.slice(i + 1));
      if (m) {
        out += String.fromCharCode(parseInt(m[0], 16));
        i += m[0].length;
      } else out += "\\x";
    } else if (n === "u" || n === "U") {
      const m = new RegExp(`^[0-9a-fA-F]{1,${n === "u" ? 4 : 8}}`).exec(body.slice(i + 1));
      if (m) {
        const code = parseInt(m[0], 16);
        out += code <= 0x10ffff ? String.fromCodePoint(code) : "";
        i += m[0].length;
      } else out += `\\${n}`;
    } else if (/[0-7]/.test(n)) {
      const m = /^[0-7]{1,3}/.exec(body.slice(i))!;
      out += String.fromCharCode(parseInt(m[0], 8) & 0xff);
      i += m[0].length - 1;
    } else if (n === "c" && i + 1 < body.length) {
      out += String.fromCharCode(body.charCodeAt(++i) & 0x1f);
    } else out += `\\${n}`;
  }
  return out;
}

/** Inside "…" a backslash only escapes $ ` " \ and newline. */
function unescapeDoubleQuoted(text: string): string {
  return text.replace(/\\([$`"\\\n])/g, (_, c: string) => (c === "\n" ? "" : c));
}

/** In a here-doc body with an unquoted delimiter a backslash escapes $ ` \ and newline. */
function unescapeHeredoc(text: string): string {
  return text.replace(/\\([$`\\\n])/g, (_, c: string) => (c === "\n" ? "" : c));
}

/**
 * Expands braces into `out`; false once more than MAX_BRACE_WORDS words or
 * MAX_BRACE_CHARS characters would come out (`{a,b}` × 3000 in one word
 * took 70 s before the expansion stopped early), and the caller then treats
 * the word as unresolved.
 */
function braceExpand(word: QWord, out: QWord[], budget = { chars: MAX_BRACE_CHARS }): boolean {
  budget.chars -= word.chars.length;
  if (out.length >= MAX_BRACE_WORDS || budget.chars < 0) return false;
  const { chars, kinds } = word;
  for (let i = 0; i < chars.length; i++) {
    if (kinds[i] !== LIT || chars[i] !== "{") continue;
    let depth = 0;
    let close = -1;
    const commas: number[] = [];
    for (let j = i + 1; j < chars.length; j++) {
      if (kinds[j] !== LIT) continue;
      if (chars[j] === "{") depth++;
      else if (chars[j] === "}") {
        if (depth === 0) {
          close = j;
          break;
        }
        depth--;
      } else if (chars[j] === "," && depth === 0) commas.push(j);
    }
    if (close === -1) continue;
    const slice = (a: number, b: number): QWord => ({
      chars: chars.slice(a, b),
      kinds: kinds.slice(a, b),
      quoted: word.quoted,
      extglob: word.extglob,
    });
    const concat = (...parts: QWord[]): QWord => ({
      chars: parts.flatMap((p) => p.chars),
      kinds: parts.flatMap((p) => p.kinds),
      quoted: word.quoted,
      extglob: word.extglob,
    });
    const prefix = slice(0, i);
    const suffix = slice(close + 1, chars.length);
    if (commas.length > 0) {
      const bounds = [i, ...commas, close];
      for (let k = 0; k + 1 < bounds.length; k++) {
        if (!braceExpand(concat(prefix, slice(bounds[k]! + 1, bounds[k + 1]!), suffix), out, budget)) return false;
      }
      return true;
    }
    const inner = chars.slice(i + 1, close).join("");
    const sequence = braceSequence(inner);
    if (sequence) {
      for (const item of sequence) {
        const middle = newQWord();
        pushText(middle, item, QUOTED);
        if (!braceExpand(concat(prefix, middle, suffix), out, budget)) return false;
      }
      return true;
    }
  }
  out.push(word);
  return true;
}

function braceSequence(inner: string): string[] | null {
  const numeric = /^(-?\d+)\.\.(-?\d+)(?:\.\.(-?\d+))?$/.exec(inner);
  const alpha = /^([A-Za-z])\.\.([A-Za-z])(?:\.\.(-?\d+))?$/.exec(inner);
  const m = numeric ?? alpha;
  if (!m) return null;
  const from = numeric ? Number(m[1]) : m[1]!.charCodeAt(0);
  const to = numeric ? Number(m[2]) : m[2]!.charCodeAt(0);
  const step = Math.abs(Number(m[3] ?? 1)) || 1;
  const items: string[] = [];
  const dir = from <= to ? 1 : -1;
  for (let v = from; dir > 0 ? v <= to : v >= to; v += dir * step) {
    items.push(numeric ? String(v) : String.fromCharCode(v));
    if (items.length > MAX_BRACE_WORDS) break;
  }
  return items;
}

function hasLiteralBrace(word: QWord): boolean {
  return word.chars.some((c, i) => c === "{" && word.kinds[i] === LIT);
}

function expandTildePrefix(word: QWord, cwd: string): QWord {
  if (word.chars[0] !== "~" || word.kinds[0] !== LIT) return word;
  let end = 0;
  while (end < word.chars.length && word.chars[end] !== "/") {
    if (word.kinds[end] !== LIT) return word;
    end++;
  }
  const prefix = word.chars.slice(0, end).join("");
  const expanded = expandTilde(prefix, cwd);
  if (expanded === prefix) return word;
  const out: QWord = { ...word, chars: [], kinds: [] };
  pushText(out, expanded, QUOTED);
  out.chars.push(...word.chars.slice(end));
  out.kinds.push(...word.kinds.slice(end));
  return out;
}

/** bash (not in POSIX mode) also expands `~` right after the `=` of an assignment-like argument (`dd of=~/x`). */
function expandAssignmentTilde(word: QWord, cwd: string): QWord {
  const eq = word.chars.indexOf("=");
  if (eq < 1 || word.chars[eq + 1] !== "~" || word.kinds[eq + 1] !== LIT) return word;
  const name = word.chars.slice(0, eq);
  if (!PLAIN_NAME.test(name.join("")) || word.kinds.slice(0, eq + 1).some((k) => k !== LIT)) return word;
  const rest = expandTildePrefix({ ...word, chars: word.chars.slice(eq + 1), kinds: word.kinds.slice(eq + 1) }, cwd);
  return { ...word, chars: [...word.chars.slice(0, eq + 1), ...rest.chars], kinds: [...word.kinds.slice(0, eq + 1), ...rest.kinds] };
}

function splitFields(word: QWord): QWord[] {
  const fields: QWord[] = [];
  let current: QWord = { ...word, chars: [], kinds: [] };
  let touched = false;
  for (let i = 0; i < word.chars.length; i++) {
    const c = word.chars[i]!;
    if (word.kinds[i] === EXPANDED && /\s/.test(c)) {
      if (touched) fields.push(current);
      current = { ...word, chars: [], kinds: [], quoted: false };
      touched = false;
      continue;
    }
    current.chars.push(c);
    current.kinds.push(word.kinds[i]!);
    touched = true;
  }
  if (touched || word.quoted) fields.push(current);
  return fields;
}

function isGlobWord(word: QWord): boolean {
  if (word.extglob) return true;
  const active = (i: number): boolean => word.kinds[i] === LIT || word.kinds[i] === EXPANDED;
  return word.chars.some((c, i) => {
    if (!active(i)) return false;
    if (c === "*" || c === "?") return true;
    // `[` only globs when a `]` closes it (`[` alone is the test command).
    return c === "[" && word.chars.some((d, j) => j > i + 1 && d === "]" && active(j));
  });
}

// ---------------------------------------------------------------------------
// The walker

type Stdin = { kind: "pipe" | "heredoc"; script: string | null } | { kind: "file" };

interface Ctx {
  src: Source;
  depth: number;
  /** Flags every command in this context inherits (background, subshell…). */
  flags: readonly ShellFlag[];
  /** Redirections of enclosing compound statements. */
  redirects: readonly Redirection[];
  stdin: Stdin | null;
  inPipeline: boolean;
  via: readonly string[];
  origin?: string;
  speculative: boolean;
}

function quoteArg(value: string): string {
  if (value !== "" && /^[A-Za-z0-9_\-+=.,/:@%^~]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

export function renderArgv(argv: readonly string[]): string {
  return argv.map(quoteArg).join(" ");
}

class Walker {
  readonly commands: SimpleCommand[] = [];
  private readonly vars = new Map<string, string[]>();
  private readonly cwds: string[];
  private readonly visited = new Set<string>();
  private full = false;

  constructor(cwd: string) {
    this.cwds = [cwd];
    // What a command can count on finding in the sandbox environment.
    this.vars.set("HOME", [AGENT_HOME]);
    this.vars.set("PWD", [cwd]);
    this.vars.set("USER", ["agent"]);
    this.vars.set("LOGNAME", ["agent"]);
    this.vars.set("SHELL", ["/bin/bash"]);
  }

  // -- statements ----------------------------------------------------------

  walkFile(file: MvdanSh.File, ctx: Ctx): void {
    this.walkStmts(file.Stmts, ctx);
    // Once MAX_PARTS is reached nothing more is recorded (call() returns at
    // once), so the net would only walk the rest of a huge tree for nothing.
    if (this.full) return;
    // Safety net: every simple command in the tree must have been judged.
    walkNodes(file, (node) => {
      if (nodeType(node) === "CallExpr" && !this.visited.has(ctx.src.key(node))) {
        this.call(node as MvdanSh.CallExpr, null, { ...ctx, flags: [...ctx.flags, "unknown-construct"] }, []);
      }
      return true;
    });
  }

  private walkStmts(stmts: Slice<MvdanSh.Stmt>, ctx: Ctx): void {
    for (const stmt of items(stmts)) this.walkStmt(stmt, ctx);
  }

  private push(cmd: SimpleCommand): boolean {
    if (this.full) return false;
    if (this.commands.length >= MAX_PARTS) {
      this.full = true;
      this.commands.push({ ...cmd, text: "…", flags: [...cmd.flags, "too-many-parts"] });
      return false;
    }
    this.commands.push(cmd);
    return true;
  }

  private synthetic(text: string, program: string | null, ctx: Ctx, flags: Iterable<ShellFlag>, args: ShellArg[] = []): SimpleCommand {
    const cmd: SimpleCommand = {
      text,
      program,
      name: program,
      argv: args.map((a) => a.value),
      args,
      redirects: [...ctx.redirects],
      assigns: [],
      flags: unique([...ctx.flags, ...flags]),
      cwds: [...this.cwds],
      via: [...ctx.via],
      depth: ctx.depth,
      inPipeline: ctx.inPipeline,
    };
    if (ctx.origin) cmd.origin = ctx.origin;
    if (ctx.speculative) cmd.speculative = true;
    return cmd;
  }

  private walkStmt(stmt: MvdanSh.Stmt, ctx: Ctx): void {
    if (this.full) return;
    const flags = new Set<ShellFlag>(ctx.flags);
    if (stmt.Background) flags.add("background");
    if (stmt.Coprocess) flags.add("coprocess");
    const redirects: Redirection[] = [];
    for (const r of items(stmt.Redirs)) {
      const evaluated = this.redirect(r, ctx);
      redirects.push(evaluated.redirection);
      for (const f of evaluated.flags) flags.add(f);
      this.walkNested(evaluated.nested, ctx);
    }
    const own: Ctx = { ...ctx, flags: [...flags] };
    const cmd = stmt.Cmd;
    if (!present(cmd)) {
      // `> file` on its own truncates the file.
      this.push({ ...this.synthetic(ctx.src.statement(stmt), null, own, []), redirects: [...ctx.redirects, ...redirects] });
      return;
    }
    const type = nodeType(cmd);
    if (type === "CallExpr") {
      this.call(cmd as MvdanSh.CallExpr, stmt, own, redirects);
      return;
    }
    const inner: Ctx = { ...own, redirects: [...ctx.redirects, ...redirects], stdin: stdinFrom(redirects) ?? ctx.stdin };
    switch (type) {
      case "BinaryCmd": {
        const bin = cmd as MvdanSh.BinaryCmd;
        const op = ops().binary.get(bin.Op);
        if (op === "|" || op === "|&") this.pipeline(stmt, inner);
        else {
          this.walkStmt(bin.X, inner);
          this.walkStmt(bin.Y, inner);
        }
        return;
      }
      case "IfClause": {
        for (let clause = cmd as MvdanSh.IfClause; present(clause); clause = clause.Else) {
          this.walkStmts(clause.Cond, inner);
          this.walkStmts(clause.Then, inner);
        }
        return;
      }
      case "WhileClause": {
        const loop = cmd as MvdanSh.WhileClause;
        this.walkStmts(loop.Cond, inner);
        this.walkStmts(loop.Do, inner);
        return;
      }
      case "ForClause": {
        const loop = cmd as MvdanSh.ForClause;
        const head = loop.Loop;
        if (nodeType(head) === "WordIter") {
          const iter = head as MvdanSh.WordIter;
          const values: ShellArg[] = [];
          const itemFlags = new Set<ShellFlag>();
          for (const w of items(iter.Items)) {
            const e = this.evalWord(w, inner.src);
            this.walkNested(e.nested, inner);
            for (const f of e.flags) itemFlags.add(f);
            values.push(...this.expand(e));
          }
          const name = str(iter.Name.Value);
          for (const item of values) if (item.static) this.recordVar(name, item.value);
          if (isSensitiveEnv(name)) itemFlags.add("sensitive-env");
          if (itemFlags.size > 0) this.push(this.synthetic(`for ${ctx.src.slice(iter)}`, null, inner, itemFlags, values));
        } else {
          this.arithmetic(head, "for ((…))", inner);
        }
        this.walkStmts(loop.Do, inner);
        return;
      }
      case "CaseClause": {
        const cc = cmd as MvdanSh.CaseClause;
        this.wordsOnly([cc.Word], inner);
        for (const item of items(cc.Items)) {
          this.wordsOnly(items(item.Patterns), inner);
          this.walkStmts(item.Stmts, inner);
        }
        return;
      }
      case "Block":
        this.walkStmts((cmd as MvdanSh.Block).Stmts, inner);
        return;
      case "Subshell":
        this.walkStmts((cmd as MvdanSh.Block).Stmts, { ...inner, flags: unique([...inner.flags, "subshell"]) });
        return;
      case "FuncDecl":
        this.funcDecl(cmd as MvdanSh.FuncDecl, stmt, inner);
        return;
      case "ArithmCmd":
        this.arithmetic(cmd, ctx.src.statement(stmt), inner, "((");
        return;
      case "LetClause":
        this.arithmetic(cmd, ctx.src.statement(stmt), inner, "let");
        return;
      case "TestClause":
        this.testClause(cmd, stmt, inner);
        return;
      case "DeclClause":
        this.declClause(cmd as MvdanSh.DeclClause, stmt, inner);
        return;
      case "TimeClause": {
        const timed = (cmd as MvdanSh.TimeClause).Stmt;
        if (present(timed)) this.walkStmt(timed, inner);
        return;
      }
      case "CoprocClause":
        this.walkStmt((cmd as MvdanSh.CoprocClause).Stmt, { ...inner, flags: unique([...inner.flags, "coprocess"]) });
        return;
      default:
        this.push(this.synthetic(ctx.src.statement(stmt), null, inner, ["unknown-construct"]));
        return;
    }
  }

  private pipeline(stmt: MvdanSh.Stmt, ctx: Ctx): void {
    const stages: MvdanSh.Stmt[] = [];
    const flatten = (s: MvdanSh.Stmt): void => {
      const cmd = s.Cmd;
      if (nodeType(cmd) === "BinaryCmd" && s.Redirs.$length === 0 && !s.Background) {
        const op = ops().binary.get((cmd as MvdanSh.BinaryCmd).Op);
        if (op === "|" || op === "|&") {
          flatten((cmd as MvdanSh.BinaryCmd).X);
          flatten((cmd as MvdanSh.BinaryCmd).Y);
          return;
        }
      }
      stages.push(s);
    };
    const bin = stmt.Cmd as MvdanSh.BinaryCmd;
    flatten(bin.X);
    flatten(bin.Y);
    let previous: string | null = null;
    stages.forEach((stage, index) => {
      const stdin: Stdin | null = index === 0 ? ctx.stdin : { kind: "pipe", script: previous };
      this.walkStmt(stage, { ...ctx, stdin, inPipeline: true });
      previous = this.staticOutput(stage, stdin, ctx.src);
    });
  }

  /** What a pipeline stage prints when that is knowable without running it (`echo …`, `base64 -d`). */
  private staticOutput(stage: MvdanSh.Stmt, stdin: Stdin | null, src: Source): string | null {
    const cmd = stage.Cmd;
    if (nodeType(cmd) !== "CallExpr") return null;
    const call = cmd as MvdanSh.CallExpr;
    const args: string[] = [];
    for (const w of items(call.Args)) {
      const e = this.evalWord(w, src);
      if (!e.static) return null;
      for (const a of this.expand(e)) args.push(a.value);
    }
    const redirects = items(stage.Redirs).map((r) => this.redirect(r, { ...rootCtx(src), flags: [] }).redirection);
    const ownInput = stdinFrom(redirects);
    const input = ownInput ? ("script" in ownInput ? ownInput.script : null) : stdin && "script" in stdin ? stdin.script : null;
    const name = args[0] ? canonicalProgram(args[0], this.cwds) : null;
    const rest = args.slice(1);
    switch (name) {
      case "echo": {
        let newline = true;
        let escapes = false;
        while (rest[0] && /^-[neE]+$/.test(rest[0])) {
          const flag = rest.shift()!;
          if (flag.includes("n")) newline = false;
          if (flag.includes("e")) escapes = true;
        }
        const text = rest.join(" ");
        return (escapes ? decodeAnsiC(text) : text) + (newline ? "\n" : "");
      }
      case "printf":
        if (rest.length === 1 && !rest[0]!.replace(/%%/g, "").includes("%")) return decodeAnsiC(rest[0]!.replace(/%%/g, "%"));
        if ((rest[0] === "%s" || rest[0] === "%s\\n") && rest.length >= 2) {
          return rest.slice(1).join(rest[0] === "%s" ? "" : "\n") + (rest[0] === "%s" ? "" : "\n");
        }
        return null;
      case "cat":
        return rest.length === 0 || (rest.length === 1 && rest[0] === "-") ? input : null;
      case "base64": {
        if (input === null || !rest.some((a) => a === "-d" || a === "--decode" || a === "-D" || /^-[a-z]*d/.test(a))) return null;
        const compact = input.replace(/\s+/g, "");
        if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(compact)) return null;
        return Buffer.from(compact, "base64").toString("utf8");
      }
      case "xxd":
        if (input === null || !rest.includes("-r") || !rest.includes("-p")) return null;
        return /^[0-9a-fA-F\s]*$/.test(input) ? Buffer.from(input.replace(/\s+/g, ""), "hex").toString("utf8") : null;
      case "rev":
        return input === null
          ? null
          : input
              .split("\n")
              .map((l) => [...l].reverse().join(""))
              .join("\n");
      default:
        return null;
    }
  }

  private funcDecl(fn: MvdanSh.FuncDecl, stmt: MvdanSh.Stmt, ctx: Ctx): void {
    const name = str(fn.Name.Value);
    const part = this.synthetic(ctx.src.statement(stmt), null, ctx, ["function-definition"]);
    part.defines = name;
    if (!this.push(part)) return;
    const before = this.commands.length;
    this.walkStmt(fn.Body, ctx);
    const body = this.commands.slice(before);
    // A function that starts itself in a pipe or in the background multiplies without bound.
    if (body.some((p) => p.program === name && (p.inPipeline || p.flags.includes("background")))) {
      part.flags = unique([...part.flags, "fork-bomb"]);
    }
  }

  private arithmetic(node: Node, text: string, ctx: Ctx, program = "for"): void {
    const found = this.wordsIn(node, ctx.src);
    const flags = new Set<ShellFlag>(["arithmetic"]);
    for (const e of found) {
      for (const f of e.flags) flags.add(f);
      this.walkNested(e.nested, ctx);
    }
    this.push(this.synthetic(text, program, ctx, flags, [{ value: program, text: program, static: true, glob: false }]));
  }

  private testClause(node: Node, stmt: MvdanSh.Stmt, ctx: Ctx): void {
    const found = this.wordsIn(node, ctx.src);
    const flags = new Set<ShellFlag>();
    const args: ShellArg[] = [{ value: "[[", text: "[[", static: true, glob: false }];
    for (const e of found) {
      for (const f of e.flags) flags.add(f);
      this.walkNested(e.nested, ctx);
      args.push(...this.expand(e));
    }
    this.push(this.synthetic(ctx.src.statement(stmt), "[[", ctx, flags, args));
  }

  private declClause(decl: MvdanSh.DeclClause, stmt: MvdanSh.Stmt, ctx: Ctx): void {
    const variant = str(decl.Variant.Value);
    const flags = new Set<ShellFlag>();
    const args: ShellArg[] = [{ value: variant, text: variant, static: true, glob: false }];
    const assigns: SimpleCommand["assigns"] = [];
    let names = 0;
    let printing = false;
    for (const a of items(decl.Args)) {
      if (a.Naked && !present(a.Name) && present(a.Value)) {
        const e = this.evalWord(a.Value, ctx.src);
        for (const f of e.flags) flags.add(f);
        this.walkNested(e.nested, ctx);
        for (const arg of this.expand(e)) {
          args.push(arg);
          if (arg.static && /^-[a-zA-Z]*[pfF]/.test(arg.value)) printing = true;
          else if (!arg.static || !arg.value.startsWith("-")) names++;
        }
        continue;
      }
      const name = present(a.Name) ? str(a.Name.Value) : "";
      names++;
      const { value, guess } = this.assignValue(a, ctx, flags);
      if (!a.Naked) assigns.push({ name, value });
      if (!a.Naked && guess !== null) this.recordVar(name, guess);
      if (isSensitiveEnv(name) && !a.Naked) flags.add("sensitive-env");
      args.push({ value: a.Naked ? name : `${name}=${value ?? "…"}`, text: ctx.src.slice(a), static: value !== null || a.Naked, glob: false });
    }
    flags.add(names === 0 || printing ? "environment-dump" : "assignment-only");
    // A nameref (`declare -n ref=PATH`) makes later assignments to ref change PATH.
    if (variant === "nameref" || args.some((a) => a.static && /^-[a-zA-Z]*n/.test(a.value))) flags.add("sensitive-env");
    const part = this.synthetic(ctx.src.statement(stmt), variant, ctx, flags, args);
    part.assigns = assigns;
    this.push(part);
  }

  /** Walks words that are evaluated but run nothing themselves (case subjects and patterns). */
  private wordsOnly(words: readonly MvdanSh.Word[], ctx: Ctx): void {
    for (const w of words) {
      const e = this.evalWord(w, ctx.src);
      this.walkNested(e.nested, ctx);
      const risky = [...e.flags].filter((f) => f !== "parameter-expansion");
      if (risky.length > 0) this.push(this.synthetic(e.text, null, ctx, risky));
    }
  }

  private wordsIn(node: Node, src: Source): WordEval[] {
    const found: WordEval[] = [];
    walkNodes(node, (n) => {
      const t = nodeType(n);
      if (t === "Word") {
        found.push(this.evalWord(n as MvdanSh.Word, src));
        return false;
      }
      if (t === "CmdSubst" || t === "ProcSubst") return false;
      return true;
    });
    return found;
  }

  private walkNested(nested: readonly Slice<MvdanSh.Stmt>[], ctx: Ctx): void {
    for (const stmts of nested) {
      this.walkStmts(stmts, { ...ctx, flags: unique([...ctx.flags, "in-substitution"]), redirects: [], inPipeline: false });
    }
  }

  /** Parses a code string (bash -c, eval, here-doc into sh) and walks it as part of the command. */
  private walkCode(code: string, ctx: Ctx, parent: SimpleCommand, origin: string, speculative = ctx.speculative): boolean {
    if (ctx.depth + 1 > MAX_CODE_DEPTH) {
      parent.flags = unique([...parent.flags, "too-deep"]);
      return false;
    }
    if (Buffer.byteLength(code) > MAX_COMMAND_BYTES || code.includes("\0")) return false;
    let file: MvdanSh.File;
    try {
      file = parseSource(code);
    } catch {
      return false;
    }
    const src = new Source(code);
    this.walkFile(file, {
      src,
      depth: ctx.depth + 1,
      flags: ctx.flags.filter((f) => f === "background" || f === "subshell" || f === "coprocess"),
      redirects: [],
      stdin: null,
      inPipeline: false,
      via: [...parent.via, parent.name ?? parent.program ?? "?"],
      origin,
      speculative,
    });
    return true;
  }

  // -- simple commands -------------------------------------------------------

  /**
   * Evaluates an assignment's value. `value` is set when it is literal;
   * `guess` also when it only uses variables whose values are known.
   */
  private assignValue(a: MvdanSh.Assign, ctx: Ctx, flags: Set<ShellFlag>): { value: string | null; guess: string | null } {
    if (present(a.Array)) {
      for (const elem of items(a.Array.Elems)) {
        if (!present(elem.Value)) continue;
        const e = this.evalWord(elem.Value, ctx.src);
        for (const f of e.flags) flags.add(f);
        this.walkNested(e.nested, ctx);
      }
      return { value: null, guess: null };
    }
    if (!present(a.Value)) return { value: "", guess: "" };
    const e = this.evalWord(a.Value, ctx.src);
    for (const f of e.flags) flags.add(f);
    this.walkNested(e.nested, ctx);
    let q = e.q;
    if (!q && !e.opaque && [...e.params].every((n) => this.vars.get(n)?.length)) {
      const values = new Map([...e.params].map((n) => [n, this.vars.get(n)!.at(-1)!]));
      q = this.evalWord(a.Value, ctx.src, values).q;
    }
    if (!q) return { value: null, guess: null };
    // `X=a; X=$X$X; X=$X$X; …` doubles a guessed value with every statement:
    // without a cap a 16 KB command grew one past V8's largest array and
    // crashed the whole server. A guess only ever makes the policy stricter
    // (the dynamic original still asks), so an over-long one is dropped.
    if (q.chars.length > MAX_GUESSED_VALUE) return { value: null, guess: null };
    // Assignment values are not split or globbed; a leading ~ expands.
    const text = expandTildePrefix(q, this.cwds[0]!).chars.join("");
    return { value: e.static ? text : null, guess: text };
  }

  private recordVar(name: string, value: string): void {
    const list = this.vars.get(name) ?? [];
    if (!list.includes(value)) list.push(value);
    if (list.length > MAX_VAR_CANDIDATES) list.shift();
    this.vars.set(name, list);
  }

  private call(call: MvdanSh.CallExpr, stmt: MvdanSh.Stmt | null, ctx: Ctx, redirects: Redirection[]): void {
    if (this.full) return;
    this.visited.add(ctx.src.key(call));
    const text = stmt ? ctx.src.statement(stmt) : ctx.src.slice(call);
    const flags = new Set<ShellFlag>(ctx.flags);
    const assigns: SimpleCommand["assigns"] = [];
    const guesses: { name: string; guess: string | null }[] = [];
    for (const a of items(call.Assigns)) {
      const name = present(a.Name) ? str(a.Name.Value) : "";
      const { value, guess } = this.assignValue(a, ctx, flags);
      assigns.push({ name, value });
      guesses.push({ name, guess });
      if (isSensitiveEnv(name)) flags.add("sensitive-env");
    }
    const words = items(call.Args).map((w) => this.evalWord(w, ctx.src));
    for (const e of words) {
      for (const f of e.flags) flags.add(f);
      this.walkNested(e.nested, ctx);
    }
    const args = words.flatMap((e) => this.expand(e));
    if (words.some((e) => e.q && hasLiteralBrace(e.q)) && args.length > words.length) flags.add("brace-expansion");
    if (words.some((e) => e.flags.has("unresolved-brace"))) flags.add("unresolved-brace");
    const allRedirects = [...ctx.redirects, ...redirects];

    for (const g of guesses) if (g.guess !== null) this.recordVar(g.name, g.guess);
    if (args.length === 0) {
      if (assigns.length > 0) flags.add("assignment-only");
      const part = this.synthetic(text, null, { ...ctx, flags: [...flags] }, []);
      part.assigns = assigns;
      part.redirects = allRedirects;
      this.push(part);
      return;
    }

    const cmd: SimpleCommand = {
      ...this.synthetic(text, null, { ...ctx, flags: [...flags] }, [], args),
      redirects: allRedirects,
      assigns,
    };
    this.process(cmd, ctx);
    if (!ctx.speculative && words.some((e) => !e.static)) this.speculate(call, words, cmd, ctx, redirects);
  }

  /**
   * Judges what the command would be with the values its variables were
   * given earlier in the same command line (`a=r; b=m; $a$b -rf /`). The
   * dynamic original still asks; these variants can only make it stricter.
   */
  private speculate(call: MvdanSh.CallExpr, words: WordEval[], original: SimpleCommand, ctx: Ctx, redirects: Redirection[]): void {
    if (words.some((e) => e.opaque)) return;
    const names = [...new Set(words.flatMap((e) => [...e.params]))];
    if (names.length === 0 || names.some((n) => !this.vars.get(n)?.length)) return;
    let combos: Map<string, string>[] = [new Map()];
    for (const name of names) {
      const next: Map<string, string>[] = [];
      for (const combo of combos) {
        for (const value of this.vars.get(name)!) {
          if (next.length >= MAX_SPECULATIONS) break;
          next.push(new Map(combo).set(name, value));
        }
      }
      combos = next;
    }
    for (const values of combos) {
      const evaluated = items(call.Args).map((w) => this.evalWord(w, ctx.src, values));
      if (evaluated.some((e) => !e.q)) continue;
      const args = evaluated.flatMap((e) => this.expand(e)).map((a) => ({ ...a, static: true }));
      if (args.length === 0) continue;
      const shown = [...values].map(([k, v]) => `${k}=${quoteArg(v)}`).join(", ");
      const cmd: SimpleCommand = {
        ...this.synthetic(renderArgv(args.map((a) => a.value)), null, { ...ctx, speculative: true }, [], args),
        redirects: [...ctx.redirects, ...redirects],
        assigns: original.assigns,
        origin: ctx.origin ? `${ctx.origin}, with ${shown}` : `with ${shown}`,
        speculative: true,
      };
      this.process(cmd, { ...ctx, speculative: true });
    }
  }

  /** Names the program, records the command, and follows whatever it runs in turn. */
  private process(cmd: SimpleCommand, ctx: Ctx): void {
    const first = cmd.args[0]!;
    cmd.argv = cmd.args.map((a) => a.value);
    cmd.program = first.value;
    const flags = new Set(cmd.flags);
    if (!first.static) flags.add("dynamic-program");
    else if (first.glob) flags.add("glob-program");
    else {
      cmd.name = canonicalProgram(first.value, cmd.cwds);
      if (cmd.name === null) flags.add("program-by-path");
    }
    if (!first.static || first.glob) cmd.name = null;
    cmd.flags = [...flags];
    if (!this.push(cmd)) return;
    const name = cmd.name;
    if (name === null) return;
    const add = (...more: ShellFlag[]): void => {
      cmd.flags = unique([...cmd.flags, ...more]);
    };
    const allStatic = cmd.args.every((a) => a.static);

    switch (name) {
      case "eval":
        add("eval");
        if (allStatic && cmd.args.length > 1) this.walkCode(cmd.argv.slice(1).join(" "), ctx, cmd, "eval");
        return;
      case "source":
      case ".":
        add("source");
        return;
      case "alias":
        add("alias-definition");
        for (const arg of cmd.args.slice(1)) {
          const eq = arg.value.indexOf("=");
          if (arg.static && eq > 0) this.walkCode(arg.value.slice(eq + 1), ctx, cmd, `alias ${arg.value.slice(0, eq)}`, true);
        }
        return;
      case "trap": {
        add("trap");
        const scan = scanArgs(cmd.args, 1, {}, true);
        const code = cmd.args[scan.firstOperand];
        if (code?.static && code.value !== "-" && code.value !== "") this.walkCode(code.value, ctx, cmd, "trap");
        return;
      }
      case "cd":
      case "pushd": {
        const scan = scanArgs(cmd.args, 1, {}, true);
        const target = cmd.args[scan.firstOperand];
        if (!target) this.addCwd(AGENT_HOME);
        else if (target.static && target.value !== "-") this.addCwd(target.value);
        return;
      }
      case "printenv":
        if (cmd.args.length === 1) add("environment-dump");
        return;
      case "set":
        if (cmd.args.length === 1) add("environment-dump");
        return;
      case "printf": {
        // printf -v NAME assigns a variable.
        const scan = scanArgs(cmd.args, 1, { valueOptions: ["-v"] }, true);
        const target = scan.options.find((o) => o.name === "-v")?.value;
        if (target !== undefined && isSensitiveEnv(target.replace(/\[.*$/, ""))) add("sensitive-env");
        return;
      }
      case "find":
        this.findExec(cmd, ctx);
        return;
      default:
        break;
    }

    const wrapper = Object.hasOwn(WRAPPERS, name) ? WRAPPERS[name] : undefined;
    if (wrapper) {
      if (wrapper.kind === "exec") add("exec");
      if (wrapper.kind === "xargs") add("xargs");
      const wrapped = unwrapCommand(wrapper, cmd.args);
      if (wrapped.assignments.some((a) => isSensitiveEnv(a.name))) add("sensitive-env");
      if (wrapped.code) {
        if (wrapped.code.static) {
          if (!this.walkCode(wrapped.code.value, ctx, cmd, `${name} ${wrapper.kind === "shell-string" ? "" : "-c "}`.trim())) add("interpreter-code");
          else add("inline-shell");
        } else add("interpreter-code");
      }
      if (wrapped.split) {
        add("interpreter-code");
        const rest = wrapped.innerStart === undefined ? [] : cmd.argv.slice(wrapped.innerStart);
        if (wrapped.split.static) this.walkCode([wrapped.split.value, ...rest.map(quoteArg)].join(" "), ctx, cmd, `${name} -S`);
        return;
      }
      if (wrapped.innerStart !== undefined) {
        add("wrapper");
        cmd.innerIndex = wrapped.innerStart;
        const inner = this.derive(cmd, cmd.args.slice(wrapped.innerStart), name);
        if (wrapped.chdir !== undefined) {
          const dir = wrapped.chdir;
          inner.cwds = unique(inner.cwds.map((cwd) => resolveLexically(expandTilde(dir, cwd), cwd)));
        }
        if (wrapper.kind === "xargs") inner.flags = unique([...inner.flags, "args-from-input"]);
        this.process(inner, ctx);
      } else if (wrapper.kind === "xargs") {
        const inner = this.derive(cmd, [{ value: "echo", text: "echo", static: true, glob: false }], name);
        inner.flags = unique([...inner.flags, "args-from-input"]);
        this.process(inner, ctx);
      } else if (name === "env" && wrapped.assignments.length === 0 && cmd.args.length === 1) {
        add("environment-dump");
      }
      return;
    }

    const interpreter = interpreterSpec(name);
    if (interpreter) {
      const invocation = interpreterInvocation(interpreter, cmd.args);
      const isShell = interpreter.language === "shell";
      if (invocation.kind === "inline") {
        if (isShell && invocation.code.static) {
          if (this.walkCode(invocation.code.value, ctx, cmd, `${name} -c`)) add("inline-shell");
          else add("interpreter-code");
        } else add("interpreter-code");
      } else if (invocation.kind === "script") add("script-file");
      else {
        const stdin = stdinFrom(cmd.redirects) ?? ctx.stdin;
        if (!stdin) add("interactive-shell");
        else if (stdin.kind === "file") add("script-file");
        else {
          add(stdin.kind === "pipe" ? "pipe-into-shell" : "heredoc-into-shell");
          if (isShell && stdin.script !== null) {
            this.walkCode(stdin.script, ctx, cmd, stdin.kind === "pipe" ? `script piped into ${name}` : `here-doc into ${name}`);
          }
        }
      }
      return;
    }
  }

  /** `find … -exec CMD {} \;`: judge CMD as a command of its own. */
  private findExec(cmd: SimpleCommand, ctx: Ctx): void {
    const args = cmd.args;
    for (let i = 1; i < args.length; i++) {
      const a = args[i]!;
      if (!a.static || !["-exec", "-execdir", "-ok", "-okdir"].includes(a.value)) continue;
      let end = i + 1;
      while (end < args.length && !(args[end]!.static && (args[end]!.value === ";" || args[end]!.value === "+"))) end++;
      cmd.flags = unique([...cmd.flags, "find-exec"]);
      if (end > i + 1) {
        const inner = this.derive(cmd, args.slice(i + 1, end), "find");
        inner.flags = unique([...inner.flags, "args-from-input"]);
        this.process(inner, ctx);
      }
      i = end;
    }
  }

  private derive(outer: SimpleCommand, args: ShellArg[], via: string): SimpleCommand {
    const inner: SimpleCommand = {
      text: renderArgv(args.map((a) => a.value)),
      program: null,
      name: null,
      argv: args.map((a) => a.value),
      args,
      redirects: outer.redirects,
      assigns: [],
      flags: outer.flags.filter((f) => INHERITED_BY_INNER.has(f)),
      cwds: outer.cwds,
      via: [...outer.via, via],
      depth: outer.depth,
      inPipeline: outer.inPipeline,
    };
    if (outer.origin) inner.origin = outer.origin;
    if (outer.speculative) inner.speculative = true;
    return inner;
  }

  private addCwd(target: string): void {
    const expanded = expandTilde(target, this.cwds[0]!);
    for (const cwd of [...this.cwds]) {
      const next = resolveLexically(expanded, cwd);
      if (!this.cwds.includes(next) && this.cwds.length < MAX_VAR_CANDIDATES) this.cwds.push(next);
    }
  }

  // -- words -----------------------------------------------------------------

  private redirect(r: MvdanSh.Redirect, ctx: Ctx): { redirection: Redirection; flags: Set<ShellFlag>; nested: Slice<MvdanSh.Stmt>[] } {
    const op = ops().redirect.get(r.Op) ?? "?";
    const fd = present(r.N) ? str(r.N.Value) : null;
    const flags = new Set<ShellFlag>();
    const nested: Slice<MvdanSh.Stmt>[] = [];
    if (op === "<<" || op === "<<-") {
      const delimiter = present(r.Word) ? ctx.src.slice(r.Word) : "";
      const quotedDelimiter = /['"\\]/.test(delimiter);
      let body: string | null = "";
      for (const part of present(r.Hdoc) ? items(r.Hdoc.Parts) : []) {
        const t = nodeType(part);
        if (t === "Lit") {
          const text = str((part as MvdanSh.Lit).Value);
          body = body === null ? null : body + (quotedDelimiter ? text : unescapeHeredoc(text));
        } else {
          const e = this.evalParts([part], ctx.src, true);
          for (const f of e.flags) flags.add(f);
          nested.push(...e.nested);
          body = null;
        }
      }
      if (body !== null && op === "<<-") body = body.replace(/^\t+/gm, "");
      return {
        redirection: { op, fd, target: delimiter.replace(/['"\\]/g, ""), static: true, glob: false, heredoc: body },
        flags,
        nested,
      };
    }
    const e = present(r.Word) ? this.evalWord(r.Word, ctx.src) : null;
    if (e) {
      for (const f of e.flags) flags.add(f);
      nested.push(...e.nested);
    }
    const expanded = e ? this.expand(e) : [];
    const single = expanded.length === 1 ? expanded[0]! : null;
    const target = single?.static ? single.value : (e?.text ?? "");
    const redirection: Redirection = { op, fd, target, static: !!single?.static, glob: !!single?.glob };
    if (op === "<<<") redirection.heredoc = single?.static ? single.value + "\n" : null;
    return { redirection, flags, nested };
  }

  /** Evaluates a word; with `values`, plain parameters are substituted by those values. */
  private evalWord(word: MvdanSh.Word, src: Source, values?: Map<string, string>): WordEval {
    const e = this.evalParts(items(word.Parts), src, false, values);
    e.text = src.slice(word);
    return e;
  }

  private evalParts(parts: readonly Node[], src: Source, inHeredoc: boolean, values?: Map<string, string>): WordEval {
    const e: WordEval = { text: "", q: newQWord(), static: true, flags: new Set(), params: new Set(), opaque: false, nested: [] };
    const dynamic = (): void => {
      e.static = false;
    };
    const param = (pe: MvdanSh.ParamExp, quoted: boolean): void => {
      dynamic();
      const simple = !pe.Excl && !pe.Length && !pe.Width && !present(pe.Index) && !present(pe.Slice) && !present(pe.Repl) && !present(pe.Exp);
      if (simple && present(pe.Param) && NUMERIC_PARAMS.has(str(pe.Param.Value))) {
        // $? $# $$ $! are numbers the shell sets: unknown, but never paths, globs or code.
        e.opaque = true;
        e.q = null;
        return;
      }
      e.flags.add("parameter-expansion");
      const plain = simple && present(pe.Param) && PLAIN_NAME.test(str(pe.Param.Value));
      // Anything inside ${…} (defaults, patterns, indexes) may hold $(…) too.
      walkNodes(pe, (n) => {
        const t = nodeType(n);
        if (t === "CmdSubst" || t === "ProcSubst") {
          e.flags.add(t === "CmdSubst" ? "command-substitution" : "process-substitution");
          e.nested.push((n as MvdanSh.CmdSubst).Stmts);
          return false;
        }
        if (t === "ArithmExp") e.flags.add("arithmetic");
        return true;
      });
      if (!plain) {
        e.opaque = true;
        e.q = null;
        return;
      }
      const name = str(pe.Param.Value);
      e.params.add(name);
      const value = values?.get(name);
      if (value === undefined) e.q = null;
      else if (e.q) pushText(e.q, value, quoted ? QUOTED_EXPANDED : EXPANDED);
    };
    const opaque = (node: Node, flag: ShellFlag): void => {
      e.flags.add(flag);
      dynamic();
      e.opaque = true;
      e.q = null;
      walkNodes(node, (n) => {
        const t = nodeType(n);
        if (t === "CmdSubst" || t === "ProcSubst") {
          e.flags.add(t === "CmdSubst" ? "command-substitution" : "process-substitution");
          e.nested.push((n as MvdanSh.CmdSubst).Stmts);
          return false;
        }
        if (t === "ParamExp") e.flags.add("parameter-expansion");
        return true;
      });
    };

    for (const part of parts) {
      const t = nodeType(part);
      switch (t) {
        case "Lit": {
          const value = str((part as MvdanSh.Lit).Value);
          if (!e.q) break;
          if (inHeredoc) {
            pushText(e.q, unescapeHeredoc(value), QUOTED);
            break;
          }
          for (let i = 0; i < value.length; i++) {
            const c = value[i]!;
            if (c === "\\" && i + 1 < value.length) {
              const next = value[++i]!;
              if (next !== "\n") pushText(e.q, next, QUOTED);
            } else pushText(e.q, c, LIT);
          }
          break;
        }
        case "SglQuoted": {
          const sq = part as MvdanSh.SglQuoted;
          if (e.q) {
            e.q.quoted = true;
            const body = str(sq.Value);
            pushText(e.q, sq.Dollar ? decodeAnsiC(body) : body, QUOTED);
          }
          break;
        }
        case "DblQuoted": {
          if (e.q) e.q.quoted = true;
          for (const inner of items((part as MvdanSh.DblQuoted).Parts)) {
            const it = nodeType(inner);
            if (it === "Lit") {
              if (e.q) pushText(e.q, unescapeDoubleQuoted(str((inner as MvdanSh.Lit).Value)), QUOTED);
            } else if (it === "ParamExp") param(inner as MvdanSh.ParamExp, true);
            else if (it === "CmdSubst") opaque(inner, "command-substitution");
            else if (it === "ArithmExp") opaque(inner, "arithmetic");
            else opaque(inner, "unknown-construct");
          }
          break;
        }
        case "ParamExp":
          param(part as MvdanSh.ParamExp, inHeredoc);
          break;
        case "CmdSubst":
          opaque(part, "command-substitution");
          break;
        case "ArithmExp":
          opaque(part, "arithmetic");
          break;
        case "ProcSubst":
          opaque(part, "process-substitution");
          break;
        case "ExtGlob":
          if (e.q) {
            e.q.extglob = true;
            pushText(e.q, src.slice(part), LIT);
          }
          break;
        default:
          opaque(part, "unknown-construct");
      }
    }
    return e;
  }

  /** Brace expansion, tilde expansion, field splitting and glob detection of an evaluated word. */
  private expand(e: WordEval): ShellArg[] {
    if (!e.q) return [{ value: e.text, text: e.text, static: false, glob: false }];
    let words: QWord[] = [e.q];
    if (hasLiteralBrace(e.q)) {
      words = [];
      if (!braceExpand(e.q, words)) {
        e.flags.add("unresolved-brace");
        words = [e.q];
      }
    }
    const out: ShellArg[] = [];
    for (const word of words) {
      const cwd = this.cwds[0]!;
      for (const field of splitFields(expandAssignmentTilde(expandTildePrefix(word, cwd), cwd))) {
        out.push({ value: field.chars.join(""), text: e.text, static: true, glob: isGlobWord(field) });
      }
    }
    return out;
  }
}

/** Flags a wrapped command shares with its wrapper. */
const INHERITED_BY_INNER = new Set<ShellFlag>(["background", "coprocess", "subshell", "in-substitution", "args-from-input"]);

function stdinFrom(redirects: readonly Redirection[]): Stdin | undefined {
  let stdin: Stdin | undefined;
  for (const r of redirects) {
    if (r.fd !== null && r.fd !== "0") continue;
    if (r.op === "<<" || r.op === "<<-" || r.op === "<<<") stdin = { kind: "heredoc", script: r.heredoc ?? null };
    else if (r.op === "<" || r.op === "<>") stdin = { kind: "file" };
  }
  return stdin;
}

function unique<T>(items: readonly T[]): T[] {
  return [...new Set(items)];
}

function rootCtx(src: Source): Ctx {
  return { src, depth: 0, flags: [], redirects: [], stdin: null, inPipeline: false, via: [], speculative: false };
}

/**
 * Parses a command line into the simple commands it would run. `cwd` is the
 * container directory the command starts in (default /workspace).
 */
export function parseCommand(source: string, options: { cwd?: string } = {}): ParsedCommand {
  const cwd = options.cwd ?? WORKSPACE_ROOT;
  if (source.includes("\0")) return { parsed: false, source, cwd, error: "the command contains a NUL byte" };
  if (Buffer.byteLength(source) > MAX_COMMAND_BYTES) {
    return { parsed: false, source, cwd, error: `the command is longer than ${MAX_COMMAND_BYTES} bytes` };
  }
  let file: MvdanSh.File;
  try {
    file = parseSource(source);
  } catch (error) {
    return { parsed: false, source, cwd, error: errorText(error) };
  }
  const walker = new Walker(cwd);
  try {
    walker.walkFile(file, rootCtx(new Source(source)));
  } catch (error) {
    return { parsed: false, source, cwd, error: `the command could not be analysed: ${errorText(error)}` };
  }
  return { parsed: true, source, cwd, commands: walker.commands };
}
