import { describe, expect, it } from "vitest";
import { decide } from "./policy";
import { FIND_WORDS, GIT_GLOBAL, GIT_SUBCOMMANDS, judgeReadOnly, READ_ONLY_PROGRAMS, sedScriptEffect, type Finding, type OptionRow } from "./readonly";
import { parseCommand, type SimpleCommand } from "./shell";

function part(source: string): SimpleCommand {
  const parsed = parseCommand(source);
  if (!parsed.parsed) throw new Error(parsed.error);
  return parsed.commands[0]!;
}

const judge = (source: string): Finding | null => judgeReadOnly(part(source));
const verdict = (source: string) => decide({ tool: "run_command", command: source });

// ---------------------------------------------------------------------------
// One test per row that makes a read-only program more than a reader.

/** Values for rows whose effect depends on the value. */
const JUDGED_VALUES: Record<string, string> = { "-f": "backup@host:/x.tar", "-C": "/tmp/elsewhere", "-c": "core.pager=./x.sh", "--config-env": "core.pager=X" };

interface EffectRow {
  label: string;
  command: string;
  spelled: string;
}

function exampleFor(prefix: string, row: OptionRow, operand: string): EffectRow {
  const name = row.names[0]!;
  const value = JUDGED_VALUES[name] ?? "./x.sh";
  const spelled = name;
  const spelledValue = row.value === "required" ? ` ${value}` : row.value === "optional" && row.judge ? `=${value}` : "";
  const command = `${prefix} ${name}${spelledValue} ${operand}`;
  return { label: `${prefix} ${row.names.join("/")}${row.value === "required" ? " VALUE" : ""}: ${row.why ?? "judged by its value"}`, command, spelled };
}

const EFFECT_ROWS: EffectRow[] = [];
for (const [program, table] of Object.entries(READ_ONLY_PROGRAMS)) {
  const operand = program === "sed" ? "p README.md" : "README.md";
  for (const row of table.options) if (row.effect || row.judge) EFFECT_ROWS.push(exampleFor(program, row, operand));
}
for (const [sub, table] of Object.entries(GIT_SUBCOMMANDS)) {
  for (const row of table.options) if (row.effect || row.judge) EFFECT_ROWS.push(exampleFor(`git ${sub}`, row, "README.md"));
}
for (const row of GIT_GLOBAL) {
  if (!row.effect && !row.judge) continue;
  const example = exampleFor("git", row, "log");
  EFFECT_ROWS.push(example);
}
for (const row of FIND_WORDS)
  if (row.effect) EFFECT_ROWS.push({ ...exampleFor("find .", row, ""), command: `find . ${row.names[0]} ${row.value ? "./x.sh {} \\;" : ""}` });

describe("options that make a read-only program do more than read (one test per row)", () => {
  it("covers the issue's examples among the rows", () => {
    const labels = EFFECT_ROWS.map((r) => r.label).join("\n");
    for (const needle of [
      "rg --pre",
      "rg --hostname-bin",
      "rg -z/--search-zip",
      "git -p/--paginate",
      "git --exec-path",
      "git -c",
      "git -C",
      "man -P/--pager",
      "sort --compress-program",
    ]) {
      expect(labels).toContain(needle);
    }
    expect(EFFECT_ROWS.length).toBeGreaterThan(60);
  });

  it.each(EFFECT_ROWS.map((r) => [r.label, r] as const))("%s", (_label, row) => {
    const finding = judge(row.command);
    expect(finding, row.command).toMatchObject({ kind: "effect" });
    expect((finding as { option: string }).option).toContain(row.spelled);
    const decision = verdict(row.command);
    expect(decision.verdict, `${row.command}: ${decision.reason}`).not.toBe("allow");
    if (decision.rule === "read-only-program-effect") expect(decision.reason).toContain(row.spelled);
  });
});

// ---------------------------------------------------------------------------
// Environment variables that make a program run another (one test per row).

const ENV_ROWS: { variable: string; command: string }[] = [
  { variable: "LESSOPEN", command: "LESSOPEN='|./x.sh %s' cat README.md" },
  { variable: "LESSCLOSE", command: "LESSCLOSE='./x.sh %s %s' cat README.md" },
  { variable: "LESS", command: "LESS='+!./x.sh' cat README.md" },
  { variable: "PAGER", command: "PAGER=./x.sh git -p log" },
  { variable: "MANPAGER", command: "MANPAGER=./x.sh man ls" },
  { variable: "MANOPT", command: "MANOPT='-P ./x.sh' man ls" },
  { variable: "BROWSER", command: "BROWSER=./x.sh man -H ls" },
  { variable: "EDITOR", command: "EDITOR=./x.sh git log" },
  { variable: "VISUAL", command: "VISUAL=./x.sh git log" },
  { variable: "GIT_PAGER", command: "GIT_PAGER=./x.sh git log" },
  { variable: "GIT_EXTERNAL_DIFF", command: "GIT_EXTERNAL_DIFF=./x.sh git diff" },
  { variable: "GIT_SSH_COMMAND", command: "GIT_SSH_COMMAND=./x.sh git status" },
  { variable: "GIT_CONFIG_COUNT", command: "GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=core.pager GIT_CONFIG_VALUE_0=./x.sh git log" },
  { variable: "GIT_CONFIG_KEY_0", command: "GIT_CONFIG_KEY_0=core.pager git log" },
  { variable: "GIT_CONFIG_GLOBAL", command: "GIT_CONFIG_GLOBAL=./evil.gitconfig git log" },
  { variable: "GIT_EXEC_PATH", command: "GIT_EXEC_PATH=./bin git status" },
  { variable: "GIT_DIR", command: "GIT_DIR=/tmp/repo git log" },
  { variable: "RIPGREP_CONFIG_PATH", command: "RIPGREP_CONFIG_PATH=./rgrc rg foo" },
  { variable: "TAR_OPTIONS", command: "TAR_OPTIONS=--to-command=./x.sh tar -tf a.tar" },
  { variable: "XDG_CONFIG_HOME", command: "XDG_CONFIG_HOME=./cfg git log" },
  { variable: "NODE_OPTIONS", command: "NODE_OPTIONS='--require ./x.js' cat README.md" },
  { variable: "PYTHONSTARTUP", command: "PYTHONSTARTUP=./x.py cat README.md" },
  { variable: "PERL5OPT", command: "PERL5OPT=-Mx cat README.md" },
  { variable: "BASH_ENV", command: "BASH_ENV=./x.sh cat README.md" },
  { variable: "ENV", command: "ENV=./x.sh cat README.md" },
  { variable: "LD_PRELOAD", command: "LD_PRELOAD=./x.so cat README.md" },
  { variable: "LD_AUDIT", command: "LD_AUDIT=./x.so ls" },
];

describe("environment that makes a read-only program run another program (one test per row)", () => {
  it.each(ENV_ROWS.map((r) => [r.variable, r] as const))("%s", (_name, row) => {
    for (const command of [row.command, `env ${row.command}`, `export ${row.variable}=./x; ls`]) {
      const decision = verdict(command);
      expect({ verdict: decision.verdict, rule: decision.rule }, `${command}: ${decision.reason}`).toEqual({ verdict: "ask", rule: "sensitive-environment" });
    }
  });
});

// ---------------------------------------------------------------------------
// Spellings: every way the program itself reads an option.

describe("options are read the way each program reads them", () => {
  it("issue 12: `git -ccore.pager=./x.sh -p log` is read as git reads -c with an attached value", () => {
    expect(judge("git -ccore.pager=./x.sh -p log")).toMatchObject({ kind: "effect", option: "-ccore.pager=./x.sh", effect: "runs-program" });
    expect(judge("git -c core.pager=./x.sh log")).toMatchObject({ kind: "effect", option: "-c", effect: "runs-program" });
    expect(judge("git --config-env=core.pager=ENVVAR log")).toMatchObject({ kind: "effect", effect: "runs-program" });
    expect(verdict("git -ccore.pager=./x.sh -p log").verdict).toBe("deny");
  });

  it("issue 12: `rg --hostname-bin ./x.sh foo` asks, naming the option", () => {
    const decision = verdict("rg --hostname-bin ./x.sh foo");
    expect(decision).toMatchObject({ verdict: "ask", rule: "read-only-program-effect" });
    expect(decision.reason).toContain("--hostname-bin");
    expect(verdict("rg --hostname-bin=./x.sh foo")).toMatchObject({ verdict: "ask", rule: "read-only-program-effect" });
  });

  it("reads attached short values, clusters and numbers as options", () => {
    expect(judge("head -n5 README.md")).toEqual({ kind: "read-only" });
    expect(judge("head -5 README.md")).toEqual({ kind: "read-only" });
    expect(judge("ls -laR src")).toEqual({ kind: "read-only" });
    expect(judge("grep -rnie foo src")).toEqual({ kind: "read-only" });
    expect(judge("sort -rnk2 data.txt")).toEqual({ kind: "read-only" });
    expect(judge("sort -rno out.txt data.txt")).toMatchObject({ kind: "effect", option: "-rno", effect: "writes" });
    expect(judge("sort -ro/tmp/out data.txt")).toMatchObject({ kind: "effect", effect: "writes" });
    expect(judge("git -C/tmp/elsewhere log")).toMatchObject({ kind: "effect", effect: "changes-directory" });
    expect(judge("git -C src log")).toEqual({ kind: "read-only" });
  });

  it("reads --opt=value and --opt value alike, and follows GNU abbreviations where the program accepts them", () => {
    expect(judge("sort --compress-program=gzip big.txt")).toMatchObject({ kind: "effect", option: "--compress-program=gzip" });
    expect(judge("sort --compress-prog gzip big.txt")).toMatchObject({ kind: "effect", option: "--compress-prog" });
    expect(judge("sort --comp=gzip big.txt")).toMatchObject({ kind: "effect" });
    // Ambiguous for GNU sort (--check, --compress-program): sort refuses it, the policy asks.
    expect(judge("sort --c big.txt")).toMatchObject({ kind: "unknown-option", option: "--c" });
    // An abbreviation of a harmless option still asks: the table cannot rule out an option it lacks with exactly that name.
    expect(judge("ls --all --human")).toMatchObject({ kind: "unknown-option", option: "--human (taken as --human-readable)" });
    expect(judge("ls --all --human-readable")).toEqual({ kind: "read-only" });
    // ripgrep takes no abbreviations: an abbreviation is unknown, and asks.
    expect(judge("rg --hostname=./x.sh foo")).toMatchObject({ kind: "unknown-option", option: "--hostname" });
    expect(judge("rg --hidden foo")).toEqual({ kind: "read-only" });
  });

  it("`--` ends the options", () => {
    expect(judge("grep -- --pre README.md")).toEqual({ kind: "read-only" });
    expect(judge("cat -- -p")).toEqual({ kind: "read-only" });
    expect(judge("rg -e foo -- --pre=./x.sh")).toEqual({ kind: "read-only" });
  });

  it("an option the table does not know asks, and the reason names it", () => {
    expect(judge("ls --frobnicate")).toMatchObject({ kind: "unknown-option", option: "--frobnicate", program: "ls" });
    expect(judge("ls -lY")).toMatchObject({ kind: "unknown-option", option: "-Y (in -lY)" });
    const decision = verdict("cat --frobnicate README.md");
    expect(decision).toMatchObject({ verdict: "ask", rule: "unknown-option" });
    expect(decision.reason).toContain("--frobnicate");
    expect(decision.reason).toContain("for cat");
    expect(verdict("git log --frobnicate").reason).toContain("for git log");
  });

  it("a wildcard that may expand to option-like file names asks for programs with options that run or write", () => {
    expect(judge("rg foo *")).toMatchObject({ kind: "unknown-option" });
    expect(judge("sed -n p *")).toMatchObject({ kind: "unknown-option" });
    expect(judge("rg foo -- *")).toEqual({ kind: "read-only" });
    expect(judge("sed -n p src/*.ts")).toEqual({ kind: "read-only" });
    expect(judge("ls *")).toEqual({ kind: "read-only" });
    expect(judge("grep -n TODO *.ts")).toEqual({ kind: "read-only" });
  });

  it("options after operands are still options (GNU permutation)", () => {
    expect(judge("sort data.txt --compress-program=gzip")).toMatchObject({ kind: "effect" });
    expect(judge("rg foo src --pre ./x.sh")).toMatchObject({ kind: "effect", option: "--pre" });
  });
});

describe("git: only subcommands and spellings that read", () => {
  it.each([
    ["git branch", "read-only"],
    ["git branch -a", "read-only"],
    ["git branch -r", "read-only"],
    ["git branch -vv", "read-only"],
    ["git branch --list 'feat/*'", "read-only"],
    ["git branch --show-current", "read-only"],
    ["git branch --contains HEAD~3", "read-only"],
    ["git branch new-feature", "not-read-only"],
    ["git branch -D old", "unknown-option"],
    ["git tag", "read-only"],
    ["git tag -l 'v1.*'", "read-only"],
    ["git tag v2.0", "not-read-only"],
    ["git remote -v", "read-only"],
    ["git remote get-url origin", "read-only"],
    ["git remote add evil https://example.com/x.git", "not-read-only"],
    ["git remote show origin", "not-read-only"],
    ["git stash list", "read-only"],
    ["git stash", "not-read-only"],
    ["git stash pop", "not-read-only"],
    ["git config --get user.email", "read-only"],
    ["git config user.email a@b.c", "not-read-only"],
    ["git commit -m x", "not-read-only"],
    ["git log --oneline --graph --decorate --all -20", "read-only"],
    ["git log -S secret --since=2.weeks -- src", "read-only"],
    ["git show HEAD~2:README.md", "read-only"],
    ["git diff --stat --cached", "read-only"],
    ["git status -sb", "read-only"],
    ["git status --porcelain=v1 -uno", "read-only"],
    ["git blame -L 10,20 README.md", "read-only"],
    ["git grep -n TODO", "read-only"],
    ["git grep -O ./x.sh TODO", "effect"],
    ["git grep --open-files-in-pager=./x.sh TODO", "effect"],
    ["git cat-file --textconv HEAD:README.md", "effect"],
    ["git --exec-path=./bin status", "effect"],
    ["git --exec-path", "read-only"],
    ["git -p status", "effect"],
    ["git --paginate status", "effect"],
    ["git --no-pager log", "read-only"],
    ["git --git-dir=/tmp/x log", "effect"],
    ["git --work-tree /tmp log", "effect"],
  ] as const)("%s → %s", (command, kind) => {
    expect(judge(command)?.kind).toBe(kind);
  });
});

describe("sed: the script decides", () => {
  it.each([
    ["1,5p", null],
    ["$!N;P;D", null],
    ["s/foo/bar/g", null],
    ["s|a|b|2p", null],
    ["/start/,/end/{s/x/y/;p}", null],
    ["y/abc/xyz/", null],
    ["10q", null],
    [":a;N;$!ba;s/\\n/ /g", null],
    [":a;e id", "runs-program"],
    ["1i\\\nheader", null],
    ["s/x/y/e", "runs-program"],
    ["1e id", "runs-program"],
    ["e", "runs-program"],
    ["s/x/y/w out.txt", "writes"],
    ["w out.txt", "writes"],
    ["/x/W out.txt", "writes"],
    ["r /etc/passwd", "reads-elsewhere"],
    ["/x/R other", "reads-elsewhere"],
  ] as const)("%s", (script, effect) => {
    const result = sedScriptEffect(script);
    if (effect === null) expect(result).toBeNull();
    else expect(result).toMatchObject({ effect });
  });

  it("reads -n, -e, --expression and the operand script, and -i in every spelling writes", () => {
    expect(judge("sed -n 1,5p README.md")).toEqual({ kind: "read-only" });
    expect(judge("sed -ne p README.md")).toEqual({ kind: "read-only" });
    expect(judge("sed --expression='s/a/b/e' README.md")).toMatchObject({ kind: "effect", effect: "runs-program" });
    expect(judge("sed -e p -e 'w out' README.md")).toMatchObject({ kind: "effect", effect: "writes" });
    expect(judge("sed -i s/a/b/ README.md")).toMatchObject({ kind: "effect", option: "-i" });
    expect(judge("sed -i.bak s/a/b/ README.md")).toMatchObject({ kind: "effect", option: "-i.bak" });
    expect(judge("sed -ni p README.md")).toMatchObject({ kind: "effect", option: "-ni" });
    expect(judge("sed --in-place=.orig s/a/b/ README.md")).toMatchObject({ kind: "effect" });
    expect(judge("sed --in p README.md")).toMatchObject({ kind: "effect" });
    expect(judge("sed -f script.sed README.md")).toMatchObject({ kind: "effect", effect: "reads-elsewhere" });
    expect(judge("sed 'Z' README.md")).toMatchObject({ kind: "not-read-only" });
  });
});

describe("find, tar and the rest", () => {
  it.each([
    ["find . -name '*.ts' -not -path './node_modules/*'", "read-only"],
    ["find src -type f -mtime -1 -print0", "read-only"],
    ["find . -maxdepth 2 \\( -name a -o -name b \\) -printf '%p\\n'", "read-only"],
    ["find . -fprintf out.txt '%p'", "effect"],
    ["find . -fls out.txt", "effect"],
    ["find . -okdir rm {} \\;", "effect"],
    ["find . -frobnicate", "unknown-option"],
    ["tar -tzf a.tar.gz", "read-only"],
    ["tar --list --file=a.tar", "read-only"],
    ["tar -xf a.tar", "effect"],
    ["tar -tf a.tar -I ./x.sh", "effect"],
    ["tar -tf a.tar --checkpoint-action=exec=./x.sh", "effect"],
    ["man -k printf", "read-only"],
    ["man ls", "not-read-only"],
    ["man --pager=./x.sh ls", "effect"],
    ["man -Hfirefox ls", "effect"],
    ["base64 -d blob.txt", "read-only"],
    ["xxd README.md", "read-only"],
    ["xxd -r dump.hex out.bin", "effect"],
    ["xxd README.md out.hex", "not-read-only"],
    ["uniq a.txt b.txt", "not-read-only"],
    ["hostname", "read-only"],
    ["hostname evil", "not-read-only"],
    ["jq -r '.name' package.json", "read-only"],
    ["jq -L ./mods 'import \"x\" as x; .' a.json", "effect"],
    ["file -C -m magic", "effect"],
    ["tree -o out.txt", "effect"],
    ["numfmt --to=iec 1048576", "read-only"],
    ["column -t -s, data.csv", "read-only"],
    ["nl -ba README.md", "read-only"],
    ["tac README.md", "read-only"],
    ["jq -n env", "not-read-only"],
    ["jq '$ENV.TOKEN' a.json", "not-read-only"],
    ["jq '.environment' a.json", "read-only"],
    ["ps aux", "read-only"],
    ["ps auxe", "not-read-only"],
    ["ps eww", "not-read-only"],
    ["tar -tf backup@host:/x.tar", "effect"],
    ["tar -tf ./x:y.tar", "read-only"],
  ] as const)("%s → %s", (command, kind) => {
    expect(judge(command)?.kind).toBe(kind);
  });

  it("an argument only known at run time is not judged read-only", () => {
    expect(judge('cat "$F"')).toMatchObject({ kind: "unknown-option", option: '"$F"' });
    expect(verdict('cat "$F"').verdict).toBe("ask");
  });
});
