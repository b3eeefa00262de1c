import { describe, expect, it } from "vitest";
import { DEFAULT_POLICY } from "./default-policy";
import { decide, riskOfCall, type Policy, type PolicyRule, type ToolCallForPolicy } from "./policy";
import { presetPolicy } from "./presets";
import { decideUnderPolicy } from "./protected";

const run = (command: string): ToolCallForPolicy => ({ tool: "run_command", command });

describe("presets", () => {
  it("supervised decides exactly as the built-in default policy", () => {
    const supervised = presetPolicy("supervised");
    for (const command of ["ls", "rm -rf /", "npm test", "curl x | sh", "echo hi > a.txt", "git status"]) {
      const a = decide(run(command), supervised);
      const b = decide(run(command), DEFAULT_POLICY);
      expect([a.verdict, a.rule]).toEqual([b.verdict, b.rule]);
    }
  });

  it("strict lets only reads through the file tools run freely", () => {
    const strict = presetPolicy("strict");
    expect(decideUnderPolicy({ tool: "read_file", path: "README.md" }, strict)).toMatchObject({ verdict: "allow" });
    expect(decideUnderPolicy({ tool: "list_files", path: "." }, strict)).toMatchObject({ verdict: "allow" });
    expect(decideUnderPolicy(run("ls"), strict)).toMatchObject({ verdict: "ask", rule: "strict-commands" });
    expect(decideUnderPolicy({ tool: "run_tests" }, strict)).toMatchObject({ verdict: "ask" });
    expect(decideUnderPolicy(run("rm -rf ~"), strict)).toMatchObject({ verdict: "deny", rule: "destructive-delete" });
  });

  it("trusted allows common build and test commands, and nothing it should not", () => {
    const trusted = presetPolicy("trusted");
    for (const command of ["npm test", "npm run build", "make -j2", "cargo test", "go vet ./...", "git add -A && git commit -m wip", "mkdir -p out/x"]) {
      expect(decideUnderPolicy(run(command), trusted), command).toMatchObject({ verdict: "allow" });
    }
    expect(decideUnderPolicy(run("npm install left-pad"), trusted)).toMatchObject({ verdict: "ask" });
    expect(decideUnderPolicy(run("git push"), trusted)).toMatchObject({ verdict: "ask" });
    expect(decideUnderPolicy(run("make && rm -rf ~"), trusted)).toMatchObject({ verdict: "deny" });
    expect(decideUnderPolicy(run("./make"), trusted)).toMatchObject({ verdict: "ask", rule: "program-by-path" });
    expect(decideUnderPolicy(run("npm test > .git/hooks/pre-commit"), trusted)).toMatchObject({ verdict: "deny" });
  });
});

const rule = (r: Partial<PolicyRule> & Pick<PolicyRule, "id" | "outcome">): PolicyRule => ({
  description: "",
  tools: ["run_command"],
  match: {},
  reason: `${r.id} for {command}`,
  ...r,
});
const policy = (rules: PolicyRule[]): Policy => ({ id: "t", name: "t", description: "", default: { verdict: "ask", reason: "default" }, rules });

describe("rule outcomes and matching", () => {
  it("an allow rule overrides the ask rules it names, and only those", () => {
    const p = policy([
      rule({ id: "writes-ask", outcome: "ask", match: { writes: {} } }),
      rule({ id: "other-ask", outcome: "ask", match: { programs: ["tee"] } }),
      rule({ id: "echo-ok", outcome: "allow", match: { programs: ["echo", "tee"] }, overrides: ["writes-ask"] }),
    ]);
    expect(decide(run("echo hi > out.txt"), p)).toMatchObject({ verdict: "allow", rule: "echo-ok" });
    expect(decide(run("echo hi | tee out.txt"), p).parts?.[1]).toMatchObject({ verdict: "ask", rule: "other-ask" });
  });

  it("no override beats a deny rule", () => {
    const p = policy([
      rule({ id: "no-rm", outcome: "deny", match: { programs: ["rm"] } }),
      rule({ id: "rm-ok", outcome: "allow", match: { programs: ["rm"] }, overrides: ["no-rm"] }),
    ]);
    expect(decide(run("rm x"), p)).toMatchObject({ verdict: "deny", rule: "no-rm" });
  });

  it("ask rules carry approvals, self-approval and the approvers' role; the strictest wins", () => {
    const p = policy([
      rule({ id: "a", outcome: "ask", match: { programs: ["deploy"] }, requiredApprovals: 2 }),
      rule({ id: "b", outcome: "ask", match: { programs: ["deploy"] }, approverRole: "admin", allowSelfApproval: false }),
    ]);
    expect(decide(run("deploy"), p)).toMatchObject({ verdict: "ask", requiredApprovals: 2, allowSelfApproval: false, approverRole: "admin" });
    expect(decide(run("ls; deploy"), p)).toMatchObject({ verdict: "ask", requiredApprovals: 2, approverRole: "admin" });
  });

  it("matches on the risk Airlock works out", () => {
    const p = policy([
      rule({ id: "risky", outcome: "deny", tools: ["run_command", "http_fetch"], match: { risk: ["high"] } }),
      rule({ id: "fine", outcome: "allow", match: {} }),
    ]);
    expect(decide(run("cat README.md"), p)).toMatchObject({ verdict: "allow" });
    expect(decide(run("python3 -c 'print(1)'"), p)).toMatchObject({ verdict: "deny", rule: "risky" });
    expect(decide({ tool: "http_fetch", url: "https://example.com" }, p)).toMatchObject({ verdict: "deny", rule: "risky" });
    expect(riskOfCall(run("echo hi > a.txt"))).toBe("medium");
    expect(riskOfCall(run("ls && curl x"))).toBe("high");
    expect(riskOfCall({ tool: "read_file", path: "/workspace/a" })).toBe("low");
  });

  it("matches domains and ports of fetched URLs", () => {
    const p = policy([rule({ id: "registry", outcome: "allow", tools: ["http_fetch"], match: { url: { hosts: ["*.npmjs.org"], ports: [443] } } })]);
    expect(decide({ tool: "http_fetch", url: "https://registry.npmjs.org/x" }, p)).toMatchObject({ verdict: "allow", rule: "registry" });
    expect(decide({ tool: "http_fetch", url: "https://registry.npmjs.org:8443/x" }, p)).toMatchObject({ verdict: "ask", rule: "default" });
    expect(decide({ tool: "http_fetch", url: "https://evil.example/registry.npmjs.org" }, p)).toMatchObject({ verdict: "ask" });
  });
});
