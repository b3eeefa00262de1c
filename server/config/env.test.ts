import { describe, expect, it } from "vitest";
import { readEgressAllowance } from "@/server/config/env";

describe("egress settings", () => {
  it("allow only public addresses when nothing is set", () => {
    expect(readEgressAllowance({})).toEqual({ allowPrivate: false, allowHosts: [] });
  });

  it("read the allow-list and the private-address switch", () => {
    expect(readEgressAllowance({ AIRLOCK_EGRESS_ALLOW_HOSTS: " 127.0.0.1, 10.0.0.0/8 ,git.internal,", AIRLOCK_EGRESS_ALLOW_PRIVATE: "yes" })).toEqual({
      allowPrivate: true,
      allowHosts: ["127.0.0.1", "10.0.0.0/8", "git.internal"],
    });
  });

  it("refuse values that are not addresses, ranges or host names, saying which", () => {
    expect(() => readEgressAllowance({ AIRLOCK_EGRESS_ALLOW_HOSTS: "127.0.0.1,http://x" })).toThrow(/"http:\/\/x" is not/);
    expect(() => readEgressAllowance({ AIRLOCK_EGRESS_ALLOW_PRIVATE: "maybe" })).toThrow(/AIRLOCK_EGRESS_ALLOW_PRIVATE/);
  });
});
