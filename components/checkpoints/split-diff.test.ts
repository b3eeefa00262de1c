import { describe, expect, it } from "vitest";
import { displayPath, splitGitDiff } from "@/components/checkpoints/split-diff";

const DIFF = `diff --git a/a.txt b/a.txt
index ce01362..5ea2ed4 100644
--- a/a.txt
+++ b/a.txt
@@ -1 +1,2 @@
-hello
+changed
+more
diff --git a/new.txt b/new.txt
new file mode 100644
index 0000000..3e75765
--- /dev/null
+++ b/new.txt
@@ -0,0 +1 @@
+new
diff --git a/run.sh b/run.sh
old mode 100755
new mode 100644
diff --git a/gone.bin b/gone.bin
deleted file mode 100644
index 1234567..0000000
Binary files a/gone.bin and /dev/null differ
`;

describe("splitting a git diff per file", () => {
  it("gives each file its status, counts and own diff text", () => {
    const files = splitGitDiff(DIFF);
    expect(files.map((f) => [f.path, f.status, f.additions, f.deletions, f.binary])).toEqual([
      ["a.txt", "modified", 2, 1, false],
      ["new.txt", "added", 1, 0, false],
      ["run.sh", "mode", 0, 0, false],
      ["gone.bin", "deleted", 0, 0, true],
    ]);
    expect(files[2]!.modeChange).toBe("100755 → 100644");
    expect(files[0]!.diff.startsWith("diff --git a/a.txt")).toBe(true);
    expect(files[0]!.diff).not.toContain("new.txt");
  });

  it("returns nothing for an empty diff", () => {
    expect(splitGitDiff("")).toEqual([]);
  });

  it("shows escaped nested .git paths as the agent wrote them", () => {
    expect(displayPath("sub/.git~airlock/config")).toBe("sub/.git/config");
    expect(displayPath(".git~airlock~airlock")).toBe(".git~airlock");
  });
});
