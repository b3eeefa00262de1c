import { describe, expect, it } from "vitest";
import { expandTilde, isWithin, normaliseAbsolute, normaliseWorkspaceCwd, normaliseWorkspacePath } from "./paths";

describe("normaliseWorkspacePath", () => {
  it("joins a relative path to the workspace", () => {
    expect(normaliseWorkspacePath("src/app.ts")).toEqual({ ok: true, path: "/workspace/src/app.ts" });
  });

  it("joins a relative path to a cwd inside the workspace", () => {
    expect(normaliseWorkspacePath("app.ts", "src")).toEqual({ ok: true, path: "/workspace/src/app.ts" });
    expect(normaliseWorkspacePath("../README.md", "/workspace/src")).toEqual({ ok: true, path: "/workspace/README.md" });
  });

  it("resolves . and .. and repeated slashes lexically", () => {
    expect(normaliseWorkspacePath("./a//b/./c/../d")).toEqual({ ok: true, path: "/workspace/a/b/d" });
    expect(normaliseWorkspacePath("/workspace/")).toEqual({ ok: true, path: "/workspace" });
  });

  it.each(["../etc/passwd", "/etc/passwd", "/workspace/../etc", "src/../../x", "/workspacex/a", "/"])("refuses %s as outside the workspace", (input) => {
    expect(normaliseWorkspacePath(input)).toMatchObject({ ok: false, code: "OUT_OF_WORKSPACE", kind: "outside-workspace" });
  });

  it("refuses NUL bytes, control characters and overlong paths", () => {
    expect(normaliseWorkspacePath("a\0b")).toMatchObject({ ok: false, code: "OUT_OF_WORKSPACE", kind: "nul-byte" });
    expect(normaliseWorkspacePath("a\nb")).toMatchObject({ ok: false, kind: "control-character" });
    expect(normaliseWorkspacePath("a/".repeat(2100))).toMatchObject({ ok: false, kind: "too-long" });
    expect(normaliseWorkspacePath("x".repeat(256))).toMatchObject({ ok: false, kind: "segment-too-long" });
    expect(normaliseWorkspacePath("")).toMatchObject({ ok: false, kind: "empty" });
  });

  it("says in the refusal what the path resolved to", () => {
    const refusal = normaliseWorkspacePath("/workspace/../etc/passwd");
    expect(refusal.ok).toBe(false);
    if (!refusal.ok) expect(refusal.message).toContain("/etc/passwd");
  });

  it("refuses a working directory outside the workspace", () => {
    expect(normaliseWorkspaceCwd("/tmp")).toMatchObject({ ok: false, code: "OUT_OF_WORKSPACE" });
    expect(normaliseWorkspacePath("a", "/tmp")).toMatchObject({ ok: false, code: "OUT_OF_WORKSPACE" });
    expect(normaliseWorkspaceCwd(undefined)).toEqual({ ok: true, path: "/workspace" });
  });
});

describe("lexical helpers", () => {
  it("keeps .. at the root, as the kernel does", () => {
    expect(normaliseAbsolute("/../../etc")).toBe("/etc");
    expect(normaliseAbsolute("//")).toBe("/");
  });

  it("tells inside from a sibling with the same prefix", () => {
    expect(isWithin("/workspace/a", "/workspace")).toBe(true);
    expect(isWithin("/workspace", "/workspace")).toBe(true);
    expect(isWithin("/workspacex", "/workspace")).toBe(false);
  });

  it("expands ~ for the agent, root and the cwd", () => {
    expect(expandTilde("~")).toBe("/home/agent");
    expect(expandTilde("~/x")).toBe("/home/agent/x");
    expect(expandTilde("~root/.ssh")).toBe("/root/.ssh");
    expect(expandTilde("~+/x", "/workspace/src")).toBe("/workspace/src/x");
    expect(expandTilde("~bob")).toBe("/home/bob");
    expect(expandTilde("x~")).toBe("x~");
  });
});
