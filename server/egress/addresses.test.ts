import os from "node:os";
import { describe, expect, it } from "vitest";
import { classifyAddress, hostForJudging, hostInterfaceAddresses, ipBytes, isValidAllowEntry, refuseAddress } from "@/server/egress/addresses";

const NONE = { allowPrivate: false, allowHosts: [] as string[] };

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
    expect(refuseAddress("127.0.0.1", "127.0.0.1", NONE)).toMatch(/own address \(loopback, 127\.0\.0\.0\/8\).*AIRLOCK_EGRESS_ALLOW_HOSTS/);
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

// IANA's IPv4 and IPv6 Special-Purpose Address Registries, written out here
// independently of the table in addresses.ts: each range with an address
// inside it. Every one is refused with no allowance.
const SPECIAL_PURPOSE: [range: string, what: string, sample: string][] = [
  ["0.0.0.0/8", '"This network", RFC 791', "0.1.2.3"],
  ["0.0.0.0/32", '"This host on this network", RFC 1122', "0.0.0.0"],
  ["10.0.0.0/8", "Private-Use, RFC 1918", "10.20.30.40"],
  ["100.64.0.0/10", "Shared Address Space, RFC 6598", "100.127.255.254"],
  ["127.0.0.0/8", "Loopback, RFC 1122", "127.8.9.10"],
  ["169.254.0.0/16", "Link Local, RFC 3927", "169.254.7.7"],
  ["172.16.0.0/12", "Private-Use, RFC 1918", "172.20.0.9"],
  ["192.0.0.0/24", "IETF Protocol Assignments, RFC 6890", "192.0.0.200"],
  ["192.0.0.0/29", "IPv4 Service Continuity Prefix, RFC 7335", "192.0.0.2"],
  ["192.0.0.8/32", "IPv4 dummy address, RFC 7600", "192.0.0.8"],
  ["192.0.0.9/32", "Port Control Protocol Anycast, RFC 7723", "192.0.0.9"],
  ["192.0.0.10/32", "TURN Anycast, RFC 8155", "192.0.0.10"],
  ["192.0.0.170/32", "NAT64/DNS64 Discovery, RFC 8880", "192.0.0.170"],
  ["192.0.0.171/32", "NAT64/DNS64 Discovery, RFC 8880", "192.0.0.171"],
  ["192.0.2.0/24", "Documentation (TEST-NET-1), RFC 5737", "192.0.2.77"],
  ["192.31.196.0/24", "AS112-v4, RFC 7535", "192.31.196.1"],
  ["192.52.193.0/24", "AMT, RFC 7450", "192.52.193.5"],
  ["192.88.99.0/24", "Deprecated 6to4 Relay Anycast, RFC 7526", "192.88.99.1"],
  ["192.168.0.0/16", "Private-Use, RFC 1918", "192.168.200.1"],
  ["192.175.48.0/24", "Direct Delegation AS112 Service, RFC 7534", "192.175.48.6"],
  ["198.18.0.0/15", "Benchmarking, RFC 2544", "198.19.255.1"],
  ["198.51.100.0/24", "Documentation (TEST-NET-2), RFC 5737", "198.51.100.7"],
  ["203.0.113.0/24", "Documentation (TEST-NET-3), RFC 5737", "203.0.113.99"],
  ["224.0.0.0/4", "Multicast, RFC 5771", "239.1.2.3"],
  ["240.0.0.0/4", "Reserved, RFC 1112", "250.1.2.3"],
  ["255.255.255.255/32", "Limited Broadcast, RFC 8190", "255.255.255.255"],
  ["::1/128", "Loopback Address, RFC 4291", "::1"],
  ["::/128", "Unspecified Address, RFC 4291", "::"],
  ["::ffff:0:0/96", "IPv4-mapped Address, RFC 4291 (judged by the IPv4 it carries)", "::ffff:10.1.1.1"],
  ["::ffff:0:0:0/96", "IPv4-translated Address, RFC 2765 (judged by the IPv4 it carries)", "::ffff:0:127.0.0.1"],
  ["::/96", "IPv4-compatible (deprecated), RFC 4291", "::8.8.8.8"],
  ["64:ff9b::/96", "IPv4-IPv6 Translat., RFC 6052 (judged by the IPv4 it carries)", "64:ff9b::192.168.0.1"],
  ["64:ff9b:1::/48", "IPv4-IPv6 Translat. (local use), RFC 8215", "64:ff9b:1::808:808"],
  ["100::/64", "Discard-Only Address Block, RFC 6666", "100::1"],
  ["100:0:0:1::/64", "Dummy IPv6 Prefix, RFC 9780", "100:0:0:1::5"],
  ["2001::/23", "IETF Protocol Assignments, RFC 2928", "2001:1ff::1"],
  ["2001::/32", "TEREDO, RFC 4380", "2001:0:4136:e378:8000:63bf:3fff:fdd2"],
  ["2001:1::1/128", "Port Control Protocol Anycast, RFC 7723", "2001:1::1"],
  ["2001:1::2/128", "TURN Anycast, RFC 8155", "2001:1::2"],
  ["2001:1::3/128", "DNS-SD SRP Anycast, RFC 9665", "2001:1::3"],
  ["2001:2::/48", "Benchmarking, RFC 5180", "2001:2:0:ff::1"],
  ["2001:3::/32", "AMT, RFC 7450", "2001:3:1::1"],
  ["2001:4:112::/48", "AS112-v6, RFC 7535", "2001:4:112::1"],
  ["2001:10::/28", "Deprecated (previously ORCHID), RFC 4843", "2001:1f::1"],
  ["2001:20::/28", "ORCHIDv2, RFC 7343", "2001:2f::1"],
  ["2001:30::/28", "Drone Remote ID Protocol Entity Tags, RFC 9374", "2001:30::1"],
  ["2001:db8::/32", "Documentation, RFC 3849", "2001:db8:85a3::8a2e:370:7334"],
  ["2002::/16", "6to4, RFC 3056", "2002:808:808::1"],
  ["2620:4f:8000::/48", "Direct Delegation AS112 Service, RFC 7534", "2620:4f:8000::42"],
  ["3fff::/20", "Documentation, RFC 9637", "3fff:fff::1"],
  ["5f00::/16", "Segment Routing (SRv6) SIDs, RFC 9602", "5f00:1::1"],
  ["fc00::/7", "Unique-Local, RFC 4193", "fd12:3456:789a::1"],
  ["fe80::/10", "Link-Local Unicast, RFC 4291", "fe80::1:2"],
  ["fec0::/10", "Site-Local (deprecated), RFC 3879", "fec0::1"],
  ["ff00::/8", "Multicast, RFC 4291", "ff02::1"],
];

describe("M6: every special-purpose range is refused", () => {
  it.each(SPECIAL_PURPOSE)("M6: %s (%s) is refused, e.g. %s", (range, _what, sample) => {
    const reason = refuseAddress(sample, sample, NONE, []);
    expect(reason).not.toBeNull();
    expect(classifyAddress(sample).class).not.toBe("public");
    // The message names the range that matched (the embedded forms name the IPv4 range they carry).
    if (!["::ffff:0:0/96", "::ffff:0:0:0/96", "64:ff9b::/96"].includes(range)) expect(reason).toContain(range);
  });

  it.each([
    ["::ffff:0:198.51.100.1", "198.51.100.0/24"],
    ["::ffff:198.51.100.1", "198.51.100.0/24"],
    ["64:ff9b::203.0.113.5", "203.0.113.0/24"],
    ["64:ff9b::c0a8:101", "192.168.0.0/16"],
    ["[::ffff:169.254.169.254]", "169.254.169.254/32"],
  ])("M6: the IPv4 carried by %s is judged (%s)", (sample, range) => {
    expect(classifyAddress(sample).range).toBe(range);
    expect(refuseAddress(sample, sample, NONE, [])).not.toBeNull();
  });

  it.each([
    "8.8.8.8",
    "198.51.99.255",
    "198.51.101.0",
    "203.0.112.255",
    "192.88.98.1",
    "::ffff:8.8.8.8",
    "64:ff9b::8.8.8.8",
    "2001:4860:4860::8888",
    "2003::1",
    "2606:4700::1111",
  ])("M6: the public address %s next to the special ranges stays allowed", (sample) => {
    expect(refuseAddress(sample, sample, NONE, [])).toBeNull();
  });

  it.each(["2002:c0a8:101::1", "2002:808:808::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "64:ff9b:1::a00:1", "::8.8.8.8"])(
    "M6: the tunnelled or deprecated IPv6 form %s is refused even with private addresses and its range allowed",
    (sample) => {
      expect(refuseAddress(sample, sample, { allowPrivate: true, allowHosts: ["::/0"] }, [])).toMatch(/never connects there/);
    },
  );

  it("M6: 0.0.0.0, multicast and broadcast are refused whatever the settings (0.0.0.0 reaches this host)", () => {
    for (const a of ["0.0.0.0", "::", "224.0.0.1", "255.255.255.255"]) {
      expect(refuseAddress(a, a, { allowPrivate: true, allowHosts: [a, "0.0.0.0/0", "::/0"] }, [])).toMatch(/never connects there/);
    }
  });

  it("M6: documentation and other reserved ranges open only by an explicit AIRLOCK_EGRESS_ALLOW_HOSTS entry, not by AIRLOCK_EGRESS_ALLOW_PRIVATE", () => {
    expect(refuseAddress("198.51.100.7", "198.51.100.7", { allowPrivate: true, allowHosts: [] }, [])).toMatch(
      /documentation address.*AIRLOCK_EGRESS_ALLOW_HOSTS/,
    );
    expect(refuseAddress("198.51.100.7", "198.51.100.7", { allowPrivate: false, allowHosts: ["198.51.100.0/24"] }, [])).toBeNull();
    expect(refuseAddress("10.1.1.1", "10.1.1.1", { allowPrivate: true, allowHosts: [] }, [])).toBeNull();
  });
});

describe("M6: this host's own addresses", () => {
  const own = [ipBytesOf("192.0.2.2"), ipBytesOf("fd00::2")];

  it("M6: an address of one of this host's interfaces is refused even with private addresses and its range allowed", () => {
    const wide = { allowPrivate: true, allowHosts: ["192.0.2.0/24", "fd00::/8", "intranet.example"] };
    expect(refuseAddress("192.0.2.2", "192.0.2.2", wide, own)).toMatch(/192\.0\.2\.2 is this host's own address.*dashboard/);
    expect(refuseAddress("intranet.example", "fd00::2", wide, own)).toMatch(/intranet\.example \(fd00::2\) is this host's own address/);
    expect(refuseAddress("x", "::ffff:192.0.2.2", wide, own)).toMatch(/own address/);
    expect(refuseAddress("127.0.0.1", "127.0.0.1", { allowPrivate: true, allowHosts: ["127.0.0.0/8"] }, own)).toMatch(/own address \(loopback/);
  });

  it("M6: only the exact address in AIRLOCK_EGRESS_ALLOW_HOSTS opens one of this host's addresses", () => {
    expect(refuseAddress("192.0.2.2", "192.0.2.2", { allowPrivate: false, allowHosts: ["192.0.2.2"] }, own)).toBeNull();
    expect(refuseAddress("127.0.0.1", "127.0.0.1", { allowPrivate: false, allowHosts: ["127.0.0.1"] }, own)).toBeNull();
  });

  it("M6: the real interfaces are read on each check (os.networkInterfaces)", () => {
    const mine = hostInterfaceAddresses();
    expect(mine.length).toBeGreaterThan(0);
    const first =
      Object.values(os.networkInterfaces())
        .flat()
        .find((a) => a && !a.internal) ?? Object.values(os.networkInterfaces()).flat()[0]!;
    expect(refuseAddress(first.address, first.address, { allowPrivate: true, allowHosts: ["0.0.0.0/0", "::/0"] })).toMatch(/this host's own address/);
  });
});

describe("M6: host names are judged without case or trailing dot", () => {
  it.each([
    ["METADATA.GOOGLE.INTERNAL.", "metadata.google.internal"],
    ["Git.Internal..", "git.internal"],
    ["[::ffff:169.254.169.254]", "169.254.169.254"],
    ["::ffff:a9fe:a9fe", "169.254.169.254"],
    ["64:ff9b::a9fe:a9fe", "169.254.169.254"],
    ["[2001:DB8::1]", "2001:db8::1"],
  ])("M6: %s is judged as %s", (host, judged) => {
    expect(hostForJudging(host)).toBe(judged);
  });

  it("M6: an allow-list host name matches its spelling with a trailing dot", () => {
    expect(refuseAddress("GIT.INTERNAL.", "10.9.9.9", { allowPrivate: false, allowHosts: ["git.internal"] }, [])).toBeNull();
  });
});

function ipBytesOf(a: string): Uint8Array {
  return ipBytes(a)!;
}
