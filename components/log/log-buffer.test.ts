import { describe, expect, it } from "vitest";
import { carrySgr, displayText, LogBuffer } from "@/components/log/log-buffer";

describe("LogBuffer", () => {
  it("joins chunks that split a line and does not count the open empty line after a trailing newline", () => {
    const log = new LogBuffer();
    log.append("hel");
    log.append("lo\nwor");
    log.append("ld\n");
    expect(log.lines.slice(0, log.visibleCount).map((l) => l.text)).toEqual(["hello", "world"]);
    expect(log.visibleCount).toBe(2);
  });

  it("drops the \\r of \\r\\n even when the two arrive in different chunks", () => {
    const log = new LogBuffer();
    log.append("a\r");
    log.append("\nb\r\n");
    expect(log.lines.slice(0, log.visibleCount).map((l) => l.text)).toEqual(["a", "b"]);
  });

  it("carries colours that stay on across a newline to the next line", () => {
    const log = new LogBuffer();
    log.append("\x1b[31mred\nstill red\x1b[0m\nplain\n");
    expect(log.lines[1]!.sgr).toBe("\x1b[31m");
    expect(log.lines[2]!.sgr).toBe("");
  });

  it("keeps the newest lines when a command prints more than the cap", () => {
    const log = new LogBuffer(100);
    log.append(Array.from({ length: 1000 }, (_, i) => `${i + 1}\n`).join(""));
    expect(log.dropped).toBeGreaterThan(0);
    expect(log.dropped + log.visibleCount).toBe(1000);
    expect(log.lines[log.visibleCount - 1]!.text).toBe("1000");
  });

  it("records which stream a line came from", () => {
    const log = new LogBuffer();
    log.append("out\n", "stdout");
    log.append("err\n", "stderr");
    expect(log.lines.map((l) => l.stream).slice(0, 2)).toEqual(["stdout", "stderr"]);
  });

  it("copies as plain text without ANSI codes", () => {
    const log = new LogBuffer();
    log.append("\x1b[1mbold\x1b[0m\nnext\n");
    expect(log.toText()).toBe("bold\nnext");
  });
});

describe("carrySgr", () => {
  it("resets on code 0 and keeps what follows it in the same sequence", () => {
    expect(carrySgr("\x1b[31m", "x\x1b[0;32my")).toBe("\x1b[32m");
    expect(carrySgr("\x1b[31m", "x\x1b[my")).toBe("");
    expect(carrySgr("", "\x1b[1m\x1b[34m")).toBe("\x1b[1m\x1b[34m");
  });
});

describe("displayText", () => {
  it("shows what a terminal shows after carriage returns (progress bars)", () => {
    expect(displayText({ text: "10%\r50%\r100%", stream: "stdout", sgr: "" })).toBe("100%");
  });
});
