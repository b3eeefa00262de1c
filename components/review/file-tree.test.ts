// Issue 16: the Files changed tree groups files under collapsible directories.
import { describe, expect, it } from "vitest";
import { buildFileTree, type TreeFile } from "@/components/review/file-tree";

const file = (path: string): TreeFile => ({ path, anchor: path, additions: 1, deletions: 0, viewed: false, changedSinceViewed: false, comments: 0 });

describe("issue 16: the file tree", () => {
  it("puts directories before files, sorted, and shows a chain of single directories as one entry", () => {
    const tree = buildFileTree([file("z.txt"), file("src/lib/deep/b.ts"), file("src/lib/deep/a.ts"), file("a.txt"), file("docs/x.md")]);
    expect(tree.dirs.map((d) => d.name)).toEqual(["docs", "src/lib/deep"]);
    expect(tree.dirs[1]!.files.map((f) => f.path)).toEqual(["src/lib/deep/a.ts", "src/lib/deep/b.ts"]);
    expect(tree.files.map((f) => f.path)).toEqual(["a.txt", "z.txt"]);
  });
});
