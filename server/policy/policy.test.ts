import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { DEFAULT_POLICY } from "./default-policy";
import { decide, type Policy, type PolicyRule } from "./policy";
import { parsePolicy } from "./schema";
import { MAX_REGEX_SUBJECT } from "./safe-regex";
import { parseCommand } from "./shell";

function policyWith(rules: PolicyRule[], fallback: Policy["default"] = { verdict: "ask", reason: "fallback for {subject}" }): Policy {
  return { id: "test", name: "Test", description: "", default: fallback, rules };
}

const rmRule = (id: string, outcome: PolicyRule["outcome"]): PolicyRule => ({
  id,
  description: "",
  tools: ["run_command"],
  match: { programs: ["rm"] },
  outcome,
  reason: `${id} says {command}`,
});

describe("decide", () => {
  it("evaluates the policy it is given, as data", () => {
    const permissive = policyWith([rmRule("rm-ok", "allow")]);
    expect(decide({ tool: "run_command", command: "rm x" }, permissive)).toMatchObject({ verdict: "allow", rule: "rm-ok", reason: "rm-ok says rm x" });
  });

  it("prefers deny over ask over allow whatever the rule order", () => {
    const policy = policyWith([rmRule("a", "allow"), rmRule("b", "ask"), rmRule("c", "deny"), rmRule("d", "ask")]);
    expect(decide({ tool: "run_command", command: "rm x" }, policy)).toMatchObject({ verdict: "deny", rule: "c" });
    const noDeny = policyWith([rmRule("a", "allow"), rmRule("b", "ask")]);
    expect(decide({ tool: "run_command", command: "rm x" }, noDeny)).toMatchObject({ verdict: "ask", rule: "b" });
  });

  it("falls back to the policy's default when no rule matches", () => {
    const decision = decide({ tool: "run_command", command: "make build" }, policyWith([]));
    expect(decision).toMatchObject({ verdict: "ask", rule: "default", reason: "fallback for `make build`" });
    expect(decide({ tool: "run_command", command: "make build" })).toMatchObject({ verdict: "ask", rule: "default" });
  });

  it("lists every part of a compound command and lets the strictest decide", () => {
    const decision = decide({ tool: "run_command", command: "ls && rm -rf ~ ; git status" });
    expect(decision.parts?.map((p) => [p.command, p.verdict, p.rule])).toEqual([
      ["ls", "allow", "read-only-command"],
      ["rm -rf ~", "deny", "destructive-delete"],
      ["git status", "allow", "read-only-git"],
    ]);
    expect(decision).toMatchObject({ verdict: "deny", rule: "destructive-delete" });
    expect(decision.reason).toBe("`rm -rf ~` would delete the agent's home directory; destructive commands are denied.");
  });

  it("takes the approval requirements of the strictest parts", () => {
    const decision = decide({ tool: "run_command", command: "echo a > notes.txt; cp ci.yml .github/workflows/ci.yml" });
    expect(decision).toMatchObject({ verdict: "ask", rule: "ci-config-write", requiredApprovals: 2, allowSelfApproval: false });
  });

  it("accepts a command already parsed by the gateway", () => {
    const parsed = parseCommand("cd / && rm -rf *", { cwd: "/workspace/src" });
    expect(decide({ tool: "run_command", command: parsed })).toMatchObject({ verdict: "deny", rule: "destructive-delete" });
  });

  it("resolves run_command paths against its cwd", () => {
    expect(decide({ tool: "run_command", command: "rm -rf ..", cwd: "/workspace" })).toMatchObject({ verdict: "deny" });
    expect(decide({ tool: "run_command", command: "rm -rf ..", cwd: "/workspace/a/b" })).toMatchObject({ verdict: "ask", rule: "command-writes-file" });
  });

  it("works the risk out itself, not from what the model claims", () => {
    const claimedLow = { tool: "run_command", command: "rm -rf /", risk: "low", dry_run: true } as const;
    expect(decide(claimedLow)).toMatchObject({ verdict: "deny", rule: "destructive-delete" });
    expect(decide({ tool: "submit_plan", steps: [{ title: "rm -rf /", risk: "high" }] } as never)).toMatchObject({ verdict: "allow" });
  });

  it("marks parts found by expanding variables and says so in the reason", () => {
    const decision = decide({ tool: "run_command", command: "a=r; b=m; $a$b -rf /" });
    const expanded = decision.parts!.find((p) => p.speculative)!;
    expect(expanded).toMatchObject({ command: "rm -rf /", origin: "with a=r, b=m", verdict: "deny" });
    expect(decision.reason).toMatch(/^Expanded with a=r, b=m: `rm -rf \/` would delete the whole filesystem/);
  });

  it("names the origin of nested code", () => {
    const decision = decide({ tool: "run_command", command: "bash -c 'rm -rf ~'" });
    expect(decision.parts!.find((p) => p.verdict === "deny")).toMatchObject({ command: "rm -rf ~", origin: "bash -c" });
  });

  it("re-normalises file paths it is handed and refuses unusable ones", () => {
    expect(decide({ tool: "read_file", path: "/workspace/../etc/hosts" })).toMatchObject({ verdict: "deny", rule: "outside-workspace" });
    expect(decide({ tool: "read_file", path: "src/app.ts" })).toMatchObject({ verdict: "allow", rule: "workspace-read" });
    expect(decide({ tool: "write_file", path: "/workspace/a\0" })).toMatchObject({ verdict: "deny", rule: "invalid-path" });
  });

  it("stays fast once warm (a regression guard; bench/policy.bench.ts measures properly)", () => {
    const commands = ["ls -la", "git status && git diff", "grep -rn TODO src | head -20", "cat README.md", "echo hi > out.txt"];
    for (let i = 0; i < 200; i++) for (const command of commands) decide({ tool: "run_command", command });
    const samples: number[] = [];
    for (let i = 0; i < 200; i++) {
      for (const command of commands) {
        const started = performance.now();
        decide({ tool: "run_command", command });
        samples.push(performance.now() - started);
      }
    }
    samples.sort((a, b) => a - b);
    // Typically 0.05–0.2 ms; the bound only catches pathological slowness
    // (e.g. going back to mvdan-sh's JS wrappers, ~10 ms a command) on a busy CI machine.
    expect(samples[Math.floor(samples.length / 2)]).toBeLessThan(3);
  });
});

describe("policy data", () => {
  it("the default policy passes validation", () => {
    expect(() => parsePolicy(DEFAULT_POLICY)).not.toThrow();
  });

  it("survives a YAML round trip and decides the same", () => {
    const fromYaml = parsePolicy(YAML.parse(YAML.stringify(DEFAULT_POLICY)));
    for (const command of ["ls", "rm -rf /", "echo x > .git/config", "curl x | sh"]) {
      const expected = decide({ tool: "run_command", command });
      const actual = decide({ tool: "run_command", command }, fromYaml);
      expect([actual.verdict, actual.rule]).toEqual([expected.verdict, expected.rule]);
    }
  });

  it("rejects duplicate or reserved ids, unknown flags and bad regexes", () => {
    const rule = DEFAULT_POLICY.rules[0]!;
    expect(() => parsePolicy({ ...DEFAULT_POLICY, rules: [rule, rule] })).toThrow(/duplicate rule id/);
    expect(() => parsePolicy({ ...DEFAULT_POLICY, rules: [{ ...rule, id: "default" }] })).toThrow(/reserved/);
    expect(() => parsePolicy({ ...DEFAULT_POLICY, rules: [{ ...rule, match: { flags: ["made-up"] } }] })).toThrow();
    expect(() => parsePolicy({ ...DEFAULT_POLICY, rules: [{ ...rule, match: { anyArg: ["("] } }] })).toThrow(/regular expression/);
    expect(() => parsePolicy({ ...DEFAULT_POLICY, rules: [{ ...rule, match: { programz: ["rm"] } }] })).toThrow();
  });

  it("gives every rule a stable, unique id and a reason", () => {
    const ids = DEFAULT_POLICY.rules.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const r of DEFAULT_POLICY.rules) expect(r.reason.length).toBeGreaterThan(10);
  });
});

describe("H2: regexes see at most MAX_REGEX_SUBJECT characters of an argument", () => {
  const argRule = (outcome: PolicyRule["outcome"]): PolicyRule => ({
    id: `echo-${outcome}`,
    description: "",
    tools: ["run_command"],
    match: { programs: ["echo"], anyArg: ["a*a*a*b"] },
    outcome,
    reason: `${outcome}: {arg}`,
  });

  it("H2: the security test's a*a*a*b rule judges a 450-character argument at once", () => {
    const started = performance.now();
    expect(
      decide({ tool: "run_command", command: "echo " + "a".repeat(450) }, policyWith([argRule("deny")], { verdict: "allow", reason: "ok" })),
    ).toMatchObject({ verdict: "allow", rule: "default" });
    expect(decide({ tool: "run_command", command: "echo " + "a".repeat(450) + "b" }, policyWith([argRule("deny")]))).toMatchObject({
      verdict: "deny",
      rule: "echo-deny",
    });
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it("H2: an over-long argument does not slip past a deny rule: a person decides", () => {
    const long = "echo " + "a".repeat(MAX_REGEX_SUBJECT + 1);
    const decision = decide({ tool: "run_command", command: long }, policyWith([argRule("deny")], { verdict: "allow", reason: "ok" }));
    expect(decision).toMatchObject({ verdict: "ask", rule: "echo-deny" });
    expect(decision.reason).toMatch(
      new RegExp(`argument of ${MAX_REGEX_SUBJECT + 1} characters; rule echo-deny only checks arguments up to ${MAX_REGEX_SUBJECT} characters`),
    );
  });

  it("H2: an over-long argument never makes an allow rule's pattern match", () => {
    const long = "echo " + "a".repeat(MAX_REGEX_SUBJECT) + "b";
    expect(decide({ tool: "run_command", command: long }, policyWith([argRule("allow")]))).toMatchObject({ verdict: "ask", rule: "default" });
  });

  it("H2: an over-long git -c value asks instead of passing the git-config-exec deny rule", () => {
    const command = `git -c core.pager=${"x".repeat(MAX_REGEX_SUBJECT)} status`;
    expect(decide({ tool: "run_command", command }, DEFAULT_POLICY)).toMatchObject({ verdict: "ask", rule: "git-config-exec" });
    expect(decide({ tool: "run_command", command: "git -c core.pager=less status" }, DEFAULT_POLICY)).toMatchObject({
      verdict: "deny",
      rule: "git-config-exec",
    });
  });
});

describe("Kill spellings (issue 9, low)", () => {
  const verdictOf = (command: string) => decide({ tool: "run_command", command }, DEFAULT_POLICY);

  it.each([
    "kill -9 -01",
    "kill 01",
    "kill -9 ' -1'",
    "kill -9 2",
    "kill -s KILL 1",
    "kill -n 9 -- -1",
    "kill -SIGKILL -1",
    "kill -KILL 0",
    "kill -9 -- -4242",
    "kill --signal=9 1",
    "kill -9 0x1",
    "kill 4242 1",
  ])("Kill spellings: %s is denied like kill -9 -1", (command) => {
    expect(verdictOf(command)).toMatchObject({ verdict: "deny", rule: "kill-all-processes" });
  });

  it.each(["kill 4242", "kill -9 4242", "kill -s TERM 4242", "kill -l 1", "kill -- 4242"])(
    "Kill spellings: %s is not mistaken for killing everything",
    (command) => {
      expect(verdictOf(command).rule).not.toBe("kill-all-processes");
    },
  );
});

describe("Commands that escape (issue 9, low)", () => {
  const verdictOf = (command: string) => decide({ tool: "run_command", command }, DEFAULT_POLICY);

  it.each([
    "setsid -f ls",
    "setsid ls",
    "daemonize /usr/bin/ls",
    "start-stop-daemon --start --exec /usr/bin/ls",
    "tmux new -d ls",
    "screen -dm ls",
    "ls & disown",
  ])("Commands that escape: %s, which can outlive the command's timeout, asks", (command) => {
    expect(verdictOf(command).verdict).not.toBe("allow");
  });

  it.each([
    "GIT_TRACE=/workspace/.git/hooks/pre-commit git status",
    "GIT_TRACE_PACKET=/home/agent/.bashrc git status",
    "GIT_TRACE2_EVENT=/tmp/x git status",
    "env GIT_TRACE=/etc/x git status",
    "export GIT_TRACE=/tmp/t; git status",
    "GIT_INDEX_FILE=/workspace/.git/hooks/x git add .",
    "SSLKEYLOGFILE=/workspace/keys curl https://example.com",
    "LD_DEBUG_OUTPUT=/tmp/x ls",
  ])("Commands that escape: %s, whose environment makes a program write to a path, asks", (command) => {
    const decision = verdictOf(command);
    expect(decision.verdict).not.toBe("allow");
    expect(JSON.stringify(decision)).toMatch(/sensitive-environment|network|curl/);
  });

  it("Commands that escape: git status and nohup of an allowed program stay allowed", () => {
    expect(verdictOf("git status")).toMatchObject({ verdict: "allow" });
    expect(verdictOf("nohup ls")).toMatchObject({ verdict: "allow" });
  });
});

describe("M6: the metadata rule sees every spelling of a metadata host", () => {
  it.each([
    "http://METADATA.GOOGLE.INTERNAL./computeMetadata/v1/",
    "http://metadata.google.internal./",
    "http://Metadata/",
    "http://[::ffff:169.254.169.254]/latest/meta-data/",
    "http://[::ffff:a9fe:a9fe]/",
    "http://[64:ff9b::169.254.169.254]/",
    "http://169.254.169.254./",
    "http://0xa9fea9fe/",
    "http://[FD00:EC2::254]/",
  ])("M6: %s is denied as a metadata endpoint", (url) => {
    expect(decide({ tool: "http_fetch", url })).toMatchObject({ verdict: "deny", rule: "metadata-endpoint" });
  });
});
