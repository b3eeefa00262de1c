import { createTwoFilesPatch } from "diff";
import { describe, expect, it } from "vitest";
import { parseUnifiedDiff, toSplitRows } from "@/components/diff/parse-diff";
import { languageForPath } from "@/components/diff/highlight";

describe("parseUnifiedDiff", () => {
  it("numbers old and new lines of a modified file", () => {
    const diff = createTwoFilesPatch("a/x.ts", "b/x.ts", "one\ntwo\nthree\n", "one\n2\nthree\nfour\n");
    const parsed = parseUnifiedDiff(diff);
    expect(parsed.newPath).toBe("x.ts");
    expect(parsed.hunks).toHaveLength(1);
    const lines = parsed.hunks[0]!.lines;
    expect(lines.map((l) => [l.type, l.text, l.oldNo, l.newNo])).toEqual([
      ["context", "one", 1, 1],
      ["del", "two", 2, null],
      ["add", "2", null, 2],
      ["context", "three", 3, 3],
      ["add", "four", null, 4],
    ]);
  });

  it("treats /dev/null as no old file (a new file)", () => {
    const parsed = parseUnifiedDiff(createTwoFilesPatch("/dev/null", "b/new.txt", "", "hello\n"));
    expect(parsed.oldPath).toBeNull();
    expect(parsed.hunks[0]!.lines).toEqual([{ type: "add", text: "hello", oldNo: null, newNo: 1 }]);
  });

  it("keeps the no-newline marker as a note and content that looks like a header as content", () => {
    const parsed = parseUnifiedDiff(createTwoFilesPatch("a/s.sql", "b/s.sql", "-- old\n", "--- new"));
    const lines = parsed.hunks[0]!.lines;
    expect(lines.find((l) => l.type === "del")!.text).toBe("-- old");
    expect(lines.find((l) => l.type === "add")!.text).toBe("--- new");
    expect(lines.some((l) => l.type === "note")).toBe(true);
  });
});

describe("toSplitRows", () => {
  it("pairs deletions with the additions that follow them", () => {
    const parsed = parseUnifiedDiff(createTwoFilesPatch("a/f", "b/f", "a\nb\nc\nd\n", "a\nB\nC\nX\nd\n"));
    const rows = toSplitRows(parsed.hunks[0]!.lines);
    expect(rows.map((r) => [r.left?.text ?? null, r.right?.text ?? null])).toEqual([
      ["a", "a"],
      ["b", "B"],
      ["c", "C"],
      [null, "X"],
      ["d", "d"],
    ]);
  });
});

describe("languageForPath", () => {
  it("picks a language by extension or well-known name, and plain text otherwise", () => {
    expect(languageForPath("/workspace/src/app.tsx")).toBe("typescript");
    expect(languageForPath("Dockerfile")).toBe("dockerfile");
    expect(languageForPath("config/.env.local")).toBe("ini");
    expect(languageForPath("README")).toBeNull();
  });
});
