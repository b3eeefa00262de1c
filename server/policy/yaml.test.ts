import { describe, expect, it } from "vitest";
import { PRESET_NAMES, presetYaml } from "./presets";
import { formatProblem, validatePolicyYaml, type PolicyProblem } from "./yaml";

/** A small valid policy; tests break one thing in it at a time. */
const BASE = `id: test
name: Test
description: a policy for tests
default:
  verdict: ask
  reason: No rule covers {subject}.
rules:
  - id: read-only
    description: reads
    tools: [run_command]
    match:
      programs: [ls, cat]
    outcome: allow
    reason: "\`{command}\` only reads."
  - id: no-rm
    description: deletion
    tools: [run_command]
    match:
      programs: [rm]
    outcome: deny
    reason: "\`{command}\` deletes files."
`;

function problems(yaml: string): PolicyProblem[] {
  const result = validatePolicyYaml(yaml);
  expect(result.ok, "the draft should be refused").toBe(false);
  return result.ok ? [] : result.problems;
}

/** The single problem of a draft, with where it points. */
function theProblem(yaml: string): PolicyProblem {
  const found = problems(yaml);
  expect(found.map(formatProblem)).toHaveLength(1);
  return found[0]!;
}

function lineOf(yaml: string, needle: string): number {
  return yaml.split("\n").findIndex((l) => l.includes(needle)) + 1;
}

describe("a valid policy document", () => {
  it("is accepted with its rules", () => {
    const result = validatePolicyYaml(BASE);
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.policy.rules.map((r) => r.id)).toEqual(["read-only", "no-rm"]);
  });

  it.each(PRESET_NAMES)("the %s preset passes every check, its examples included", (name) => {
    const result = validatePolicyYaml(presetYaml(name));
    expect(result.ok ? [] : result.problems.map(formatProblem)).toEqual([]);
  });
});

describe("bad drafts are refused with the exact problem and where it is", () => {
  it("a YAML syntax error names its line and column", () => {
    const yaml = BASE.replace("tools: [run_command]\n    match:\n      programs: [rm]", "tools: [run_command\n    match:\n      programs: [rm]");
    const p = problems(yaml)[0]!;
    expect(p.message).toMatch(/^YAML syntax: /);
    expect(p.line).toBeGreaterThan(lineOf(BASE, "id: no-rm"));
  });

  it("an unknown field in a rule points at the field", () => {
    const yaml = BASE.replace("      programs: [rm]", "      programz: [rm]");
    const p = theProblem(yaml);
    expect(p).toMatchObject({ line: lineOf(yaml, "programz"), column: 7, path: "rules[1].match.programz" });
    expect(p.message).toMatch(/^rule "no-rm": unknown field "programz" \(known fields: parse, programs/);
  });

  it("an unknown top-level field is named", () => {
    const p = theProblem(`${BASE}extra: true\n`);
    expect(p).toMatchObject({ line: lineOf(`${BASE}extra: true\n`, "extra:"), path: "extra" });
    expect(p.message).toContain('unknown field "extra"');
  });

  it("an unknown tool points at the tool", () => {
    const yaml = BASE.replace("tools: [run_command]\n    match:\n      programs: [rm]", "tools: [run_cmd]\n    match:\n      programs: [rm]");
    const p = theProblem(yaml);
    expect(p).toMatchObject({ line: lineOf(yaml, "run_cmd"), path: "rules[1].tools[0]" });
    expect(p.message).toMatch(/^rule "no-rm": unknown tool "run_cmd"; tools are read_file/);
  });

  it("a missing required field is named on its rule", () => {
    const yaml = BASE.replace('    reason: "`{command}` deletes files."\n', "");
    const p = theProblem(yaml);
    expect(p.message).toBe('rule "no-rm": missing required field "reason"');
    expect(p.line).toBe(lineOf(yaml, "id: no-rm"));
  });

  it("a bad outcome lists the allowed values", () => {
    const p = theProblem(BASE.replace("outcome: deny", "outcome: block"));
    expect(p.message).toBe('rule "no-rm": "block" is not one of "allow", "ask", "deny"');
  });

  it("duplicate keys are a syntax error", () => {
    expect(problems(BASE.replace("    outcome: deny\n", "    outcome: deny\n    outcome: ask\n"))[0]!.message).toMatch(/unique/i);
  });

  it("an empty document or a list is refused", () => {
    expect(theProblem("").message).toMatch(/must be a mapping/);
    expect(theProblem("- a\n- b\n").message).toMatch(/must be a mapping/);
  });

  it("H1: an alias bomb is refused at its first anchor, before any alias is resolved", () => {
    const bomb = `a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n`;
    const found = problems(bomb);
    expect(found[0]).toMatchObject({ line: 1, message: expect.stringMatching(/anchor &a refused: policies may not use anchors or aliases/) });
    expect(found.length).toBeLessThanOrEqual(10);
  });

  it("H1: the self-referencing alias bomb from the security test is refused in milliseconds", () => {
    const started = performance.now();
    const found = problems("a: &a [" + "*a,".repeat(2000) + "]");
    expect(performance.now() - started).toBeLessThan(1000);
    expect(found[0]).toMatchObject({ line: 1, message: expect.stringMatching(/^YAML anchor &a refused/) });
  });

  it("H1: an alias in an otherwise valid policy points at its line and column", () => {
    const yaml = BASE.replace(
      "tools: [run_command]\n    match:\n      programs: [ls, cat]",
      "tools: &t [run_command]\n    match:\n      programs: [ls, cat]",
    ).replace("    tools: [run_command]\n    match:\n      programs: [rm]", "    tools: *t\n    match:\n      programs: [rm]");
    const found = problems(yaml);
    expect(found.map((p) => [p.line, p.column])).toEqual([
      [lineOf(yaml, "&t"), yaml.split("\n")[lineOf(yaml, "&t") - 1]!.indexOf("&t") + 1],
      [lineOf(yaml, "*t"), yaml.split("\n")[lineOf(yaml, "*t") - 1]!.indexOf("*t") + 1],
    ]);
    expect(found[1]!.message).toMatch(/alias \*t refused/);
  });

  it("a rule whose match fields do not apply to its tools can never match", () => {
    const yaml = BASE.replace("      programs: [rm]", "      url: { hosts: [example.com] }");
    const p = theProblem(yaml);
    expect(p).toMatchObject({ line: lineOf(yaml, "url:"), path: "rules[1].match.url" });
    expect(p.message).toBe('rule "no-rm": can never match: match.url only applies to http_fetch, and the rule is for run_command');
  });

  it("a rule for ./git can never match: programs match by name", () => {
    const yaml = BASE.replace("programs: [rm]", "programs: [./git]");
    expect(theProblem(yaml).message).toMatch(/^rule "no-rm": can never match: programs match by name, so "\.\/git" \(a path\) never does/);
  });

  it("an option both required and forbidden can never match", () => {
    const yaml = BASE.replace("      programs: [rm]", "      programs: [rm]\n      anyOption: [-r]\n      noOption: [-r]");
    expect(theProblem(yaml).message).toBe('rule "no-rm": can never match: -r is required by anyOption and forbidden by noOption');
  });

  it("paths excepted entirely can never match", () => {
    const yaml = BASE.replace("      programs: [rm]", "      writes: { any: [/etc/**], except: [/etc/**] }");
    expect(theProblem(yaml).message).toBe('rule "no-rm": can never match: every pattern in writes.any is also in writes.except');
  });

  it("a risk no call of the rule's tools can have can never match", () => {
    const yaml = BASE.replace("tools: [run_command]\n    match:\n      programs: [rm]", "tools: [http_fetch]\n    match:\n      risk: [low]");
    expect(theProblem(yaml).message).toBe('rule "no-rm": can never match: http_fetch calls are never low risk');
  });

  it("a parse rule with program fields can never match", () => {
    const yaml = BASE.replace("      programs: [rm]", "      parse: error\n      programs: [rm]");
    expect(theProblem(yaml).message).toMatch(/can never match: parse: error is about the whole command line, which has no programs/);
  });

  it.each([
    ["(x)\\1", /RE2 syntax\): invalid escape sequence.*backreferences/],
    ["^(?=x)y", /RE2 syntax\).*lookahead/],
    ["[a-z]{1,300}[0-9]{1,300}", /too complex \(\d+ steps, at most 1000\)/],
  ])("H2: the regex %s, which a linear-time engine cannot run, is refused where it stands", (regex, message) => {
    const yaml = BASE.replace("      programs: [rm]", () => `      programs: [rm]\n      anyArg: ['${regex}']`);
    const p = theProblem(yaml);
    expect(p).toMatchObject({ line: lineOf(yaml, "anyArg"), path: "rules[1].match.anyArg[0]" });
    expect(p.message).toMatch(message);
  });

  it("H2: adjacent and nested quantifiers are accepted, since the engine matches in linear time", () => {
    for (const regex of ["a*a*a*b", "(a+)+$", "(a|a)*b"]) {
      const yaml = BASE.replace("      programs: [rm]", () => `      programs: [rm]\n      anyArg: ['${regex}']`);
      expect(validatePolicyYaml(yaml).ok, regex).toBe(true);
    }
  });

  it("a regex that does not compile is refused", () => {
    const yaml = BASE.replace("      programs: [rm]", "      programs: [rm]\n      anyArg: ['(']");
    expect(theProblem(yaml).message).toMatch(/not a valid regular expression for Airlock's linear-time engine/);
  });

  it("a rule example the policy contradicts is refused with what the policy says", () => {
    const yaml = BASE.replace(
      "    outcome: allow\n",
      "    outcome: allow\n    examples:\n      - command: cat README.md\n        expect: allow\n      - command: ls && rm -rf x\n        expect: allow\n",
    );
    const p = theProblem(yaml);
    expect(p.path).toBe("rules[0].examples[1]");
    expect(p.line).toBe(lineOf(yaml, "ls && rm -rf x"));
    expect(p.message).toBe('rule "read-only", example 2 expects allow, but the policy says deny (rule no-rm: `rm -rf x` deletes files.)');
  });

  it("examples see Airlock's protections, which no policy can open", () => {
    const yaml = BASE.replace(
      "    outcome: allow\n",
      "    outcome: allow\n    examples:\n      - command: cat x > .git/hooks/pre-commit\n        expect: allow\n",
    );
    expect(theProblem(yaml).message).toMatch(/expects allow, but the policy says deny \(rule protected-git-internals/);
  });

  it("an allow rule cannot override a deny rule", () => {
    const yaml = BASE.replace("    outcome: allow\n", "    outcome: allow\n    overrides: [no-rm]\n");
    expect(theProblem(yaml).message).toBe('rule "read-only": cannot override "no-rm": deny rules are never overridden');
  });

  it("approval settings on a rule that does not ask are refused", () => {
    expect(theProblem(BASE.replace("    outcome: deny\n", "    outcome: deny\n    requiredApprovals: 2\n")).message).toBe(
      'rule "no-rm": requiredApprovals only applies to ask rules, and this rule\'s outcome is deny',
    );
  });

  it("a typo in a reason's placeholder is refused", () => {
    expect(theProblem(BASE.replace("deletes files.", "deletes {pth}.")).message).toMatch(/^rule "no-rm": unknown placeholder \{pth\}/);
  });

  it("a rule may not take the id of one of Airlock's protections", () => {
    expect(theProblem(BASE.replace("id: no-rm", "id: protected-git-internals")).message).toMatch(/is the id of a protection Airlock always applies/);
  });

  it("several problems are all reported, in document order", () => {
    const yaml = BASE.replace("programs: [ls, cat]", "programz: [ls]").replace("outcome: deny", "outcome: nope");
    const found = problems(yaml);
    expect(found.map((p) => p.line)).toEqual([...found.map((p) => p.line)].sort((a, b) => a - b));
    expect(found).toHaveLength(2);
  });
});

describe("warnings", () => {
  it("a rule that can match only some of its tools is accepted with a warning", () => {
    const yaml = BASE.replace(
      "tools: [run_command]\n    match:\n      programs: [ls, cat]",
      "tools: [run_command, http_fetch]\n    match:\n      programs: [ls, cat]",
    );
    const result = validatePolicyYaml(yaml);
    expect(result.ok).toBe(true);
    expect(result.warnings.map((w) => w.message)).toEqual(['rule "read-only": never matches http_fetch calls (its match fields do not apply to http_fetch)']);
  });
});
