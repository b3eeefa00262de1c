import { describe, expect, it } from "vitest";
import { canonicalProgram, commandEffects, hasOption } from "./commands";
import { parseCommand, type ShellArg, type SimpleCommand } from "./shell";

function part(source: string, name?: string): SimpleCommand {
  const parsed = parseCommand(source);
  if (!parsed.parsed) throw new Error(parsed.error);
  return name ? parsed.commands.find((c) => c.name === name)! : parsed.commands[0]!;
}

function effects(source: string, name?: string): { reads: string[]; writes: string[]; lists: string[]; recursive: string[] } {
  const e = commandEffects(part(source, name));
  return {
    reads: e.reads.map((r) => r.path),
    writes: e.writes.map((r) => r.path),
    lists: e.lists.map((r) => r.path),
    recursive: e.recursiveReads.map((r) => r.path),
  };
}

const args = (...values: string[]): ShellArg[] => values.map((value) => ({ value, text: value, static: true, glob: false }));

describe("commandEffects", () => {
  it("sees writes through redirections but not into pseudo-devices", () => {
    expect(effects("echo x > out.txt 2>/dev/null >> ~/log < in.txt")).toEqual({
      reads: ["/workspace/in.txt"],
      writes: ["/workspace/out.txt", "/home/agent/log"],
      lists: [],
      recursive: [],
    });
    expect(effects("ls 2>&1 >&2").writes).toEqual([]);
  });

  it("knows which operands copy, move and link commands write", () => {
    expect(effects("cp a b dest/")).toMatchObject({ reads: ["/workspace/a", "/workspace/b"], writes: ["/workspace/dest"] });
    expect(effects("cp -t dest a")).toMatchObject({ reads: ["/workspace/a"], writes: ["/workspace/dest"] });
    expect(effects("mv a b").writes).toEqual(["/workspace/a", "/workspace/b"]);
    expect(effects("tee -a x y").writes).toEqual(["/workspace/x", "/workspace/y"]);
    expect(effects("sed -i.bak s/a/b/ f").writes).toEqual(["/workspace/f"]);
    expect(effects("sed s/a/b/ f")).toMatchObject({ reads: ["/workspace/f"], writes: [] });
    expect(effects("dd if=/dev/zero of=disk.img")).toMatchObject({ reads: ["/dev/zero"], writes: ["/workspace/disk.img"] });
    expect(effects("sort -o out in").writes).toEqual(["/workspace/out"]);
    expect(effects("chmod 600 key").writes).toEqual(["/workspace/key"]);
  });

  it("does not take a grep pattern for a path, unless -e gives the pattern", () => {
    expect(effects("grep -r secret src").reads).toEqual(["/workspace/src"]);
    expect(effects("grep -e secret src").reads).toEqual(["/workspace/src"]);
    expect(effects("grep -e x -f ~/.ssh/id_rsa").reads).toEqual(["/home/agent/.ssh/id_rsa"]);
  });

  it("separates listing from reading and records recursive searches", () => {
    expect(effects("ls -R ~/.ssh")).toEqual({ reads: [], writes: [], lists: ["/home/agent/.ssh"], recursive: ["/home/agent/.ssh"] });
    expect(effects("find / -name x").recursive).toEqual(["/"]);
    expect(effects("rg foo").recursive).toEqual(["/workspace"]);
    expect(effects("find . -delete").writes).toEqual(["/workspace"]);
  });

  it("resolves paths against every directory the command may run in", () => {
    expect(effects("cd /tmp; cat x", "cat").reads).toEqual(["/workspace/x", "/tmp/x"]);
  });

  it("only counts a wrapper's own options, not the wrapped command's arguments", () => {
    expect(effects("timeout 5 echo ~/.ssh/id_rsa", "timeout").reads).not.toContain("/home/agent/.ssh/id_rsa");
    expect(effects("timeout 5 cat ~/.ssh/id_rsa", "cat").reads).toEqual(["/home/agent/.ssh/id_rsa"]);
  });
});

describe("hasOption", () => {
  it("finds short options in clusters and long options by unambiguous prefix", () => {
    expect(hasOption(args("rm", "-rf", "/"), 1, "-r")).toBe(true);
    expect(hasOption(args("rm", "-f", "/"), 1, "-r")).toBe(false);
    expect(hasOption(args("rm", "--rec", "/"), 1, "--recursive")).toBe(true);
    expect(hasOption(args("grep", "--directories=recurse"), 1, "--directories")).toBe(true);
    expect(hasOption(args("rm", "--", "-r"), 1, "-r")).toBe(false);
    expect(hasOption(args("find", ".", "-name", "x"), 1, "-exec")).toBe(false);
  });
});

describe("canonicalProgram", () => {
  it("names system programs by their base name and nothing else", () => {
    expect(canonicalProgram("ls", ["/workspace"])).toBe("ls");
    expect(canonicalProgram("/usr/local/bin/rg", ["/workspace"])).toBe("rg");
    expect(canonicalProgram("./ls", ["/workspace"])).toBeNull();
    expect(canonicalProgram("bin/ls", ["/usr"])).toBe("ls");
    expect(canonicalProgram("bin/ls", ["/usr", "/workspace"])).toBeNull();
  });
});
