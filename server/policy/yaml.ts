// Policies as YAML documents: parse, validate and check a draft before it can
// judge anything. Every problem points at its line and column: YAML syntax,
// unknown tools or fields, rules that can never match, regexes that could
// backtrack catastrophically, and rule examples the policy contradicts.
import picomatch from "picomatch";
import YAML, { LineCounter, isMap, type Document, type Node as YamlNode } from "yaml";
import type { ZodError } from "zod";
import { normaliseToolCall } from "./normalise";
import {
  POLICY_TOOLS,
  RISKS,
  type Policy,
  type PolicyRule,
  type PolicyToolName,
  type Risk,
  type RuleExample,
  type ToolCallForPolicy,
  type Verdict,
} from "./policy";
import { decideUnderPolicy, PROTECTED_RULE_IDS } from "./protected";
import { policySchema } from "./schema";

export const MAX_POLICY_BYTES = 256 * 1024;
export const MAX_POLICY_RULES = 500;
const MAX_GLOB_LENGTH = 1000;
/** Enough anchor or alias problems to show the pattern; a bomb has thousands. */
const MAX_REUSE_PROBLEMS = 10;

export interface PolicyProblem {
  /** 1-based line and column of the offending YAML node. */
  line: number;
  column: number;
  /** Where in the document, e.g. `rules[3].match.programs[0]`; "" for the whole document. */
  path: string;
  message: string;
}

export type PolicyValidation = { ok: true; policy: Policy; warnings: PolicyProblem[] } | { ok: false; problems: PolicyProblem[]; warnings: PolicyProblem[] };

export function formatProblem(p: PolicyProblem): string {
  return `line ${p.line}, column ${p.column}: ${p.path ? `${p.path}: ` : ""}${p.message}`;
}

type PathKey = string | number;

function pathText(path: readonly PathKey[]): string {
  let out = "";
  for (const key of path) out += typeof key === "number" ? `[${key}]` : out ? `.${key}` : key;
  return out;
}

/** Finds where a path points in the YAML; falls back to the nearest ancestor that exists. */
class Locator {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  at(path: readonly PathKey[], key?: string): { line: number; column: number } {
    for (let depth = path.length; depth >= 0; depth--) {
      const node = (depth === 0 ? this.doc.contents : this.doc.getIn(path.slice(0, depth), true)) as YamlNode | null | undefined;
      if (!node || !node.range) continue;
      if (key !== undefined && depth === path.length && isMap(node)) {
        const pair = node.items.find((p) => (p.key as { value?: unknown } | null)?.value === key);
        const keyNode = pair?.key as YamlNode | undefined;
        if (keyNode?.range) return this.pos(keyNode.range[0]);
      }
      return this.pos(node.range[0]);
    }
    return { line: 1, column: 1 };
  }

  private pos(offset: number): { line: number; column: number } {
    const p = this.lines.linePos(offset);
    return { line: p.line, column: p.col };
  }
}

class Problems {
  readonly errors: PolicyProblem[] = [];
  readonly warnings: PolicyProblem[] = [];
  constructor(private readonly locate: Locator | null) {}

  add(path: readonly PathKey[], message: string, opts: { key?: string; warning?: boolean } = {}): void {
    const where = this.locate ? this.locate.at(path, opts.key) : { line: 1, column: 1 };
    const full = opts.key === undefined ? path : [...path, opts.key];
    (opts.warning ? this.warnings : this.errors).push({ ...where, path: pathText(full), message });
  }

  sorted(list: PolicyProblem[]): PolicyProblem[] {
    return [...list].sort((a, b) => a.line - b.line || a.column - b.column);
  }
}

// ---------------------------------------------------------------------------
// Schema problems, in words a policy author understands

function schemaProblems(error: ZodError, data: unknown, problems: Problems): void {
  for (const issue of error.issues) {
    const path = issue.path.filter((k): k is PathKey => typeof k === "string" || typeof k === "number");
    const context = ruleContext(path, data);
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) problems.add(path, `${context}unknown field "${key}"${knownFieldsHint(path)}`, { key });
      continue;
    }
    const last = path.at(-1);
    if (issue.code === "invalid_value" && path.includes("tools")) {
      problems.add(path, `${context}unknown tool ${JSON.stringify(valueAt(data, path))}; tools are ${POLICY_TOOLS.join(", ")}`);
      continue;
    }
    if (issue.code === "invalid_value") {
      const values = (issue as { values?: unknown[] }).values ?? [];
      problems.add(path, `${context}${JSON.stringify(valueAt(data, path))} is not one of ${values.map((v) => JSON.stringify(v)).join(", ")}`);
      continue;
    }
    if (issue.code === "invalid_type" && /received undefined/.test(issue.message)) {
      problems.add(path.slice(0, -1), `${context}missing required field "${String(last)}"`);
      continue;
    }
    problems.add(path, `${context}${issue.message}`);
  }
}

function valueAt(data: unknown, path: readonly PathKey[]): unknown {
  let v = data;
  for (const k of path) v = v && typeof v === "object" ? (v as Record<PathKey, unknown>)[k] : undefined;
  return v;
}

function ruleContext(path: readonly PathKey[], data: unknown): string {
  if (path[0] !== "rules" || typeof path[1] !== "number") return "";
  const id = valueAt(data, ["rules", path[1], "id"]);
  return typeof id === "string" ? `rule "${id}": ` : "";
}

const FIELD_HINTS: Record<string, string> = {
  "": "id, name, description, default, rules, promotion",
  rule: "id, description, tools, match, outcome, reason, requiredApprovals, allowSelfApproval, approverRole, overrides, examples, provenance",
  match: "parse, programs, subcommands, anyOption, noOption, anyArg, flags, check, reads, writes, paths, touches, recursiveReads, url, risk, managers, secrets",
};

function knownFieldsHint(path: readonly PathKey[]): string {
  const kind = path.length === 0 ? "" : path.length === 2 && path[0] === "rules" ? "rule" : path.at(-1) === "match" ? "match" : null;
  return kind === null ? "" : ` (known fields: ${FIELD_HINTS[kind]})`;
}

// ---------------------------------------------------------------------------
// Rules that can never match

const COMMAND_FIELDS = ["parse", "programs", "subcommands", "anyOption", "noOption", "anyArg", "flags", "check"] as const;
const FILE_TOOLS: PolicyToolName[] = ["read_file", "list_files", "search_files", "write_file", "edit_file"];

/** The tools each match field can apply to. */
const FIELD_TOOLS: Record<string, readonly PolicyToolName[]> = {
  ...Object.fromEntries(COMMAND_FIELDS.map((f) => [f, ["run_command"]])),
  reads: ["read_file", "search_files", "run_command"],
  writes: ["write_file", "edit_file", "run_command"],
  paths: ["read_file", "search_files", "write_file", "edit_file", "run_command"],
  touches: [...FILE_TOOLS, "run_command"],
  recursiveReads: ["list_files", "search_files", "run_command"],
  url: ["http_fetch"],
  managers: ["install_package"],
  secrets: ["request_secret"],
};

/** The risks a call of each tool can have (see riskOfCall). */
const TOOL_RISKS: Record<PolicyToolName, readonly Risk[]> = {
  read_file: ["low"],
  list_files: ["low"],
  search_files: ["low"],
  write_file: ["medium"],
  edit_file: ["medium"],
  run_command: RISKS,
  run_tests: ["medium"],
  install_package: ["high"],
  http_fetch: ["high"],
  request_secret: ["high"],
  search_docs: ["low"],
  submit_plan: ["low"],
  finish: ["low"],
};

const MANAGERS = ["npm", "pip", "apt"];
const PLACEHOLDERS = new Set([
  "command",
  "program",
  "path",
  "target",
  "flag",
  "tool",
  "url",
  "host",
  "scheme",
  "manager",
  "packages",
  "secret",
  "error",
  "subject",
  "arg",
  "risk",
  "option",
  "effect",
  "arms",
]);

function checkRule(rule: PolicyRule, index: number, byId: Map<string, PolicyRule>, problems: Problems): void {
  const at = (...rest: PathKey[]): PathKey[] => ["rules", index, ...rest];
  const name = `rule "${rule.id}": `;
  const m = rule.match;
  const never = (path: PathKey[], why: string) => problems.add(path, `${name}can never match: ${why}`);

  if (PROTECTED_RULE_IDS.includes(rule.id)) problems.add(at("id"), `${name}"${rule.id}" is the id of a protection Airlock always applies; choose another id`);

  // Tools the rule can match at all, given its match fields.
  const present = Object.keys(m).filter((k) => (m as Record<string, unknown>)[k] !== undefined);
  const usable = rule.tools.filter((tool) => present.every((f) => !FIELD_TOOLS[f] || FIELD_TOOLS[f]!.includes(tool)));
  if (usable.length === 0) {
    const field = present.find((f) => FIELD_TOOLS[f] && !rule.tools.some((t) => FIELD_TOOLS[f]!.includes(t)));
    if (field) never(at("match", field), `match.${field} only applies to ${FIELD_TOOLS[field]!.join(", ")}, and the rule is for ${rule.tools.join(", ")}`);
    else never(at("match"), `no tool of this rule accepts all of ${present.filter((f) => FIELD_TOOLS[f]).join(", ")} together`);
  } else {
    for (const tool of rule.tools.filter((t) => !usable.includes(t))) {
      problems.add(at("tools"), `${name}never matches ${tool} calls (its match fields do not apply to ${tool})`, { warning: true });
    }
  }
  if (m.risk) {
    if (m.risk.length === 0) never(at("match", "risk"), "risk is an empty list");
    else if (!usable.some((t) => TOOL_RISKS[t].some((r) => m.risk!.includes(r)))) {
      never(at("match", "risk"), `${rule.tools.join(", ")} calls are never ${m.risk.join(" or ")} risk`);
    }
  }
  if (m.parse !== undefined) {
    const other = COMMAND_FIELDS.filter((f) => f !== "parse" && m[f] !== undefined);
    const paths = (["reads", "writes", "paths", "touches", "recursiveReads"] as const).filter((f) => m[f] !== undefined);
    if (other.length || paths.length)
      never(at("match", "parse"), `parse: ${m.parse} is about the whole command line, which has no ${[...other, ...paths].join(" or ")}`);
  }
  for (const [i, program] of (m.programs ?? []).entries()) {
    if (program.includes("/")) {
      never(
        at("match", "programs", i),
        `programs match by name, so ${JSON.stringify(program)} (a path) never does; a rule for "${program.split("/").pop()}" matches it only when run from a system bin directory`,
      );
    }
  }
  const lists: [string, unknown[] | undefined][] = [
    ["programs", m.programs],
    ["subcommands", m.subcommands],
    ["anyOption", m.anyOption],
    ["anyArg", m.anyArg],
    ["flags", m.flags],
    ["managers", m.managers],
    ["secrets", m.secrets],
  ];
  for (const [field, list] of lists) if (list && list.length === 0) never(at("match", field), `${field} is an empty list`);
  if (m.url) {
    for (const f of ["schemes", "hosts", "ports"] as const) if (m.url[f] && m.url[f]!.length === 0) never(at("match", "url", f), `url.${f} is an empty list`);
    if (m.url.schemes && m.url.exceptSchemes && m.url.schemes.every((s) => m.url!.exceptSchemes!.includes(s))) {
      never(at("match", "url", "schemes"), "every scheme in url.schemes is also in url.exceptSchemes");
    }
  }
  if (m.anyOption && m.noOption) {
    const both = m.anyOption.filter((o) => m.noOption!.includes(o));
    if (both.length) never(at("match", "noOption"), `${both.join(", ")} is required by anyOption and forbidden by noOption`);
  }
  if (m.managers) {
    for (const [i, manager] of m.managers.entries()) {
      if (!MANAGERS.includes(manager))
        never(at("match", "managers", i), `install_package only knows the managers ${MANAGERS.join(", ")}, not ${JSON.stringify(manager)}`);
    }
  }
  if (m.check === "git-config-write" && m.programs && !m.programs.includes("git"))
    never(at("match", "check"), "the git-config-write check only matches git, which programs excludes");
  if (m.check === "kill-all-processes" && m.programs && !m.programs.includes("kill"))
    never(at("match", "check"), "the kill-all-processes check only matches kill, which programs excludes");

  for (const field of ["reads", "writes", "paths", "touches", "recursiveReads"] as const) {
    const pm = m[field];
    if (!pm) continue;
    if (pm.any && pm.any.length === 0) never(at("match", field, "any"), `${field}.any is an empty list`);
    const except = pm.except ?? [];
    if (except.some((e) => e === "**" || e === "/**")) never(at("match", field, "except"), `${field}.except excludes every path`);
    else if (pm.any && pm.any.length > 0 && pm.any.every((a) => except.includes(a)))
      never(at("match", field, "except"), `every pattern in ${field}.any is also in ${field}.except`);
    for (const list of ["any", "except"] as const) {
      for (const [i, glob] of (pm[list] ?? []).entries()) checkGlob(glob, at("match", field, list, i), name, problems);
    }
  }
  for (const [i, host] of (m.url?.hosts ?? []).entries()) checkGlob(host, at("match", "url", "hosts", i), name, problems);
  for (const [i, secret] of (m.secrets ?? []).entries()) checkGlob(secret, at("match", "secrets", i), name, problems);

  if (rule.outcome !== "ask") {
    for (const field of ["requiredApprovals", "allowSelfApproval", "approverRole"] as const) {
      if (rule[field] !== undefined) problems.add(at(field), `${name}${field} only applies to ask rules, and this rule's outcome is ${rule.outcome}`);
    }
  }
  if (rule.overrides !== undefined) {
    if (rule.outcome !== "allow") problems.add(at("overrides"), `${name}only allow rules can override ask rules`);
    for (const [i, id] of rule.overrides.entries()) {
      const target = byId.get(id);
      if (!target) problems.add(at("overrides", i), `${name}overrides unknown rule "${id}"`);
      else if (target.outcome === "deny") problems.add(at("overrides", i), `${name}cannot override "${id}": deny rules are never overridden`);
      else if (target.outcome !== "ask")
        problems.add(at("overrides", i), `${name}overrides "${id}", which is an ${target.outcome} rule; only ask rules can be overridden`);
    }
  }
  for (const match of rule.reason.matchAll(/\{(\w+)\}/g)) {
    if (!PLACEHOLDERS.has(match[1]!))
      problems.add(at("reason"), `${name}unknown placeholder {${match[1]}} in the reason; known: ${[...PLACEHOLDERS].map((p) => `{${p}}`).join(" ")}`);
  }
}

function checkGlob(glob: string, path: PathKey[], name: string, problems: Problems): void {
  if (glob.length > MAX_GLOB_LENGTH) {
    problems.add(path, `${name}the pattern is longer than ${MAX_GLOB_LENGTH} characters`);
    return;
  }
  try {
    picomatch.makeRe(glob, { dot: true });
  } catch (error) {
    problems.add(path, `${name}not a valid glob: ${(error as Error).message}`);
  }
}

// ---------------------------------------------------------------------------
// Rule examples

export interface ExampleCall {
  tool: PolicyToolName;
  args: Record<string, unknown>;
}

/** The tool call an example stands for. */
export function exampleCall(rule: PolicyRule, example: RuleExample): ExampleCall {
  const tool = example.tool ?? (example.command !== undefined ? "run_command" : example.url !== undefined ? "http_fetch" : rule.tools[0]!);
  const args: Record<string, unknown> = { ...(example.args ?? {}) };
  if (example.command !== undefined) args.command = example.command;
  if (example.path !== undefined) args.path = example.path;
  if (example.url !== undefined) args.url = example.url;
  return { tool, args };
}

export interface ExampleOutcome {
  verdict: Verdict;
  rule: string;
  reason: string;
}

/** Judges a call the way the gateway would, with lexical path confinement; refused paths are a deny. */
export function judgeExample(call: ExampleCall, policy: Policy): ExampleOutcome | { invalid: string } {
  const prepared = normaliseToolCall(call.tool, call.args);
  if (!prepared.ok) {
    if (prepared.code === "OUT_OF_WORKSPACE") return { verdict: "deny", rule: "out-of-workspace", reason: prepared.message };
    return { invalid: prepared.message };
  }
  return decideUnderPolicy(prepared.call as ToolCallForPolicy, policy);
}

function checkExamples(policy: Policy, problems: Problems): void {
  policy.rules.forEach((rule, index) => {
    (rule.examples ?? []).forEach((example, i) => {
      const path: PathKey[] = ["rules", index, "examples", i];
      const outcome = judgeExample(exampleCall(rule, example), policy);
      const label = `rule "${rule.id}", example ${i + 1}`;
      if ("invalid" in outcome) {
        problems.add(path, `${label} is not a valid call: ${outcome.invalid}`);
        return;
      }
      if (outcome.verdict !== example.expect) {
        problems.add(path, `${label} expects ${example.expect}, but the policy says ${outcome.verdict} (rule ${outcome.rule}: ${outcome.reason})`);
      }
    });
  });
}

// ---------------------------------------------------------------------------

/** Validates a policy already parsed from YAML or built in code (positions unknown). */
export function validatePolicyData(data: unknown): PolicyValidation {
  return validate(data, null);
}

export function validatePolicyYaml(text: string): PolicyValidation {
  if (Buffer.byteLength(text) > MAX_POLICY_BYTES) {
    return { ok: false, problems: [{ line: 1, column: 1, path: "", message: `the policy is larger than ${MAX_POLICY_BYTES / 1024} KB` }], warnings: [] };
  }
  const lines = new LineCounter();
  const doc = YAML.parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e) => {
      const pos = e.linePos?.[0] ?? lines.linePos(e.pos[0]);
      return { line: pos.line, column: pos.col, path: "", message: `YAML syntax: ${e.message.replace(/ at line \d+, column \d+.*$/s, "")}` };
    });
    return { ok: false, problems, warnings: [] };
  }
  const reuse = anchorsAndAliases(doc, lines, text);
  if (reuse.length > 0) return { ok: false, problems: reuse, warnings: [] };
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 0 });
  } catch (error) {
    return { ok: false, problems: [{ line: 1, column: 1, path: "", message: `YAML: ${(error as Error).message}` }], warnings: [] };
  }
  return validate(data, new Locator(doc, lines));
}

/**
 * Policies may not use YAML anchors (&a) or aliases (*a): resolving
 * self-referencing aliases takes the yaml library super-linear time (2000
 * aliases froze the server for minutes, issue 9, H1), and a policy read by
 * people should say each rule in full anyway.
 */
function anchorsAndAliases(doc: Document, lines: LineCounter, text: string): PolicyProblem[] {
  const found: PolicyProblem[] = [];
  const at = (node: YamlNode) => {
    // An anchored node's range starts at its value; point at the &name before it.
    const start = node.range?.[0] ?? 0;
    const anchorAt = node.anchor !== undefined ? text.lastIndexOf(`&${node.anchor}`, start) : -1;
    const p = lines.linePos(anchorAt >= 0 ? anchorAt : start);
    return { line: p.line, column: p.col };
  };
  YAML.visit(doc, {
    Alias(_key, node) {
      if (found.length < MAX_REUSE_PROBLEMS) {
        found.push({
          ...at(node),
          path: "",
          message: `YAML alias *${node.source} refused: policies may not use anchors or aliases; write the value out in full`,
        });
      }
      return found.length >= MAX_REUSE_PROBLEMS ? YAML.visit.BREAK : undefined;
    },
    Node(_key, node) {
      if (node.anchor !== undefined && found.length < MAX_REUSE_PROBLEMS) {
        found.push({
          ...at(node),
          path: "",
          message: `YAML anchor &${node.anchor} refused: policies may not use anchors or aliases; write the value out in full`,
        });
      }
      return found.length >= MAX_REUSE_PROBLEMS ? YAML.visit.BREAK : undefined;
    },
  });
  return found.sort((a, b) => a.line - b.line || a.column - b.column);
}

function validate(data: unknown, locate: Locator | null): PolicyValidation {
  const problems = new Problems(locate);
  if (data === null || data === undefined || typeof data !== "object" || Array.isArray(data)) {
    problems.add([], "the policy must be a mapping with id, name, description, default and rules");
    return { ok: false, problems: problems.errors, warnings: [] };
  }
  const parsed = policySchema.safeParse(data);
  if (!parsed.success) {
    schemaProblems(parsed.error, data, problems);
    return { ok: false, problems: problems.sorted(problems.errors), warnings: [] };
  }
  const policy = parsed.data as Policy;
  if (policy.rules.length > MAX_POLICY_RULES) problems.add(["rules"], `the policy has ${policy.rules.length} rules; at most ${MAX_POLICY_RULES} are allowed`);
  const byId = new Map(policy.rules.map((r) => [r.id, r]));
  policy.rules.forEach((rule, index) => checkRule(rule, index, byId, problems));
  // Examples only mean something once every rule is sound.
  if (problems.errors.length === 0) checkExamples(policy, problems);
  if (problems.errors.length > 0) return { ok: false, problems: problems.sorted(problems.errors), warnings: problems.sorted(problems.warnings) };
  return { ok: true, policy, warnings: problems.sorted(problems.warnings) };
}

/** Parses a policy that must be valid (stored versions, presets); throws with every problem otherwise. */
export function parsePolicyYaml(text: string): Policy {
  const result = validatePolicyYaml(text);
  if (!result.ok) throw new Error(`invalid policy:\n${result.problems.map(formatProblem).join("\n")}`);
  return result.policy;
}

/** YAML for a policy object (presets, promoted rules). */
export function policyToYaml(policy: Policy, header?: string): string {
  const doc = new YAML.Document(policy, { aliasDuplicateObjects: false });
  // Short lists of plain values read best on one line: tools: [run_command].
  YAML.visit(doc, {
    Seq(_key, node) {
      if (node.items.every((item) => YAML.isScalar(item)) && node.items.length <= 12) node.flow = true;
    },
  });
  const body = doc.toString({ lineWidth: 0, flowCollectionPadding: false });
  return header
    ? `${header
        .split("\n")
        .map((l) => `# ${l}`.trimEnd())
        .join("\n")}\n${body}`
    : body;
}
