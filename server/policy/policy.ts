// The policy engine: a policy is plain data (rules with an id, a match, an
// outcome and a reason); `decide` evaluates it for one normalised tool call.
// deny beats ask beats allow; a compound command is as strict as its
// strictest part. Risk comes only from these rules, never from the model.
import { armsPhrase } from "./arming";
import { commandEffects, hasOption, subcommandOf, type CommandEffects } from "./commands";
import { DEFAULT_POLICY } from "./default-policy";
import { compileGlob, pathMatches, programMatches, type CompiledGlob, type PathMatchMode, type PathRef } from "./glob";
import { AGENT_HOME, isWithin, normaliseWorkspacePath, resolveLexically, WORKSPACE_ROOT } from "./paths";
import { compilePolicyRegex, MAX_REGEX_SUBJECT, type PolicyRegex } from "./safe-regex";
import { effectPhrase, judgeReadOnly, type Finding } from "./readonly";
import { parseCommand, type ParsedCommand, type ShellArg, type ShellFlag, type SimpleCommand } from "./shell";
import { hostForJudging } from "../egress/addresses";

export type Verdict = "allow" | "ask" | "deny";

export const VERDICTS: readonly Verdict[] = ["allow", "ask", "deny"];

const RANK: Record<Verdict, number> = { allow: 0, ask: 1, deny: 2 };

export interface Decision {
  verdict: Verdict;
  /** Stable id of the rule that decided ("default" when none matched). */
  rule: string;
  /** One or two sentences a reviewer understands. */
  reason: string;
  /** Per sub-command decisions of a run_command call. */
  parts?: Decision[];
  requiredApprovals?: number;
  allowSelfApproval?: boolean;
  /** Minimum role of each approver ("reviewer" unless a rule asks for "admin"). */
  approverRole?: ApproverRole;
  /** The sub-command a part decision is about. */
  command?: string;
  /** Where a nested sub-command came from ("bash -c", "eval", "with a=r, b=m"). */
  origin?: string;
  /** The part was found by substituting values assigned earlier in the command. */
  speculative?: boolean;
}

export const POLICY_TOOLS = [
  "read_file",
  "list_files",
  "search_files",
  "write_file",
  "edit_file",
  "run_command",
  "run_tests",
  "install_package",
  "http_fetch",
  "request_secret",
  "search_docs",
  "submit_plan",
  "finish",
] as const;

export type PolicyToolName = (typeof POLICY_TOOLS)[number];

/**
 * A tool call as the policy sees it: paths already normalised to absolute
 * container paths; run_command's command parsed (a string is parsed here).
 * Other argument fields may ride along; the policy ignores them.
 */
export type ToolCallForPolicy =
  | { tool: "read_file"; path: string }
  | { tool: "list_files"; path?: string }
  | { tool: "search_files"; path?: string; pattern?: string; glob?: string }
  | { tool: "write_file"; path: string }
  | { tool: "edit_file"; path: string }
  | { tool: "run_command"; command: ParsedCommand | string; cwd?: string }
  | { tool: "run_tests" }
  | { tool: "install_package"; manager: string; packages: string[] }
  | { tool: "http_fetch"; url: string; method?: string }
  | { tool: "request_secret"; name: string; reason?: string }
  | { tool: "search_docs"; query?: string }
  | { tool: "submit_plan" }
  | { tool: "finish" };

// ---------------------------------------------------------------------------
// Policy data

/** Globs over normalised absolute paths (`~` is the agent's home). */
export interface PathMatch {
  any?: string[];
  except?: string[];
  /** How a glob in the call's path is judged; see glob.ts. Default "overlaps". */
  mode?: PathMatchMode;
}

export const POLICY_CHECKS = [
  "git-config-write",
  "kill-all-processes",
  "read-only-options",
  "option-effect",
  "option-runs-program",
  "unknown-option",
  "package-config-write",
] as const;

/**
 * How risky a call is, as Airlock works it out (never as the model claims):
 * low = only reads; medium = changes the workspace; high = reaches the
 * network, installs, asks for secrets, runs code the policy cannot read or
 * writes outside the workspace.
 */
export const RISKS = ["low", "medium", "high"] as const;
export type Risk = (typeof RISKS)[number];

export const APPROVER_ROLES = ["reviewer", "admin"] as const;
export type ApproverRole = (typeof APPROVER_ROLES)[number];
export type PolicyCheck = (typeof POLICY_CHECKS)[number];

/** Every field present must match (AND); list fields match when any entry does. */
export interface RuleMatch {
  /** Whole-command rules: the command could not be parsed, or has nothing to run. */
  parse?: "error" | "empty";
  /** Canonical program names (globs allowed). `./ls` never matches "ls". */
  programs?: string[];
  /** The first operand after global options: `git status`, `systemctl reboot`. */
  subcommands?: string[];
  /** Any of these options: "-r" also inside clusters (-rf); "--long" also as --long=…; "-exec" exactly. */
  anyOption?: string[];
  /** None of these options. */
  noOption?: string[];
  /** Any literal argument matching one of these regular expressions (case-insensitive). */
  anyArg?: string[];
  /** Any of these shell flags (see SHELL_FLAGS). */
  flags?: ShellFlag[];
  /** A named check built into Airlock, for what globs and regexes cannot say. */
  check?: PolicyCheck;
  /** Files whose contents the call reads. */
  reads?: PathMatch;
  /** Files the call writes, moves or deletes. */
  writes?: PathMatch;
  /** Files read or written (`reads` or `writes`). */
  paths?: PathMatch;
  /** Anything the call touches, including paths it only lists or stats (ls, stat, find). */
  touches?: PathMatch;
  /** Directories searched or listed recursively. */
  recursiveReads?: PathMatch;
  /** http_fetch: scheme, host (globs) and port (the scheme's default when the URL names none). */
  url?: { schemes?: string[]; exceptSchemes?: string[]; hosts?: string[]; ports?: number[] };
  /** The call's risk as Airlock works it out (see RISKS). */
  risk?: Risk[];
  /** install_package */
  managers?: string[];
  /** request_secret: globs over secret names. */
  secrets?: string[];
}

export interface PolicyRule {
  /** Stable id shown with every decision; never reuse one for a different meaning. */
  id: string;
  description: string;
  tools: PolicyToolName[];
  match: RuleMatch;
  outcome: Verdict;
  /**
   * Reason template. Placeholders: {command} {program} {path} {target} {flag}
   * {tool} {url} {host} {scheme} {manager} {packages} {secret} {error}
   * {option} {effect} (the option-effect and unknown-option checks).
   * {arms} (what a write to an arming configuration file arms, see arming.ts).
   */
  reason: string;
  requiredApprovals?: number;
  allowSelfApproval?: boolean;
  /** ask: the minimum role of each approver (default "reviewer"). */
  approverRole?: ApproverRole;
  /**
   * allow: ask rules this rule supersedes when both match (earned autonomy:
   * "allow `npm test` although commands are usually asked"). Never deny rules.
   */
  overrides?: string[];
  /** Calls this rule is about and the verdict the whole policy must give them; checked on save and in CI. */
  examples?: RuleExample[];
  /** Where a promoted rule came from (the approvals and reviewers behind it). */
  provenance?: RuleProvenance;
}

export interface RuleExample {
  tool?: PolicyToolName;
  /** Shorthands: `command` (run_command), `path` (file tools), `url` (http_fetch). */
  command?: string;
  path?: string;
  url?: string;
  args?: Record<string, unknown>;
  expect: Verdict;
}

export interface RuleProvenance {
  proposal: string;
  approvals: string[];
  proposedBy: string;
  acceptedBy: string[];
  acceptedAt: string;
  note?: string;
}

export interface Policy {
  id: string;
  name: string;
  description: string;
  /** What happens when no rule matches. */
  default: { verdict: Verdict; reason: string };
  rules: PolicyRule[];
  /** Earned autonomy: how many reviewers (besides the proposer) must accept a rule proposal when no admin does. */
  promotion?: { requiredReviewers: number };
}

// ---------------------------------------------------------------------------
// Compilation (once per policy object)

interface CompiledPathMatch {
  any: CompiledGlob[];
  except: CompiledGlob[];
  mode: PathMatchMode;
}

interface CompiledRule {
  rule: PolicyRule;
  index: number;
  tools: Set<PolicyToolName>;
  anyArg?: PolicyRegex[];
  reads?: CompiledPathMatch;
  writes?: CompiledPathMatch;
  paths?: CompiledPathMatch;
  touches?: CompiledPathMatch;
  recursiveReads?: CompiledPathMatch;
  hosts?: CompiledGlob[];
  secrets?: CompiledGlob[];
}

interface CompiledPolicy {
  policy: Policy;
  rules: CompiledRule[];
  ruleIndex: Map<string, number>;
  byTool: Map<PolicyToolName, CompiledRule[]>;
  /** Tools with at least one allow rule that overrides ask rules (they take the slower, exhaustive path). */
  overrideTools: Set<PolicyToolName>;
}

const compiledPolicies = new WeakMap<Policy, CompiledPolicy>();

function compilePathMatch(match: PathMatch | undefined): CompiledPathMatch | undefined {
  if (!match) return undefined;
  return {
    any: (match.any ?? ["/**"]).map(compileGlob),
    except: (match.except ?? []).map(compileGlob),
    mode: match.mode ?? "overlaps",
  };
}

export function compilePolicy(policy: Policy): CompiledPolicy {
  const cached = compiledPolicies.get(policy);
  if (cached) return cached;
  const rules = policy.rules.map((rule, index): CompiledRule => {
    const m = rule.match;
    const compiled: CompiledRule = { rule, index, tools: new Set(rule.tools) };
    if (m.anyArg) compiled.anyArg = m.anyArg.map(compilePolicyRegex);
    compiled.reads = compilePathMatch(m.reads);
    compiled.writes = compilePathMatch(m.writes);
    compiled.paths = compilePathMatch(m.paths);
    compiled.touches = compilePathMatch(m.touches);
    compiled.recursiveReads = compilePathMatch(m.recursiveReads);
    if (m.url?.hosts) compiled.hosts = m.url.hosts.map((h) => compileGlob(h));
    if (m.secrets) compiled.secrets = m.secrets.map((s) => compileGlob(s));
    return compiled;
  });
  const byTool = new Map<PolicyToolName, CompiledRule[]>();
  for (const tool of POLICY_TOOLS)
    byTool.set(
      tool,
      rules.filter((r) => r.tools.has(tool)),
    );
  const ruleIndex = new Map(policy.rules.map((r, i) => [r.id, i]));
  const overrideTools = new Set<PolicyToolName>();
  for (const r of policy.rules) if (r.outcome === "allow" && r.overrides?.length) for (const tool of r.tools) overrideTools.add(tool);
  const result = { policy, rules, ruleIndex, byTool, overrideTools };
  compiledPolicies.set(policy, result);
  return result;
}

// ---------------------------------------------------------------------------
// Subjects: what one rule evaluation looks at

type Subject =
  | { kind: "part"; tool: PolicyToolName; cmd: SimpleCommand; effects?: CommandEffects; subcommand?: string | null; readOnly?: Finding | null }
  | { kind: "command"; tool: PolicyToolName; parse: "error" | "empty"; error?: string }
  | { kind: "file"; tool: PolicyToolName; path: string; reads: PathRef[]; writes: PathRef[]; lists: PathRef[]; recursiveReads: PathRef[] }
  | { kind: "http"; tool: PolicyToolName; url: string; scheme: string; host: string; port: number | null }
  | { kind: "install"; tool: PolicyToolName; manager: string; packages: string[] }
  | { kind: "secret"; tool: PolicyToolName; name: string }
  | { kind: "plain"; tool: PolicyToolName };

type Bindings = Record<string, string>;

function effectsOf(subject: Subject & { kind: "part" }): CommandEffects {
  subject.effects ??= commandEffects(subject.cmd);
  return subject.effects;
}

/** Shell flags that mean the policy cannot see all that will run, or that the run's limits can be escaped. */
const HIGH_RISK_FLAGS: ReadonlySet<ShellFlag> = new Set<ShellFlag>([
  "command-substitution",
  "process-substitution",
  "dynamic-program",
  "glob-program",
  "program-by-path",
  "eval",
  "source",
  "exec",
  "trap",
  "interpreter-code",
  "script-file",
  "pipe-into-shell",
  "heredoc-into-shell",
  "interactive-shell",
  "fork-bomb",
  "sensitive-env",
  "background",
  "coprocess",
  "environment-dump",
  "unknown-construct",
  "too-deep",
  "too-many-parts",
]);

const NETWORK_PROGRAMS: ReadonlySet<string> = new Set([
  "curl",
  "wget",
  "nc",
  "ncat",
  "netcat",
  "socat",
  "ssh",
  "scp",
  "sftp",
  "telnet",
  "ftp",
  "rsync",
  "dig",
  "nslookup",
  "host",
  "ping",
]);

function riskOfSubject(subject: Subject): Risk {
  switch (subject.kind) {
    case "file":
      return subject.writes.length > 0 ? "medium" : "low";
    case "command":
      return subject.parse === "error" ? "high" : "low";
    case "http":
    case "install":
    case "secret":
      return "high";
    case "part": {
      const cmd = subject.cmd;
      if (cmd.flags.some((f) => HIGH_RISK_FLAGS.has(f))) return "high";
      if (cmd.name !== null && NETWORK_PROGRAMS.has(cmd.name)) return "high";
      const effects = effectsOf(subject);
      const all = [...effects.reads, ...effects.writes, ...effects.lists];
      if (all.some((r) => r.path.startsWith("/dev/tcp/") || r.path.startsWith("/dev/udp/"))) return "high";
      if (effects.writes.some((r) => !isWithin(r.path, WORKSPACE_ROOT) && !isWithin(r.path, "/tmp") && r.path !== "/dev/null")) return "high";
      return effects.writes.length > 0 ? "medium" : "low";
    }
    default:
      return subject.tool === "run_tests" ? "medium" : "low";
  }
}

type PathField = "reads" | "writes" | "paths" | "touches" | "recursiveReads";

function refsOf(subject: Subject, which: PathField): PathRef[] | null {
  let effects: CommandEffects;
  if (subject.kind === "file") effects = subject;
  else if (subject.kind === "part") effects = effectsOf(subject);
  else return null;
  if (which === "paths") return [...effects.reads, ...effects.writes];
  if (which === "touches") return [...effects.reads, ...effects.writes, ...effects.lists];
  return effects[which];
}

function firstPathMatch(refs: readonly PathRef[], match: CompiledPathMatch): PathRef | null {
  for (const ref of refs) {
    if (!match.any.some((g) => pathMatches(ref, g, match.mode))) continue;
    // `except` removes what it names for sure: a glob is only excepted when every path it names is.
    if (match.except.some((g) => pathMatches(ref, g, "within"))) continue;
    return ref;
  }
  return null;
}

function ownArgs(cmd: SimpleCommand): SimpleCommand["args"] {
  return cmd.innerIndex === undefined ? cmd.args : cmd.args.slice(0, cmd.innerIndex);
}

function readOnlyFinding(cmd: SimpleCommand, subject: Subject & { kind: "part" }): Finding | null {
  if (subject.readOnly === undefined) subject.readOnly = judgeReadOnly(cmd);
  return subject.readOnly;
}

/** A check matches (true, or bindings for the reason) or not (false). */
const CHECKS: Record<PolicyCheck, (cmd: SimpleCommand, subject: Subject & { kind: "part" }) => boolean | Bindings> = {
  /** A program of the read-only tables, with only options the table knows and none that does more than read (readonly.ts). */
  "read-only-options": (cmd, subject) => readOnlyFinding(cmd, subject)?.kind === "read-only",
  /** An option, script or subcommand word of a read-only program that runs a program, writes, or reaches elsewhere. */
  "option-effect": (cmd, subject) => {
    const finding = readOnlyFinding(cmd, subject);
    if (finding?.kind !== "effect") return false;
    return { option: finding.option, effect: `${finding.why} (it ${effectPhrase(finding.effect)})` };
  },
  /** Only the effects that start another program (the always-applied protection; see protected.ts). */
  "option-runs-program": (cmd, subject) => {
    const finding = readOnlyFinding(cmd, subject);
    if (finding?.kind !== "effect" || finding.effect !== "runs-program") return false;
    return { option: finding.option, effect: `${finding.why} (it ${effectPhrase(finding.effect)})` };
  },
  /** An option the read-only program's table does not know: fail closed, naming it. */
  "unknown-option": (cmd, subject) => {
    const finding = readOnlyFinding(cmd, subject);
    if (finding?.kind !== "unknown-option") return false;
    return { option: finding.option, program: finding.program };
  },
  /** `git config KEY VALUE`, `--add`, `--unset`…: writes .git/config (hooks, aliases, pagers run code). */
  "git-config-write": (cmd, subject) => {
    if (cmd.name !== "git") return false;
    subject.subcommand ??= subcommandOf(cmd);
    if (subject.subcommand !== "config") return false;
    const at = cmd.args.findIndex((a, i) => i > 0 && a.static && a.value === "config");
    const rest = cmd.args.slice(at + 1);
    const writeOptions = ["--add", "--unset", "--unset-all", "--replace-all", "--rename-section", "--remove-section", "--edit", "-e"];
    if (rest.some((a) => a.static && writeOptions.includes(a.value))) return true;
    const readOptions = [
      "--get",
      "--get-all",
      "--get-regexp",
      "--get-urlmatch",
      "--list",
      "-l",
      "--show-origin",
      "--show-scope",
      "--get-color",
      "--get-colorbool",
    ];
    if (rest.some((a) => a.static && readOptions.includes(a.value))) return false;
    const operands = rest.filter((a) => !(a.static && a.value.startsWith("-")));
    const verb = operands[0]?.value;
    if (verb && ["set", "unset", "edit", "rename-section", "remove-section"].includes(verb)) return true;
    if (verb && ["get", "list"].includes(verb)) return false;
    return operands.length >= 2;
  },
  /** `npm config set`, `yarn config set`, `pip config set`…: writes the manager's configuration (.npmrc, .yarnrc, pip.conf), which can make later installs run a program. */
  "package-config-write": (cmd) => {
    if (cmd.name === null || !PACKAGE_CONFIG_VERBS[cmd.name]) return false;
    const operands = ownArgs(cmd)
      .slice(1)
      .filter((a) => !(a.static && a.value.startsWith("-")))
      .map((a) => (a.static ? a.value : null));
    const at = operands.findIndex((v) => v === "config" || v === "c");
    if (at < 0) return cmd.name === "npm" && (operands[0] === "set" || operands[0] === "delete" || operands[0] === "edit");
    const verb = operands[at + 1];
    // A verb only known at run time might be a write: judged as one.
    return verb === null || (verb !== undefined && PACKAGE_CONFIG_VERBS[cmd.name]!.includes(verb));
  },
  /** `kill -9 -1`, `kill 1`, `kill -- -01`, `kill ' -1'`: every process, a process group, or the sandbox's own processes. */
  "kill-all-processes": (cmd) => cmd.name === "kill" && killTargets(ownArgs(cmd).slice(1)).some(isProtectedPid),
};

/** Package managers' `config` verbs that change their configuration file. */
const PACKAGE_CONFIG_VERBS: Record<string, string[]> = {
  npm: ["set", "delete", "edit", "fix"],
  pnpm: ["set", "delete", "edit"],
  yarn: ["set", "unset", "delete"],
  pip: ["set", "unset", "edit"],
  pip3: ["set", "unset", "edit"],
};

/** The PID operands of kill, read the way bash's builtin and procps kill read them. */
function killTargets(args: ShellArg[]): string[] {
  const targets: string[] = [];
  let i = 0;
  let signalSeen = false;
  for (; i < args.length; i++) {
    const v = args[i]!.value;
    if (v === "--") {
      i += 1;
      break;
    }
    if (v === "-l" || v === "-L" || v === "--list" || v === "--table" || v.startsWith("--list=")) return []; // lists signals, kills nothing
    if (["-s", "-n", "-q", "--signal", "--queue"].includes(v)) {
      i += 1;
      signalSeen = true;
      continue;
    }
    if (v.startsWith("--signal=") || v.startsWith("--queue=")) {
      signalSeen = true;
      continue;
    }
    // The first "-X" is the signal (-9, -KILL, -SIGKILL); after it, "-N" is a process group, which must be judged.
    if (!signalSeen && v.startsWith("-") && v.length > 1) {
      signalSeen = true;
      continue;
    }
    break;
  }
  for (; i < args.length; i++) targets.push(args[i]!.value);
  return targets;
}

/**
 * -1 (every process), 0 and negative numbers (process groups), and PIDs 1
 * and 2 (the sandbox's init and the keeper process it starts) — in any
 * spelling kill accepts: spaces (bash trims them), a sign, leading zeros,
 * or hex where procps reads it.
 */
function isProtectedPid(operand: string): boolean {
  const text = operand.trim();
  if (!/^[+-]?(\d+|0x[0-9a-f]+)$/i.test(text)) return false;
  const negative = text.startsWith("-");
  const digits = text.replace(/^[+-]/, "");
  const values = [/^0x/i.test(digits) ? Number.parseInt(digits.slice(2), 16) : Number.parseInt(digits, 10)];
  if (/^0[0-7]+$/.test(digits)) values.push(Number.parseInt(digits, 8));
  return values.some((n) => (negative ? -n : n) <= PROTECTED_MAX_PID);
}

const PROTECTED_MAX_PID = 2;

function matchRule(rule: CompiledRule, subject: Subject): Bindings | null {
  const m = rule.rule.match;
  const b: Bindings = {};
  if (m.parse !== undefined) {
    if (subject.kind !== "command" || subject.parse !== m.parse) return null;
  } else if (subject.kind === "command") return null;

  if (m.programs || m.subcommands || m.anyOption || m.noOption || m.anyArg || m.flags || m.check) {
    if (subject.kind !== "part") return null;
    const cmd = subject.cmd;
    if (m.programs && (cmd.name === null || !programMatches(cmd.name, m.programs))) return null;
    if (m.subcommands) {
      subject.subcommand ??= subcommandOf(cmd);
      if (subject.subcommand === null || !m.subcommands.includes(subject.subcommand)) return null;
    }
    const args = ownArgs(cmd);
    if (m.anyOption && !m.anyOption.some((o) => hasOption(args, 1, o))) return null;
    if (m.noOption && m.noOption.some((o) => hasOption(args, 1, o))) return null;
    if (rule.anyArg) {
      const judged = args.slice(1).filter((a) => a.static);
      const hit = judged.find((a) => a.value.length <= MAX_REGEX_SUBJECT && rule.anyArg!.some((re) => re.test(a.value)));
      if (hit) b.arg = hit.value;
      else {
        // A pattern never sees more than MAX_REGEX_SUBJECT characters, so an
        // over-long argument must not slip past a deny or ask rule: such a
        // rule matches it, and findDecidingRule makes the hit an ask.
        const long = rule.rule.outcome === "allow" ? undefined : judged.find((a) => a.value.length > MAX_REGEX_SUBJECT);
        if (!long) return null;
        b.arg = `${long.value.slice(0, 60)}… (${long.value.length} characters)`;
        b[TOO_LONG] = String(long.value.length);
      }
    }
    if (m.flags) {
      const flag = m.flags.find((f) => cmd.flags.includes(f));
      if (!flag) return null;
      b.flag = FLAG_PHRASES[flag];
    }
    if (m.check) {
      const checked = CHECKS[m.check](cmd, subject);
      if (!checked) return null;
      if (typeof checked === "object") Object.assign(b, checked);
    }
  }

  for (const which of ["reads", "writes", "paths", "touches", "recursiveReads"] as const) {
    const match = rule[which];
    if (!match) continue;
    const refs = refsOf(subject, which);
    if (!refs) return null;
    const hit = firstPathMatch(refs, match);
    if (!hit) return null;
    b.path ??= hit.path;
    b.target ??= describeTarget(hit.path);
    if (rule.rule.reason.includes("{arms}")) b.arms ??= armsPhrase(hit.path);
  }

  if (m.url) {
    if (subject.kind !== "http") return null;
    if (m.url.schemes && !m.url.schemes.includes(subject.scheme)) return null;
    if (m.url.exceptSchemes && m.url.exceptSchemes.includes(subject.scheme)) return null;
    if (rule.hosts && !rule.hosts.some((g) => g.test(subject.host))) return null;
    if (m.url.ports && (subject.port === null || !m.url.ports.includes(subject.port))) return null;
  }
  if (m.risk) {
    const risk = riskOfSubject(subject);
    if (!m.risk.includes(risk)) return null;
    b.risk = risk;
  }
  if (m.managers) {
    if (subject.kind !== "install" || !m.managers.includes(subject.manager)) return null;
  }
  if (rule.secrets) {
    if (subject.kind !== "secret" || !rule.secrets.some((g) => g.test(subject.name))) return null;
  }
  return b;
}

// ---------------------------------------------------------------------------
// Reasons

const FLAG_PHRASES: Record<ShellFlag, string> = {
  "command-substitution": "runs a command substitution ($(…) or backticks) whose output becomes part of the command",
  "process-substitution": "uses process substitution (<(…) or >(…))",
  "parameter-expansion": "uses variables ($X) whose values are only known when it runs",
  arithmetic: "evaluates shell arithmetic, which can expand variables into code",
  "dynamic-program": "takes the program to run from a variable or substitution",
  "glob-program": "names the program with a glob",
  "program-by-path": "runs a program by path rather than a system program",
  eval: "evaluates a string as shell code (eval)",
  source: "runs another script inside this shell (source)",
  exec: "replaces the shell with another program (exec)",
  trap: "installs a trap that runs code later",
  "interpreter-code": "runs inline code the policy cannot read",
  "inline-shell": "runs inline shell code",
  "script-file": "runs a script file the policy cannot read",
  "pipe-into-shell": "pipes data into a shell or interpreter, which runs it as code",
  "heredoc-into-shell": "feeds a here-doc or here-string to a shell or interpreter as code",
  "interactive-shell": "starts a shell or interpreter with no script",
  "function-definition": "defines a shell function, which can shadow any command",
  "alias-definition": "defines an alias, which can shadow any command",
  "fork-bomb": "defines a function that endlessly starts copies of itself (a fork bomb)",
  wrapper: "runs another command",
  xargs: "runs a command with arguments read from input (xargs)",
  "find-exec": "runs a command for every file it finds (find -exec)",
  "args-from-input": "gets its arguments from input at run time",
  subshell: "runs in a subshell",
  background: "starts a background job that can outlive the command's timeout",
  coprocess: "starts a coprocess that can outlive the command's timeout",
  "in-substitution": "runs inside a command substitution",
  "sensitive-env": "changes an environment variable (PATH, LD_PRELOAD, BASH_ENV, GIT_TRACE…) that decides what later commands run or where they write",
  "assignment-only": "only sets shell variables",
  "environment-dump": "prints the environment, which holds any secrets granted to the run",
  "brace-expansion": "uses brace expansion",
  "unresolved-brace": "uses a brace expansion too large to check",
  "too-deep": "nests code strings deeper than the policy follows",
  "too-many-parts": "expands to more sub-commands than the policy checks",
  "unknown-construct": "uses shell syntax the policy does not understand",
};

export function describeTarget(path: string): string {
  if (path === "/") return "the whole filesystem";
  if (path === "/*") return "everything under /";
  if (path === AGENT_HOME) return "the agent's home directory";
  if (path === `${AGENT_HOME}/*`) return "everything in the agent's home directory";
  if (path === WORKSPACE_ROOT) return "the whole workspace";
  if (path === `${WORKSPACE_ROOT}/*`) return "everything in the workspace";
  if (path === "/home" || path === "/home/*") return "every home directory";
  if (/^\/[^/]+$/.test(path) && !isWithin(path, WORKSPACE_ROOT)) return `the system directory ${path}`;
  return path;
}

const MAX_SHOWN_COMMAND = 120;

function shownCommand(text: string): string {
  const oneLine = text.replace(/\s*\n\s*/g, " ⏎ ");
  return oneLine.length > MAX_SHOWN_COMMAND ? `${oneLine.slice(0, MAX_SHOWN_COMMAND - 1)}…` : oneLine;
}

function render(template: string, values: Bindings): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => values[key] ?? whole);
}

function subjectBindings(subject: Subject): Bindings {
  const b: Bindings = { tool: subject.tool };
  switch (subject.kind) {
    case "part":
      b.command = shownCommand(subject.cmd.text);
      b.program = subject.cmd.program ?? "";
      b.subject = `\`${b.command}\``;
      break;
    case "command":
      b.error = subject.error ?? "";
      b.subject = "this command";
      break;
    case "file":
      b.path = subject.path;
      b.subject = `this ${subject.tool} call`;
      break;
    case "http":
      b.url = subject.url;
      b.host = subject.host;
      b.scheme = subject.scheme;
      b.subject = `this ${subject.tool} call`;
      break;
    case "install":
      b.manager = subject.manager;
      b.packages = subject.packages.join(", ");
      b.subject = `this ${subject.tool} call`;
      break;
    case "secret":
      b.secret = subject.name;
      b.subject = `this ${subject.tool} call`;
      break;
    default:
      b.subject = `this ${subject.tool} call`;
  }
  return b;
}

// ---------------------------------------------------------------------------
// Deciding

interface RuleHit {
  rule: CompiledRule;
  bindings: Bindings;
  /** The rule's outcome, or ask when it matched only an argument too long for its pattern. */
  outcome: Verdict;
}

/** Binding set when an anyArg rule matched only because an argument was too long for its pattern. */
const TOO_LONG = "\u0000tooLong";

function hitOf(rule: CompiledRule, bindings: Bindings): RuleHit {
  return { rule, bindings, outcome: bindings[TOO_LONG] !== undefined ? "ask" : rule.rule.outcome };
}

/** The deciding rule and the ask rules whose approval requirements apply. */
function findDecidingRule(compiled: CompiledPolicy, subject: Subject): { best: RuleHit | null; asks: CompiledRule[] } {
  const rules = compiled.byTool.get(subject.tool) ?? [];
  if (compiled.overrideTools.has(subject.tool)) return findWithOverrides(rules, subject);
  let best: RuleHit | null = null;
  const asks: CompiledRule[] = [];
  for (const rule of rules) {
    const outcome = rule.rule.outcome;
    if (best && RANK[outcome] < RANK[best.outcome]) continue;
    // A lower-ranked rule never overrides; an equal one only adds approval requirements.
    if (best && RANK[outcome] === RANK[best.outcome] && outcome !== "ask") continue;
    const bindings = matchRule(rule, subject);
    if (!bindings) continue;
    const hit = hitOf(rule, bindings);
    if (hit.outcome === "ask") asks.push(rule);
    if (!best || RANK[hit.outcome] > RANK[best.outcome]) best = hit;
    if (hit.outcome === "deny") break;
  }
  return { best, asks };
}

/**
 * With override rules every ask and allow rule must be looked at: an ask rule
 * drops out when a matching allow rule names it in `overrides`. Deny rules
 * are never overridden.
 */
function findWithOverrides(rules: CompiledRule[], subject: Subject): { best: RuleHit | null; asks: CompiledRule[] } {
  const askHits: RuleHit[] = [];
  const allowHits: RuleHit[] = [];
  for (const rule of rules) {
    const bindings = matchRule(rule, subject);
    if (!bindings) continue;
    const hit = hitOf(rule, bindings);
    if (hit.outcome === "deny") return { best: hit, asks: [] };
    (hit.outcome === "ask" ? askHits : allowHits).push(hit);
  }
  const overridden = new Set(allowHits.flatMap((h) => h.rule.rule.overrides ?? []));
  const asks = askHits.filter((h) => !overridden.has(h.rule.rule.id));
  if (asks.length > 0) return { best: asks[0]!, asks: asks.map((h) => h.rule) };
  // Name the rule that overrode something, so the decision shows the promoted rule.
  const overriding = askHits.length > 0 ? allowHits.find((h) => h.rule.rule.overrides?.some((id) => askHits.some((a) => a.rule.rule.id === id))) : undefined;
  return { best: overriding ?? allowHits[0] ?? null, asks: [] };
}

const APPROVER_RANK: Record<ApproverRole, number> = { reviewer: 0, admin: 1 };

function stricterApprover(a: ApproverRole | undefined, b: ApproverRole | undefined): ApproverRole | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return APPROVER_RANK[a] >= APPROVER_RANK[b] ? a : b;
}

function decideSubject(compiled: CompiledPolicy, subject: Subject): Decision {
  const { best, asks } = findDecidingRule(compiled, subject);
  let approvals: number | undefined;
  let selfApproval: boolean | undefined;
  let approverRole: ApproverRole | undefined;
  for (const rule of asks) {
    if (rule.rule.requiredApprovals !== undefined) approvals = Math.max(approvals ?? 0, rule.rule.requiredApprovals);
    if (rule.rule.allowSelfApproval === false) selfApproval = false;
    else if (rule.rule.allowSelfApproval === true && selfApproval === undefined) selfApproval = true;
    approverRole = stricterApprover(approverRole, rule.rule.approverRole);
  }
  const base = subjectBindings(subject);
  let decision: Decision;
  if (!best) {
    const d = compiled.policy.default;
    decision = { verdict: d.verdict, rule: "default", reason: render(d.reason, base) };
  } else {
    const rule = best.rule.rule;
    const tooLong = best.bindings[TOO_LONG];
    const reason =
      tooLong === undefined
        ? render(rule.reason, { ...base, ...best.bindings })
        : `${base.command ? `\`${base.command}\`` : "This call"} has an argument of ${tooLong} characters; rule ${rule.id} only checks arguments up to ${MAX_REGEX_SUBJECT} characters against its pattern, so a person decides.`;
    decision = { verdict: best.outcome, rule: rule.id, reason };
  }
  if (decision.verdict === "ask") {
    if (approvals !== undefined) decision.requiredApprovals = approvals;
    if (selfApproval !== undefined) decision.allowSelfApproval = selfApproval;
    if (approverRole !== undefined) decision.approverRole = approverRole;
  }
  if (subject.kind === "part") {
    decision.command = shownCommand(subject.cmd.text);
    if (subject.cmd.origin) decision.origin = subject.cmd.origin;
    if (subject.cmd.speculative) {
      decision.speculative = true;
      decision.reason = `Expanded ${subject.cmd.origin ?? "with values set earlier"}: ${decision.reason}`;
    }
  }
  return decision;
}

/**
 * The strictest part decides; among equally strict parts, the one whose rule
 * comes first in the policy (the policy's own order of severity).
 */
function combineParts(parts: Decision[], compiled: CompiledPolicy): Decision {
  const order = (d: Decision): number => compiled.ruleIndex.get(d.rule) ?? Number.MAX_SAFE_INTEGER;
  let deciding = parts[0]!;
  for (const part of parts) {
    const stricter = RANK[part.verdict] > RANK[deciding.verdict];
    if (stricter || (RANK[part.verdict] === RANK[deciding.verdict] && order(part) < order(deciding))) deciding = part;
  }
  const decision: Decision = { verdict: deciding.verdict, rule: deciding.rule, reason: deciding.reason, parts };
  if (deciding.verdict === "allow" && parts.length > 1) {
    const rules = [...new Set(parts.map((p) => p.rule))];
    decision.reason = `All ${parts.length} parts of the command are allowed (${rules.join(", ")}).`;
  }
  if (deciding.verdict === "ask") {
    const asking = parts.filter((p) => p.verdict === "ask");
    const approvals = asking.map((p) => p.requiredApprovals).filter((n): n is number => n !== undefined);
    if (approvals.length > 0) decision.requiredApprovals = Math.max(...approvals);
    if (asking.some((p) => p.allowSelfApproval === false)) decision.allowSelfApproval = false;
    else if (asking.some((p) => p.allowSelfApproval === true)) decision.allowSelfApproval = true;
    const role = asking.reduce<ApproverRole | undefined>((r, p) => stricterApprover(r, p.approverRole), undefined);
    if (role !== undefined) decision.approverRole = role;
  }
  return decision;
}

function fileSubject(tool: PolicyToolName, path: string): Subject {
  const ref: PathRef = { path, glob: false };
  const writes = tool === "write_file" || tool === "edit_file";
  const recursive = tool === "list_files" || tool === "search_files";
  return {
    kind: "file",
    tool,
    path,
    reads: tool === "read_file" || tool === "search_files" ? [ref] : [],
    writes: writes ? [ref] : [],
    lists: tool === "list_files" ? [ref] : [],
    recursiveReads: recursive ? [ref] : [],
  };
}

const DEFAULT_PORTS: Record<string, number> = { http: 80, https: 443, ftp: 21, ws: 80, wss: 443 };

function parseUrl(url: string): { scheme: string; host: string; port: number | null } {
  try {
    const u = new URL(url);
    const scheme = u.protocol.replace(/:$/, "").toLowerCase();
    const port = u.port ? Number(u.port) : (DEFAULT_PORTS[scheme] ?? null);
    // Judged as egress connects: no trailing dot, any case, IPv4 carried in IPv6 as that IPv4.
    return { scheme, host: hostForJudging(u.hostname), port };
  } catch {
    return { scheme: "invalid", host: "", port: null };
  }
}

/** The parsed form of a run_command call's command. */
export function parsedCommandOf(call: { command: ParsedCommand | string; cwd?: string }): ParsedCommand {
  return typeof call.command === "string" ? parseCommand(call.command, { cwd: call.cwd ?? WORKSPACE_ROOT }) : call.command;
}

/** Rule id of the one check that is not policy data: a file path no tool may use. */
export const INVALID_PATH_RULE = "invalid-path";

/**
 * File tools get paths the gateway already normalised; the policy normalises
 * again so that a path handed to it directly (`/workspace/../etc/x`) cannot
 * slip past, and refuses paths no file tool may use (NUL bytes, overlong).
 */
function decideFile(compiled: CompiledPolicy, tool: PolicyToolName, path: string): Decision {
  const checked = normaliseWorkspacePath(path);
  if (!checked.ok && checked.kind !== "outside-workspace") {
    return { verdict: "deny", rule: INVALID_PATH_RULE, reason: `${checked.message} File tools refuse such paths.` };
  }
  const normalised = checked.ok ? checked.path : resolveLexically(path, WORKSPACE_ROOT);
  return decideSubject(compiled, fileSubject(tool, normalised));
}

/** Judges one normalised tool call against a policy (the built-in "supervised" one by default). */
export function decide(call: ToolCallForPolicy, policy: Policy = DEFAULT_POLICY): Decision {
  const compiled = compilePolicy(policy);
  const tool = call.tool;
  switch (call.tool) {
    case "read_file":
    case "write_file":
    case "edit_file":
      return decideFile(compiled, call.tool, call.path);
    case "list_files":
    case "search_files":
      return decideFile(compiled, call.tool, call.path ?? WORKSPACE_ROOT);
    case "run_command": {
      const parsed = parsedCommandOf(call);
      if (!parsed.parsed) return decideSubject(compiled, { kind: "command", tool, parse: "error", error: parsed.error });
      if (parsed.commands.length === 0) return decideSubject(compiled, { kind: "command", tool, parse: "empty" });
      return combineParts(
        parsed.commands.map((cmd) => decideSubject(compiled, { kind: "part", tool, cmd })),
        compiled,
      );
    }
    case "http_fetch":
      return decideSubject(compiled, { kind: "http", tool, url: call.url, ...parseUrl(call.url) });
    case "install_package":
      return decideSubject(compiled, { kind: "install", tool, manager: call.manager, packages: call.packages ?? [] });
    case "request_secret":
      return decideSubject(compiled, { kind: "secret", tool, name: call.name });
    default:
      return decideSubject(compiled, { kind: "plain", tool });
  }
}

const RISK_RANK: Record<Risk, number> = { low: 0, medium: 1, high: 2 };

/** The risk Airlock assigns a normalised call (for a compound command, its riskiest part). */
export function riskOfCall(call: ToolCallForPolicy): Risk {
  const tool = call.tool;
  switch (call.tool) {
    case "read_file":
    case "write_file":
    case "edit_file":
      return riskOfSubject(fileSubject(call.tool, call.path));
    case "list_files":
    case "search_files":
      return riskOfSubject(fileSubject(call.tool, call.path ?? WORKSPACE_ROOT));
    case "run_command": {
      const parsed = parsedCommandOf(call);
      if (!parsed.parsed) return "high";
      let worst: Risk = "low";
      for (const cmd of parsed.commands) {
        const risk = riskOfSubject({ kind: "part", tool, cmd });
        if (RISK_RANK[risk] > RISK_RANK[worst]) worst = risk;
      }
      return worst;
    }
    case "http_fetch":
    case "install_package":
    case "request_secret":
      return "high";
    default:
      return riskOfSubject({ kind: "plain", tool });
  }
}
