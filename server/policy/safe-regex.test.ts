import { describe, expect, it } from "vitest";
import { DEFAULT_POLICY } from "./default-policy";
import { unsafeRegexReason } from "./safe-regex";

describe("unsafe regular expressions", () => {
  it.each(["(a+)+", "(\\w*)*$", "(x?){8}", "(?:a+)+", "(.*a){12}", "((ab)*c)*", "(a|a)*", "(a|ab)+", "(|x)*", "(\\d+)\\1", "x".repeat(501)])("%s is refused", (source) => {
    expect(unsafeRegexReason(source)).not.toBeNull();
  });

  it.each(["^(foo|bar)+$", "(?:ab)+", "[(a+)+]", "^--?force$", "^(root|0)(:.*)?$", "(?<name>x)y+"])("%s is accepted", (source) => {
    expect(unsafeRegexReason(source)).toBeNull();
  });

  it("accepts every regex of the default policy", () => {
    for (const r of DEFAULT_POLICY.rules) for (const source of r.match.anyArg ?? []) expect(unsafeRegexReason(source), source).toBeNull();
  });
});
