import { describe, expect, it } from "vitest";
import { classifyAddress, isValidAllowEntry, refuseAddress } from "@/server/egress/addresses";

const NONE = { allowPrivate: false, allowHosts: [] };

describe("address classification", () => {
  it.each([
    ["127.0.0.1", "loopback"],
    ["127.255.0.9", "loopback"],
    ["10.1.2.3", "private"],
    ["172.16.0.1", "private"],
    ["172.31.255.255", "private"],
    ["192.168.1.1", "private"],
    ["100.64.0.1", "private"],
    ["169.254.169.254", "metadata"],
    ["169.254.1.1", "link-local"],
    ["0.0.0.0", "unspecified"],
    ["224.0.0.1", "multicast"],
    ["::1", "loopback"],
    ["::", "unspecified"],
    ["fc00::1", "unique-local"],
    ["fd12:3456::1", "unique-local"],
    ["fe80::1", "link-local"],
    ["fd00:ec2::254", "metadata"],
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:7f00:1", "loopback"],
    ["::ffff:a9fe:a9fe", "metadata"],
    ["64:ff9b::10.0.0.1", "private"],
    ["[::1]", "loopback"],
  ])("%s is %s", (address, cls) => {
    expect(classifyAddress(address).class).toBe(cls);
  });

  it.each(["93.184.216.34", "8.8.8.8", "172.32.0.1", "2606:4700::1111", "1.1.1.1"])("%s is public", (address) => {
    expect(classifyAddress(address).class).toBe("public");
  });
});

describe("refusing addresses", () => {
  it("refuses loopback and private addresses by default, naming the range and the setting", () => {
    expect(refuseAddress("127.0.0.1", "127.0.0.1", NONE)).toMatch(/loopback address \(127\.0\.0\.0\/8\).*AIRLOCK_EGRESS_ALLOW_HOSTS/);
    expect(refuseAddress("intranet.example", "10.0.0.5", NONE)).toMatch(/intranet\.example \(10\.0\.0\.5\) is a private address/);
  });

  it("allows a private address listed by address, range or host name", () => {
    expect(refuseAddress("127.0.0.1", "127.0.0.1", { allowPrivate: false, allowHosts: ["127.0.0.1"] })).toBeNull();
    expect(refuseAddress("10.1.2.3", "10.1.2.3", { allowPrivate: false, allowHosts: ["10.1.0.0/16"] })).toBeNull();
    expect(refuseAddress("git.internal", "10.9.9.9", { allowPrivate: false, allowHosts: ["git.internal"] })).toBeNull();
    expect(refuseAddress("10.2.0.1", "10.2.0.1", { allowPrivate: false, allowHosts: ["10.1.0.0/16"] })).not.toBeNull();
  });

  it("never allows cloud metadata services, even with private addresses allowed", () => {
    expect(refuseAddress("169.254.169.254", "169.254.169.254", { allowPrivate: true, allowHosts: ["169.254.169.254"] })).toMatch(/metadata/);
    expect(refuseAddress("a.example", "::ffff:169.254.169.254", { allowPrivate: true, allowHosts: [] })).toMatch(/metadata/);
  });

  it("validates allow-list entries", () => {
    expect(["127.0.0.1", "::1", "10.0.0.0/8", "fd00::/8", "git.internal", "localhost"].every(isValidAllowEntry)).toBe(true);
    expect(["10.0.0.0/33", "http://x", "a b", ""].some(isValidAllowEntry)).toBe(false);
  });
});
