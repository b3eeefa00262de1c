import { describe, expect, it } from "vitest";
import { compileGlob, pathMatches, programMatches, type PathRef } from "./glob";

const literal = (path: string): PathRef => ({ path, glob: false });
const glob = (path: string): PathRef => ({ path, glob: true });

describe("path matching", () => {
  it("matches literal paths with ordinary glob rules, dotfiles included", () => {
    expect(pathMatches(literal("/workspace/.git/config"), compileGlob("**/.git/**"), "overlaps")).toBe(true);
    expect(pathMatches(literal("/home/agent/.ssh/id_rsa"), compileGlob("~/.ssh/**"), "overlaps")).toBe(true);
    expect(pathMatches(literal("/workspace/src/a.ts"), compileGlob("**/.env"), "overlaps")).toBe(false);
  });

  it("asks whether a glob could name a protected path (overlaps)", () => {
    expect(pathMatches(glob("/home/agent/.ss?/id_rsa"), compileGlob("~/.ssh/**"), "overlaps")).toBe(true);
    expect(pathMatches(glob("/proc/*/environ"), compileGlob("/proc/**/environ"), "overlaps")).toBe(true);
    expect(pathMatches(glob("/workspace/.e*"), compileGlob("**/.env"), "overlaps")).toBe(true);
    // The shell's * does not match a leading dot.
    expect(pathMatches(glob("/workspace/*"), compileGlob("**/.env"), "overlaps")).toBe(false);
    expect(pathMatches(glob("/workspace/*.json"), compileGlob("**/*.key"), "overlaps")).toBe(false);
  });

  it("asks whether a target covers everything a pattern names (covers)", () => {
    const everythingInWorkspace = compileGlob("/workspace/*");
    expect(pathMatches(glob("/workspace/*"), everythingInWorkspace, "covers")).toBe(true);
    expect(pathMatches(glob("/workspace/.*"), everythingInWorkspace, "covers")).toBe(true);
    expect(pathMatches(literal("/workspace"), everythingInWorkspace, "covers")).toBe(true);
    expect(pathMatches(literal("/"), everythingInWorkspace, "covers")).toBe(true);
    expect(pathMatches(glob("/workspace/*.log"), everythingInWorkspace, "covers")).toBe(false);
    expect(pathMatches(literal("/workspace/node_modules"), everythingInWorkspace, "covers")).toBe(false);
    expect(pathMatches(glob("/???"), compileGlob("/*"), "covers")).toBe(true);
  });

  it("excepts a glob only when all it names is excepted (within)", () => {
    expect(pathMatches(literal("/workspace/a"), compileGlob("/workspace/**"), "within")).toBe(true);
    expect(pathMatches(glob("/workspace/*"), compileGlob("/workspace/**"), "within")).toBe(true);
    expect(pathMatches(glob("/*"), compileGlob("/workspace"), "within")).toBe(false);
  });
});

describe("programMatches", () => {
  it("compares names exactly and accepts globs", () => {
    expect(programMatches("mkfs.ext4", ["mkfs", "mkfs.*"])).toBe(true);
    expect(programMatches("ls", ["l"])).toBe(false);
  });
});
