import { describe, expect, it } from "vitest";
import { formatDateTime, formatTime, formatUtcStable } from "@/lib/format";

const AT = new Date("2026-12-04T13:03:05Z");

describe("times for people", () => {
  it("T1: a date time names its zone, and UTC on request", () => {
    expect(formatDateTime(AT, { utc: true })).toMatch(/UTC/);
    expect(formatTime(AT, { utc: true })).toMatch(/UTC/);
    expect(formatDateTime(AT)).toMatch(/[A-Z]{2,}|GMT|UTC/); // the viewer's zone, whatever the test machine's is
  });

  it("T2: the text shown before the browser formats a date is the same on any machine (no locale, no zone)", () => {
    expect(formatUtcStable(AT)).toBe("2026-12-04 13:03 UTC");
  });
});
