import { createTwoFilesPatch } from "diff";
import { describe, expect, it } from "vitest";
import { hangingIndent, leadingIndentWidth, lineNumberColumns, MAX_HANG, wrappedLineStyle } from "@/components/diff/diff-layout";
import { parseUnifiedDiff } from "@/components/diff/parse-diff";

describe("lineNumberColumns", () => {
  it("a new file gets one line-number column (the new numbers)", () => {
    const hunks = parseUnifiedDiff(createTwoFilesPatch("/dev/null", "b/new.ts", "", "a\nb\nc\n")).hunks;
    expect(lineNumberColumns(hunks)).toBe("new");
  });

  it("a deleted file gets one line-number column (the old numbers)", () => {
    const hunks = parseUnifiedDiff(createTwoFilesPatch("a/old.ts", "/dev/null", "a\nb\n", "")).hunks;
    expect(lineNumberColumns(hunks)).toBe("old");
  });

  it("a change with context keeps both columns", () => {
    const hunks = parseUnifiedDiff(createTwoFilesPatch("a/x.ts", "b/x.ts", "one\ntwo\nthree\n", "one\n2\nthree\n")).hunks;
    expect(lineNumberColumns(hunks)).toBe("both");
  });

  it("a new file without a final newline is still a new file (the note line does not count)", () => {
    const hunks = parseUnifiedDiff(createTwoFilesPatch("/dev/null", "b/n.txt", "", "no newline")).hunks;
    expect(hunks[0]!.lines.some((l) => l.type === "note")).toBe(true);
    expect(lineNumberColumns(hunks)).toBe("new");
  });
});

describe("wrapped diff lines", () => {
  it("count leading spaces and tabs to the next tab stop", () => {
    expect(leadingIndentWidth("    return x;")).toBe(4);
    expect(leadingIndentWidth("\tif (a) {")).toBe(4);
    expect(leadingIndentWidth("  \tx")).toBe(4);
    expect(leadingIndentWidth("\t\t  y")).toBe(10);
    expect(leadingIndentWidth("no indent")).toBe(0);
    expect(leadingIndentWidth("")).toBe(0);
  });

  it("continue under the line's own indentation plus two columns (a hanging indent)", () => {
    expect(hangingIndent("const a = 1;")).toBe(2);
    expect(hangingIndent("      const veryLongIdentifierName = somethingElse(withArguments);")).toBe(8);
    expect(wrappedLineStyle("    x")).toEqual({ paddingLeft: "6ch", textIndent: "-6ch" });
  });

  it("a deeply indented line keeps room for its code on a phone (the hang is capped)", () => {
    expect(hangingIndent(" ".repeat(40) + "x")).toBe(MAX_HANG + 2);
  });
});
