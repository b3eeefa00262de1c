// Issue 16: the review's pure rules — who may comment, who may change a
// comment, how the diff splits into files, and the message the agent gets.
import { describe, expect, it } from "vitest";
import { reviewCommentDenial, reviewCommentEditDenial } from "@/lib/permissions";
import { splitRunDiff } from "@/server/review/diff-files";
import { feedbackMessage } from "@/server/review/review";

const run = { createdBy: "op" };

describe("issue 16: review rules", () => {
  it("viewers only read; operators comment on their own runs; reviewers and admins on any run", () => {
    expect(reviewCommentDenial({ id: "v", role: "viewer" }, run)?.message).toMatch(/needs the operator role/);
    expect(reviewCommentDenial({ id: "op", role: "viewer" }, run)?.code).toBe("FORBIDDEN"); // a demoted operator
    expect(reviewCommentDenial({ id: "op", role: "operator" }, run)).toBeNull();
    expect(reviewCommentDenial({ id: "other", role: "operator" }, run)?.message).toMatch(/only on their own runs/);
    expect(reviewCommentDenial({ id: "r", role: "reviewer" }, run)).toBeNull();
    expect(reviewCommentDenial({ id: "a", role: "admin" }, run)).toBeNull();
    expect(reviewCommentDenial(null, run)?.code).toBe("FORBIDDEN");
  });

  it("only its author changes a comment, and only until it is sent", () => {
    const draft = { authorId: "r", sentAt: null };
    expect(reviewCommentEditDenial({ id: "r", role: "reviewer" }, draft)).toBeNull();
    expect(reviewCommentEditDenial({ id: "a", role: "admin" }, draft)?.code).toBe("FORBIDDEN");
    expect(reviewCommentEditDenial({ id: "r", role: "reviewer" }, { authorId: "r", sentAt: new Date() })?.code).toBe("CONFLICT");
  });

  it("a file's hash changes when its diff changes, not when another file's does", () => {
    const diff = (b: string) =>
      `diff --git a/a.txt b/a.txt\nnew file mode 100644\n--- /dev/null\n+++ b/a.txt\n@@ -0,0 +1 @@\n+a\ndiff --git a/dir/b.txt b/dir/b.txt\n--- a/dir/b.txt\n+++ b/dir/b.txt\n@@ -1 +1,2 @@\n-x\n+${b}\n+y\n`;
    const one = splitRunDiff(diff("one"));
    const two = splitRunDiff(diff("two"));
    expect(one.map((f) => [f.path, f.status, f.additions, f.deletions])).toEqual([
      ["a.txt", "added", 1, 0],
      ["dir/b.txt", "modified", 2, 1],
    ]);
    expect(one[0]!.hash).toBe(two[0]!.hash);
    expect(one[1]!.hash).not.toBe(two[1]!.hash);
  });

  it("the agent's message names every comment as file:line with its text", () => {
    const text = feedbackMessage(
      "rev@example.test",
      [
        { path: "src/a.ts", side: "new", line: 12, body: "Handle the empty list." },
        { path: "README.md", side: "old", line: 3, body: "Keep this line." },
      ],
      "Nearly there.",
    );
    expect(text).toContain("rev@example.test requested changes");
    expect(text).toContain("Overall: Nearly there.");
    expect(text).toContain("1. src/a.ts:12\n   Handle the empty list.");
    expect(text).toContain("2. README.md:3 (a removed line");
  });
});
