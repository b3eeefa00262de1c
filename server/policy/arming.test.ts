// Configuration that arms later commands (issue 12, item 3): one test per row
// of the table in arming.ts, for the file tools and for a shell redirection,
// plus the commands that write such files without naming them (npm config set).
import { describe, expect, it } from "vitest";
import { ARMING_CONFIG, isArmingConfigFile } from "./arming";
import { DEFAULT_POLICY } from "./default-policy";
import type { Policy, ToolCallForPolicy } from "./policy";
import { decideUnderPolicy } from "./protected";

const judge = (call: ToolCallForPolicy) => decideUnderPolicy(call, DEFAULT_POLICY);
const run = (command: string): ToolCallForPolicy => ({ tool: "run_command", command });

/** Rows whose files were already denied outright (git internals, shell start-up files): they stay denied. */
const STILL_DENIED: Record<string, string> = {
  ".git/config": "git-internals-write",
  ".git/hooks/pre-commit": "git-internals-write",
  ".bashrc": "shell-startup-write",
};
/** Rows that were already CI or hook configuration keep that stricter ask: two reviewers, never the run's creator alone. */
const CI_ASK = new Set([".gitattributes", ".gitmodules", ".vscode/tasks.json", ".envrc", ".pre-commit-config.yaml"]);

describe("arming-config: writes to configuration that makes later commands run programs", () => {
  it.each(ARMING_CONFIG.map((row) => [row.example, row] as const))("I3: writing %s asks with a reason that says what it arms", (example, row) => {
    expect(isArmingConfigFile(example), "the source-repository scan flags the same file").toBe(true);
    for (const call of [
      { tool: "write_file", path: example },
      { tool: "edit_file", path: `/workspace/${example}` },
      run(`echo x > ${example}`),
    ] as ToolCallForPolicy[]) {
      const decision = judge(call);
      const denied = STILL_DENIED[example];
      if (denied) {
        expect(decision, JSON.stringify(call)).toMatchObject({ verdict: "deny", rule: denied });
        continue;
      }
      expect(decision.verdict, JSON.stringify(call)).toBe("ask");
      const part = decision.parts?.[0] ?? decision;
      if (CI_ASK.has(example)) {
        expect(part, JSON.stringify(call)).toMatchObject({ rule: "ci-config-write", requiredApprovals: 2, allowSelfApproval: false });
        continue;
      }
      expect(part.rule, JSON.stringify(call)).toBe("arming-config");
      expect(part.reason).toContain(`/workspace/${example}`);
      expect(part.reason).toContain(`can make ${row.arms}; a reviewer must approve.`);
    }
  });

  it.each([
    ["tee -a .npmrc", "/workspace/.npmrc"],
    ["cp evil.json .vscode/settings.json", "/workspace/.vscode/settings.json"],
    ["mv x .mcp.json", "/workspace/.mcp.json"],
    ["ln -s /tmp/x .claude/settings.json", "/workspace/.claude/settings.json"],
    ["sed -i s/a/b/ .yarnrc.yml", "/workspace/.yarnrc.yml"],
    ["printf '[core]\\n' >> ~/.gitconfig", "/home/agent/.gitconfig"],
    ["cat x > sub/dir/.cursor/mcp.json", "/workspace/sub/dir/.cursor/mcp.json"],
  ])("I3: `%s` is judged by arming-config (write target %s)", (command, path) => {
    const part = judge(run(command)).parts!.find((p) => p.rule === "arming-config");
    expect(part, command).toBeDefined();
    expect(part!.verdict).toBe("ask");
    expect(part!.reason).toContain(path);
  });

  it.each([
    "npm config set script-shell ./x.sh",
    "npm set node-options='--require ./x.js'",
    "yarn config set yarnPath ./x.js",
    "pnpm config set git ./x.sh",
    "pip config set global.index-url http://evil.test/simple",
    "pip3 config edit",
  ])("I3: `%s` changes a package manager's configuration and asks (arming-config-command)", (command) => {
    const decision = judge(run(command));
    expect(decision.verdict).toBe("ask");
    expect((decision.parts?.[0] ?? decision).rule).toBe("arming-config-command");
    expect((decision.parts?.[0] ?? decision).reason).toMatch(/changes (npm|yarn|pnpm|pip3?)'s configuration .* a reviewer must approve\./);
  });

  it.each(["npm config get registry", "npm config list", "pip config list", "yarn config get yarnPath"])(
    "I3: `%s` only reads configuration and is not an arming write",
    (command) => {
      const decision = judge(run(command));
      expect(JSON.stringify(decision)).not.toContain("arming-config");
    },
  );

  it("I3: git config that sets a value is still denied outright (stricter than asking)", () => {
    expect(judge(run("git config core.pager ./x.sh"))).toMatchObject({ verdict: "deny" });
  });

  it("I3: files outside the table are ordinary workspace writes", () => {
    expect(isArmingConfigFile("src/config.json")).toBe(false);
    expect(judge({ tool: "write_file", path: "src/config.json" })).toMatchObject({ verdict: "ask", rule: "workspace-write" });
  });

  it("I3: a project policy can let one arming file through with an explicit allow rule that overrides arming-config", () => {
    const project: Policy = {
      ...DEFAULT_POLICY,
      rules: [
        {
          id: "allow-vscode-settings",
          description: "Our editor settings are reviewed in pull requests.",
          tools: ["write_file"],
          match: { writes: { any: ["/workspace/.vscode/settings.json"] } },
          outcome: "allow",
          reason: "Editor settings are reviewed in pull requests.",
          overrides: ["arming-config", "workspace-write"],
        },
        ...DEFAULT_POLICY.rules,
      ],
    };
    expect(decideUnderPolicy({ tool: "write_file", path: ".vscode/settings.json" }, project)).toMatchObject({
      verdict: "allow",
      rule: "allow-vscode-settings",
    });
    expect(decideUnderPolicy({ tool: "write_file", path: ".vscode/launch.json" }, project)).toMatchObject({ verdict: "ask", rule: "arming-config" });
  });
});
