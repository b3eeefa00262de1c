import { describe, expect, it } from "vitest";
import { MAX_PARTS, parseCommand, shellNodesWalked, type ShellFlag, type SimpleCommand } from "./shell";

function commands(source: string, cwd?: string): SimpleCommand[] {
  const parsed = parseCommand(source, cwd ? { cwd } : {});
  if (!parsed.parsed) throw new Error(`did not parse: ${parsed.error}`);
  return parsed.commands;
}

function find(source: string, predicate: (c: SimpleCommand) => boolean): SimpleCommand {
  const found = commands(source).find(predicate);
  if (!found) throw new Error(`no matching part in ${source}`);
  return found;
}

function named(source: string, name: string): SimpleCommand {
  return find(source, (c) => c.name === name);
}

function flagsOf(source: string, name: string): ShellFlag[] {
  return named(source, name).flags;
}

describe("parseCommand", () => {
  it("flattens lists, pipes and compound commands into every simple command", () => {
    const source =
      "a && b || c; d | e |& f; if g; then h; elif i; then j; else k; fi; for x in 1 2; do l; done; while m; do n; done; case y in z) o;; esac; { p; }; (q)";
    expect(commands(source).map((c) => c.name)).toEqual("abcdefghijklmnopq".split(""));
  });

  it("marks commands in a subshell and in a pipeline", () => {
    expect(named("(ls)", "ls").flags).toContain("subshell");
    expect(named("ls | wc", "wc").inPipeline).toBe(true);
    expect(named("ls; wc", "wc").inPipeline).toBe(false);
  });

  it("removes quotes and decodes ANSI-C strings the way bash does", () => {
    expect(commands(`$'\\x72\\x6d' -rf /`)[0]!.argv).toEqual(["rm", "-rf", "/"]);
    expect(commands(`r""m 'a b' "c\\"d" e\\ f`)[0]!.argv).toEqual(["rm", "a b", 'c"d', "e f"]);
    expect(commands(`\\rm -rf /`)[0]!.name).toBe("rm");
  });

  it("expands a leading tilde and brace expressions", () => {
    expect(commands("ls ~ ~/x ~root '~'")[0]!.argv).toEqual(["ls", "/home/agent", "/home/agent/x", "/root", "~"]);
    const braces = commands("cat src/{a,b}.ts x{1..3}")[0]!;
    expect(braces.argv).toEqual(["cat", "src/a.ts", "src/b.ts", "x1", "x2", "x3"]);
    expect(braces.flags).toContain("brace-expansion");
  });

  it("records unquoted glob characters", () => {
    const [cmd] = commands("ls *.ts '*.js' \\*.md [");
    expect(cmd!.args.map((a) => a.glob)).toEqual([false, true, false, false, false]);
  });

  it("reports redirections with operator, descriptor and target", () => {
    const [cmd] = commands("cmd > out 2>&1 >> log < in &> all");
    expect(cmd!.redirects.map((r) => [r.op, r.fd, r.target])).toEqual([
      [">", null, "out"],
      [">&", "2", "1"],
      [">>", null, "log"],
      ["<", null, "in"],
      ["&>", null, "all"],
    ]);
  });

  it("keeps here-doc and here-string bodies when they are literal", () => {
    const [quoted] = commands("cat <<'EOF'\n$HOME is $(id)\nEOF");
    expect(quoted!.redirects[0]).toMatchObject({ op: "<<", heredoc: "$HOME is $(id)\n" });
    const [expanding] = commands("cat <<EOF\n$HOME\nEOF");
    expect(expanding!.redirects[0]!.heredoc).toBeNull();
    const [herestring] = commands("cat <<< 'hi there'");
    expect(herestring!.redirects[0]).toMatchObject({ op: "<<<", heredoc: "hi there\n" });
  });

  it("judges the commands inside $(…), backticks and <(…) as parts of their own", () => {
    const parts = commands("echo $(whoami) `id` <(ls)");
    expect(parts.map((p) => p.name)).toEqual(["whoami", "id", "ls", "echo"]);
    expect(parts[0]!.flags).toContain("in-substitution");
    expect(parts[3]!.flags).toEqual(expect.arrayContaining(["command-substitution", "process-substitution"]));
  });

  it("flags what cannot be seen statically", () => {
    expect(flagsOf("echo $HOME ${X:-y}", "echo")).toContain("parameter-expansion");
    expect(flagsOf("echo $((1+2))", "echo")).toContain("arithmetic");
    expect(commands("$X -la")[0]!.flags).toContain("dynamic-program");
    expect(commands("/bin/l? -la")[0]!.flags).toContain("glob-program");
    expect(flagsOf('eval "$X"', "eval")).toContain("eval");
    expect(flagsOf("source x.sh", "source")).toContain("source");
    expect(flagsOf(". x.sh", ".")).toContain("source");
    expect(flagsOf("exec ls", "exec")).toContain("exec");
    expect(flagsOf("sleep 5 &", "sleep")).toContain("background");
    expect(flagsOf("python3 -c 'print(1)'", "python3")).toContain("interpreter-code");
    expect(flagsOf("node -e 'x'", "node")).toContain("interpreter-code");
    expect(flagsOf("perl -ne 'print'", "perl")).toContain("interpreter-code");
    expect(flagsOf('bash -c "$X"', "bash")).toContain("interpreter-code");
    expect(flagsOf("bash run.sh", "bash")).toContain("script-file");
    expect(flagsOf("curl x | sh", "sh")).toContain("pipe-into-shell");
    expect(flagsOf("sh <<< 'ls'", "sh")).toContain("heredoc-into-shell");
    expect(commands("f() { ls; }")[0]!.flags).toContain("function-definition");
    expect(flagsOf("alias ll='ls -l'", "alias")).toContain("alias-definition");
    expect(flagsOf("PATH=/tmp ls", "ls")).toContain("sensitive-env");
  });

  it("names a program only when it is the system's", () => {
    expect(commands("/usr/bin/ls")[0]!.name).toBe("ls");
    expect(commands("/bin/ls")[0]!.name).toBe("ls");
    const local = commands("./ls")[0]!;
    expect(local.name).toBeNull();
    expect(local.program).toBe("./ls");
    expect(local.flags).toContain("program-by-path");
    expect(commands("/workspace/ls")[0]!.name).toBeNull();
    expect(commands("../../usr/bin/rm x")[0]!.name).toBe("rm");
  });

  it("parses literal code given to a shell and judges it too", () => {
    const parts = commands(`bash -lc "ls; rm -rf /"`);
    expect(parts[0]!.flags).toContain("inline-shell");
    expect(parts.slice(1).map((p) => [p.name, p.origin, p.via])).toEqual([
      ["ls", "bash -c", ["bash"]],
      ["rm", "bash -c", ["bash"]],
    ]);
    expect(named("eval 'rm -rf /'", "rm").origin).toBe("eval");
    expect(named("sh <<EOF\nrm -rf /\nEOF", "rm").origin).toBe("here-doc into sh");
    expect(named("trap 'rm x' EXIT", "rm").origin).toBe("trap");
  });

  it("decodes what is piped into a shell when it is knowable", () => {
    expect(named("echo cm0gLXJmIC8= | base64 -d | sh", "rm").argv).toEqual(["rm", "-rf", "/"]);
    expect(named("echo 726d202f | xxd -r -p | bash", "rm").argv).toEqual(["rm", "/"]);
    expect(named("printf 'rm x\\n' | sh", "rm").argv).toEqual(["rm", "x"]);
    expect(named("cat <<'EOF' | sh\nrm y\nEOF", "rm").argv).toEqual(["rm", "y"]);
  });

  it("unwraps wrappers and judges the wrapped command", () => {
    const parts = commands("timeout -s KILL 5 nice -n 3 env A=1 nohup stdbuf -oL rm -rf /");
    expect(parts.map((p) => p.name)).toEqual(["timeout", "nice", "env", "nohup", "stdbuf", "rm"]);
    expect(parts.at(-1)!.via).toEqual(["timeout", "nice", "env", "nohup", "stdbuf"]);
    expect(parts.at(-1)!.argv).toEqual(["rm", "-rf", "/"]);
    expect(parts[0]!.flags).toContain("wrapper");
    expect(named("sudo -u root ls", "ls").via).toEqual(["sudo"]);
    expect(named("command rm x", "rm").via).toEqual(["command"]);
    expect(commands("command -v ls").map((p) => p.name)).toEqual(["command"]);
    expect(named("busybox rm x", "rm").via).toEqual(["busybox"]);
  });

  it("judges commands run by xargs and find -exec, marking their input-driven arguments", () => {
    expect(named("xargs -n1 rm -f", "rm").flags).toContain("args-from-input");
    expect(flagsOf("xargs -n1 rm -f", "xargs")).toContain("xargs");
    const inner = named("find . -name x -exec rm {} \\; -o -execdir chmod 600 {} +", "chmod");
    expect(inner.argv).toEqual(["chmod", "600", "{}"]);
    expect(flagsOf("find . -exec rm {} \\;", "find")).toContain("find-exec");
  });

  it("flags a fork bomb", () => {
    expect(commands(":(){ :|:& };:")[0]!.flags).toEqual(expect.arrayContaining(["function-definition", "fork-bomb"]));
    expect(commands("f(){ f; }; f")[0]!.flags).not.toContain("fork-bomb");
  });

  it("substitutes values assigned earlier into a speculative copy of a dynamic command", () => {
    const speculative = commands("a=r; b=m; $a$b -rf /").filter((c) => c.speculative);
    expect(speculative.map((c) => [c.argv, c.origin])).toEqual([[["rm", "-rf", "/"], "with a=r, b=m"]]);
    expect(named('X="rm -rf /"; $X', "rm").argv).toEqual(["rm", "-rf", "/"]);
    expect(named("rm -rf $HOME", "rm").argv).toContain("$HOME");
    expect(find("rm -rf $HOME", (c) => !!c.speculative).argv).toEqual(["rm", "-rf", "/home/agent"]);
  });

  it("follows cd so later paths resolve against every directory the command may be in", () => {
    expect(named("cd / && rm -rf *", "rm").cwds).toEqual(["/workspace", "/"]);
    // If `cd sub` fails, `cd ..` lands in /: both are possible.
    expect(named("cd sub; cd ..; ls", "ls").cwds).toEqual(["/workspace", "/workspace/sub", "/"]);
  });

  it("returns a parse error instead of guessing", () => {
    expect(parseCommand("ls (")).toMatchObject({ parsed: false });
    expect(parseCommand("echo 'open")).toMatchObject({ parsed: false, error: expect.stringContaining("quote") });
    expect(parseCommand("ls\0rm")).toMatchObject({ parsed: false, error: expect.stringContaining("NUL") });
    expect(parseCommand("x".repeat(70_000))).toMatchObject({ parsed: false });
  });

  it("has nothing to run for blank lines and comments", () => {
    expect(parseCommand("  # only a comment")).toMatchObject({ parsed: true, commands: [] });
  });

  it("stops following code strings nested too deep", () => {
    let code = "ls";
    for (let i = 0; i < 8; i++) code = `eval '${code.replace(/'/g, `'\\''`)}'`;
    expect(commands(code).some((c) => c.flags.includes("too-deep"))).toBe(true);
  });

  it("caps the number of parts", () => {
    const parts = commands("ls;".repeat(MAX_PARTS + 50));
    expect(parts.length).toBe(MAX_PARTS + 1);
    expect(parts.at(-1)!.flags).toContain("too-many-parts");
  });

  it("P1: a command at the size cap with far more parts than the cap walks no more of its tree than one at the cap", () => {
    const atCap = Array.from({ length: MAX_PARTS }, () => "ls").join(" | ");
    let longest = "ls";
    while (longest.length + 5 <= 16_384) longest += " | ls";

    const w0 = shellNodesWalked();
    parseCommand(atCap);
    const atCapWalked = shellNodesWalked() - w0;
    const w1 = shellNodesWalked();
    const parsed = parseCommand(longest);
    const longestWalked = shellNodesWalked() - w1;

    expect(parsed.parsed && parsed.commands.length).toBe(MAX_PARTS + 1);
    expect(longestWalked).toBeLessThanOrEqual(atCapWalked);
  });

  it("leaves the process-wide stack trace limit alone", () => {
    const before = Error.stackTraceLimit;
    parseCommand("echo $(ls) | sh -c 'eval x'");
    expect(Error.stackTraceLimit).toBe(before);
    expect(Number.isFinite(Error.stackTraceLimit)).toBe(true);
  });
});
