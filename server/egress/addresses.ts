// Which IP addresses http_fetch and the egress proxy may connect to. Airlock
// resolves names itself and judges the address it will actually connect to,
// so a public name that resolves to 10.0.0.5 or 169.254.169.254 is refused
// like the literal would be. Refused: every range of IANA's IPv4 and IPv6
// Special-Purpose Address Registries (the table below), multicast, and every
// address of this host's own interfaces (the dashboard listens on all of them).
import net from "node:net";
import os from "node:os";

export type AddressClass =
  | "public"
  | "private"
  | "loopback"
  | "link-local"
  | "metadata"
  | "unspecified"
  | "multicast"
  | "broadcast"
  | "documentation"
  | "reserved"
  | "unique-local"
  /** An IPv6 form that carries or tunnels another address (6to4, Teredo, local-use NAT64, IPv4-compatible): never connected to. */
  | "tunnel";

export interface ClassifiedAddress {
  address: string;
  class: AddressClass;
  /** The range that matched (for messages), e.g. "10.0.0.0/8". */
  range: string | null;
  /** What the range is and where it is defined, e.g. "Private-Use, RFC 1918". */
  registry: string | null;
}

interface Range {
  cidr: string;
  class: AddressClass;
  /** IANA's name for the range and the RFC that defines it. */
  name: string;
  rfc: string;
}

// IANA IPv4 Special-Purpose Address Registry (iana.org/assignments/iana-ipv4-special-registry),
// plus multicast (RFC 5771) and the cloud metadata services. All are refused,
// including the few the registry marks globally reachable (anycast service
// addresses such as AS112 or AMT): an agent has no business with them.
// The most specific matching range wins (metadata /32s beat 169.254.0.0/16).
export const V4_SPECIAL_RANGES: readonly Range[] = [
  { cidr: "0.0.0.0/8", class: "unspecified", name: '"This network"', rfc: "RFC 791" },
  { cidr: "0.0.0.0/32", class: "unspecified", name: '"This host on this network"', rfc: "RFC 1122" },
  { cidr: "10.0.0.0/8", class: "private", name: "Private-Use", rfc: "RFC 1918" },
  { cidr: "100.64.0.0/10", class: "private", name: "Shared Address Space", rfc: "RFC 6598" },
  { cidr: "127.0.0.0/8", class: "loopback", name: "Loopback", rfc: "RFC 1122" },
  { cidr: "169.254.0.0/16", class: "link-local", name: "Link Local", rfc: "RFC 3927" },
  { cidr: "172.16.0.0/12", class: "private", name: "Private-Use", rfc: "RFC 1918" },
  { cidr: "192.0.0.0/24", class: "reserved", name: "IETF Protocol Assignments", rfc: "RFC 6890" },
  { cidr: "192.0.0.0/29", class: "reserved", name: "IPv4 Service Continuity Prefix", rfc: "RFC 7335" },
  { cidr: "192.0.0.8/32", class: "reserved", name: "IPv4 dummy address", rfc: "RFC 7600" },
  { cidr: "192.0.0.9/32", class: "reserved", name: "Port Control Protocol Anycast", rfc: "RFC 7723" },
  { cidr: "192.0.0.10/32", class: "reserved", name: "Traversal Using Relays around NAT Anycast", rfc: "RFC 8155" },
  { cidr: "192.0.0.170/32", class: "reserved", name: "NAT64/DNS64 Discovery", rfc: "RFC 8880, RFC 7050" },
  { cidr: "192.0.0.171/32", class: "reserved", name: "NAT64/DNS64 Discovery", rfc: "RFC 8880, RFC 7050" },
  { cidr: "192.0.2.0/24", class: "documentation", name: "Documentation (TEST-NET-1)", rfc: "RFC 5737" },
  { cidr: "192.31.196.0/24", class: "reserved", name: "AS112-v4", rfc: "RFC 7535" },
  { cidr: "192.52.193.0/24", class: "reserved", name: "AMT", rfc: "RFC 7450" },
  { cidr: "192.88.99.0/24", class: "reserved", name: "Deprecated (6to4 Relay Anycast)", rfc: "RFC 7526" },
  { cidr: "192.168.0.0/16", class: "private", name: "Private-Use", rfc: "RFC 1918" },
  { cidr: "192.175.48.0/24", class: "reserved", name: "Direct Delegation AS112 Service", rfc: "RFC 7534" },
  { cidr: "198.18.0.0/15", class: "reserved", name: "Benchmarking", rfc: "RFC 2544" },
  { cidr: "198.51.100.0/24", class: "documentation", name: "Documentation (TEST-NET-2)", rfc: "RFC 5737" },
  { cidr: "203.0.113.0/24", class: "documentation", name: "Documentation (TEST-NET-3)", rfc: "RFC 5737" },
  { cidr: "224.0.0.0/4", class: "multicast", name: "Multicast", rfc: "RFC 5771" },
  { cidr: "240.0.0.0/4", class: "reserved", name: "Reserved", rfc: "RFC 1112" },
  { cidr: "255.255.255.255/32", class: "broadcast", name: "Limited Broadcast", rfc: "RFC 8190, RFC 919" },
  { cidr: "169.254.169.254/32", class: "metadata", name: "cloud metadata service (AWS, GCP, Azure, OpenStack)", rfc: "RFC 3927 link-local" },
  { cidr: "100.100.100.200/32", class: "metadata", name: "cloud metadata service (Alibaba Cloud)", rfc: "RFC 6598 shared" },
];

// IANA IPv6 Special-Purpose Address Registry (iana.org/assignments/iana-ipv6-special-registry),
// plus multicast and site-local (RFC 4291, RFC 3879). Forms that carry an IPv4
// address are judged by that address (IPv4-mapped, IPv4-translated, NAT64
// 64:ff9b::/96: see embeddedV4) or refused outright ("tunnel": 6to4, Teredo,
// the local-use NAT64 prefix, deprecated IPv4-compatible), because where they
// lead depends on relays and translators Airlock cannot see.
export const V6_SPECIAL_RANGES: readonly Range[] = [
  { cidr: "::1/128", class: "loopback", name: "Loopback Address", rfc: "RFC 4291" },
  { cidr: "::/128", class: "unspecified", name: "Unspecified Address", rfc: "RFC 4291" },
  { cidr: "::/96", class: "tunnel", name: "IPv4-compatible (deprecated)", rfc: "RFC 4291" },
  { cidr: "::ffff:0:0/96", class: "reserved", name: "IPv4-mapped Address", rfc: "RFC 4291" },
  { cidr: "::ffff:0:0:0/96", class: "reserved", name: "IPv4-translated Address", rfc: "RFC 2765" },
  { cidr: "64:ff9b::/96", class: "reserved", name: "IPv4-IPv6 Translat.", rfc: "RFC 6052" },
  { cidr: "64:ff9b:1::/48", class: "tunnel", name: "IPv4-IPv6 Translat. (local use)", rfc: "RFC 8215" },
  { cidr: "100::/64", class: "reserved", name: "Discard-Only Address Block", rfc: "RFC 6666" },
  { cidr: "100:0:0:1::/64", class: "reserved", name: "Dummy IPv6 Prefix", rfc: "RFC 9780" },
  { cidr: "2001::/23", class: "reserved", name: "IETF Protocol Assignments", rfc: "RFC 2928" },
  { cidr: "2001::/32", class: "tunnel", name: "TEREDO", rfc: "RFC 4380, RFC 8190" },
  { cidr: "2001:1::1/128", class: "reserved", name: "Port Control Protocol Anycast", rfc: "RFC 7723" },
  { cidr: "2001:1::2/128", class: "reserved", name: "Traversal Using Relays around NAT Anycast", rfc: "RFC 8155" },
  { cidr: "2001:1::3/128", class: "reserved", name: "DNS-SD Service Registration Protocol Anycast", rfc: "RFC 9665" },
  { cidr: "2001:2::/48", class: "reserved", name: "Benchmarking", rfc: "RFC 5180" },
  { cidr: "2001:3::/32", class: "reserved", name: "AMT", rfc: "RFC 7450" },
  { cidr: "2001:4:112::/48", class: "reserved", name: "AS112-v6", rfc: "RFC 7535" },
  { cidr: "2001:10::/28", class: "reserved", name: "Deprecated (previously ORCHID)", rfc: "RFC 4843" },
  { cidr: "2001:20::/28", class: "reserved", name: "ORCHIDv2", rfc: "RFC 7343" },
  { cidr: "2001:30::/28", class: "reserved", name: "Drone Remote ID Protocol Entity Tags (DETs) Prefix", rfc: "RFC 9374" },
  { cidr: "2001:db8::/32", class: "documentation", name: "Documentation", rfc: "RFC 3849" },
  { cidr: "2002::/16", class: "tunnel", name: "6to4", rfc: "RFC 3056" },
  { cidr: "2620:4f:8000::/48", class: "reserved", name: "Direct Delegation AS112 Service", rfc: "RFC 7534" },
  { cidr: "3fff::/20", class: "documentation", name: "Documentation", rfc: "RFC 9637" },
  { cidr: "5f00::/16", class: "reserved", name: "Segment Routing (SRv6) SIDs", rfc: "RFC 9602" },
  { cidr: "fc00::/7", class: "unique-local", name: "Unique-Local", rfc: "RFC 4193, RFC 8190" },
  { cidr: "fe80::/10", class: "link-local", name: "Link-Local Unicast", rfc: "RFC 4291" },
  { cidr: "fec0::/10", class: "link-local", name: "Site-Local (deprecated)", rfc: "RFC 3879" },
  { cidr: "ff00::/8", class: "multicast", name: "Multicast", rfc: "RFC 4291" },
  { cidr: "fd00:ec2::254/128", class: "metadata", name: "cloud metadata service (AWS)", rfc: "RFC 4193 unique-local" },
];

/** 4 or 16 bytes; null when the text is not an IP address. */
export function ipBytes(text: string): Uint8Array | null {
  const address = text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text;
  const family = net.isIP(address);
  if (family === 4) return Uint8Array.from(address.split(".").map(Number));
  if (family !== 6) return null;
  const zoneless = address.split("%")[0]!;
  let head = zoneless;
  let tail = "";
  if (zoneless.includes("::")) [head, tail] = zoneless.split("::") as [string, string];
  const groups = (part: string): number[] => {
    if (!part) return [];
    const out: number[] = [];
    for (const g of part.split(":")) {
      if (g.includes(".")) {
        const v4 = g.split(".").map(Number);
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else out.push(parseInt(g, 16));
    }
    return out;
  };
  const h = groups(head);
  const t = groups(tail);
  const all = zoneless.includes("::") ? [...h, ...Array<number>(8 - h.length - t.length).fill(0), ...t] : h;
  const bytes = new Uint8Array(16);
  all.forEach((g, i) => {
    bytes[i * 2] = g >> 8;
    bytes[i * 2 + 1] = g & 0xff;
  });
  return bytes;
}

/**
 * The IPv4 address an IPv6 one stands for and is judged by: IPv4-mapped
 * ::ffff:a.b.c.d (RFC 4291), IPv4-translated ::ffff:0:a.b.c.d (RFC 2765) and
 * the well-known NAT64 prefix 64:ff9b::/96 (RFC 6052). The other carrying
 * forms (6to4, Teredo, 64:ff9b:1::/48, IPv4-compatible) are "tunnel" ranges,
 * refused outright.
 */
function embeddedV4(bytes: Uint8Array): Uint8Array | null {
  if (bytes.length !== 16) return null;
  const zero = (from: number, to: number) => bytes.slice(from, to).every((b) => b === 0);
  if (zero(0, 10) && bytes[10] === 0xff && bytes[11] === 0xff) return bytes.slice(12);
  if (zero(0, 8) && bytes[8] === 0xff && bytes[9] === 0xff && zero(10, 12)) return bytes.slice(12);
  if (bytes[0] === 0x00 && bytes[1] === 0x64 && bytes[2] === 0xff && bytes[3] === 0x9b && zero(4, 12)) return bytes.slice(12);
  return null;
}

/** The address as compared: an IPv4 carried by a mapped/translated/NAT64 IPv6 form becomes that IPv4. */
function canonicalBytes(bytes: Uint8Array): Uint8Array {
  return (bytes.length === 16 ? embeddedV4(bytes) : null) ?? bytes;
}

function prefixLength(cidr: string): number {
  return Number(cidr.split("/")[1]);
}

function inCidr(bytes: Uint8Array, cidr: string): boolean {
  const [base, bitsText] = cidr.split("/") as [string, string];
  const baseBytes = ipBytes(base);
  if (!baseBytes || baseBytes.length !== bytes.length) return false;
  let bits = Number(bitsText);
  for (let i = 0; i < bytes.length && bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((bytes[i]! & mask) !== (baseBytes[i]! & mask)) return false;
  }
  return true;
}

export function classifyAddress(address: string): ClassifiedAddress {
  const raw = ipBytes(address);
  if (!raw) throw new Error(`${address} is not an IP address`);
  const bytes = canonicalBytes(raw);
  let best: Range | null = null;
  for (const range of bytes.length === 4 ? V4_SPECIAL_RANGES : V6_SPECIAL_RANGES) {
    if (inCidr(bytes, range.cidr) && (!best || prefixLength(range.cidr) > prefixLength(best.cidr))) best = range;
  }
  if (!best) return { address, class: "public", range: null, registry: null };
  return { address, class: best.class, range: best.cidr, registry: `${best.name}, ${best.rfc}` };
}

/** An allow-list entry: an IP address, a CIDR range or a host name (matched against the URL's host). */
export function isValidAllowEntry(entry: string): boolean {
  if (ipBytes(entry)) return true;
  const [base, bits] = entry.split("/");
  if (bits !== undefined) {
    const b = ipBytes(base!);
    const n = Number(bits);
    return b !== null && Number.isInteger(n) && n >= 0 && n <= b.length * 8;
  }
  return /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$/.test(entry);
}

export interface PrivateAddressAllowance {
  /** AIRLOCK_EGRESS_ALLOW_PRIVATE: private, shared, link-local and unique-local addresses (never metadata, never this host). */
  allowPrivate: boolean;
  /** AIRLOCK_EGRESS_ALLOW_HOSTS: addresses, CIDR ranges or host names allowed even when not public. */
  allowHosts: string[];
}

/** The classes AIRLOCK_EGRESS_ALLOW_PRIVATE opens; the rest need an AIRLOCK_EGRESS_ALLOW_HOSTS entry. */
const OPENED_BY_ALLOW_PRIVATE = new Set<AddressClass>(["private", "link-local", "unique-local"]);
/** Never reachable, whatever the settings: credentials, "this host" spellings, one-to-many and tunnelled forms. */
const NEVER_ALLOWED = new Set<AddressClass>(["metadata", "unspecified", "multicast", "broadcast", "tunnel"]);

/**
 * Every address of this host's interfaces, as compared (IPv4 as 4 bytes).
 * Read on each check: it is one getifaddrs() call, and an interface that
 * appears later (a new Docker bridge, a VPN) is covered at once.
 */
export function hostInterfaceAddresses(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) {
      const b = ipBytes(a.address);
      if (b) out.push(canonicalBytes(b));
    }
  }
  return out;
}

/** Normalises a host name as the policy and egress judge it: lower case, no brackets, no trailing dot. */
export function normaliseHostName(host: string): string {
  return host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, "")
    .replace(/\.+$/, "");
}

/**
 * A URL's host as rules judge it: a name lower-cased without its trailing dot
 * (METADATA.GOOGLE.INTERNAL. is metadata.google.internal), an IPv6 literal that
 * carries an IPv4 address (::ffff:169.254.169.254, 64:ff9b::a9fe:a9fe) as that
 * IPv4 address, so a rule naming 169.254.169.254 covers every spelling.
 */
export function hostForJudging(hostname: string): string {
  const host = normaliseHostName(hostname);
  const bytes = net.isIP(host) === 6 ? ipBytes(host) : null;
  const v4 = bytes ? embeddedV4(bytes) : null;
  return v4 ? [...v4].join(".") : host;
}

/**
 * null when the connection may go ahead; otherwise why not. Decisions:
 *  - cloud metadata services, "this network"/unspecified addresses, multicast,
 *    broadcast and tunnelled IPv6 forms: never, whatever the settings;
 *  - this host's own addresses (every interface, loopback included; the
 *    dashboard listens on them): only when AIRLOCK_EGRESS_ALLOW_HOSTS lists
 *    that exact address. AIRLOCK_EGRESS_ALLOW_PRIVATE, a CIDR range or a host
 *    name never open them, so a blanket setting cannot expose the dashboard;
 *  - private, shared, link-local, unique-local: AIRLOCK_EGRESS_ALLOW_PRIVATE
 *    or an AIRLOCK_EGRESS_ALLOW_HOSTS entry (address, range or host name);
 *  - the other special-purpose ranges (documentation, benchmarking,
 *    IETF/anycast assignments, reserved): only an AIRLOCK_EGRESS_ALLOW_HOSTS entry.
 */
export interface RefusalWording {
  /** Who is refused, as the message says it ("http_fetch and egress"). */
  who: string;
  /** The setting that lists allowed hosts ("AIRLOCK_EGRESS_ALLOW_HOSTS"). */
  hostsSetting: string;
  /** The setting that opens private ranges, if any ("AIRLOCK_EGRESS_ALLOW_PRIVATE"). */
  privateSetting?: string;
}

const EGRESS_WORDING: RefusalWording = {
  who: "http_fetch and egress",
  hostsSetting: "AIRLOCK_EGRESS_ALLOW_HOSTS",
  privateSetting: "AIRLOCK_EGRESS_ALLOW_PRIVATE",
};

export function refuseAddress(
  hostname: string,
  address: string,
  allowance: PrivateAddressAllowance,
  ownAddresses: Uint8Array[] = hostInterfaceAddresses(),
  wording: RefusalWording = EGRESS_WORDING,
): string | null {
  const c = classifyAddress(address);
  const bytes = canonicalBytes(ipBytes(address)!);
  const host = normaliseHostName(hostname);
  const shown = host === normaliseHostName(address) ? address : `${host} (${address})`;
  const settings = wording.privateSetting ? `(${wording.hostsSetting} or ${wording.privateSetting})` : `(${wording.hostsSetting})`;
  if (c.class === "metadata") return `${shown} is a cloud metadata service; Airlock never fetches from it.`;
  if (NEVER_ALLOWED.has(c.class)) return `${shown} is in ${c.range} (${c.registry}), a ${c.class} range; Airlock never connects there, whatever the settings.`;
  const own = c.class === "loopback" || ownAddresses.some((a) => sameAddress(a, bytes));
  if (own) {
    if (allowance.allowHosts.some((e) => !e.includes("/") && ipBytes(e) !== null && sameAddress(canonicalBytes(ipBytes(e)!), bytes))) return null;
    const kind = c.class === "loopback" ? ` (loopback, ${c.range})` : "";
    return `${shown} is this host's own address${kind}, where the Airlock dashboard listens; ${wording.who} never reach it unless an admin lists that exact address in ${wording.hostsSetting}.`;
  }
  if (c.class === "public") return null;
  if (allowance.allowPrivate && OPENED_BY_ALLOW_PRIVATE.has(c.class)) return null;
  for (const entry of allowance.allowHosts) {
    const e = normaliseHostName(entry);
    if (e.includes("/")) {
      const [base, bits] = e.split("/") as [string, string];
      const b = ipBytes(base);
      // A range written as IPv4-mapped IPv6 covers the IPv4 addresses it maps.
      const asV4 = b && b.length === 16 && embeddedV4(b) && Number(bits) >= 96 ? `${[...embeddedV4(b)!].join(".")}/${Number(bits) - 96}` : e;
      if (inCidr(bytes, asV4)) return null;
    } else if (ipBytes(e) !== null ? sameAddress(canonicalBytes(ipBytes(e)!), bytes) : e === host) return null;
  }
  const opener = OPENED_BY_ALLOW_PRIVATE.has(c.class) ? settings : `(${wording.hostsSetting})`;
  return `${shown} is a ${c.class} address (${c.range}: ${c.registry}); ${wording.who} only reach public addresses unless an admin allows it ${opener}.`;
}

function sameAddress(a: Uint8Array, b: Uint8Array): boolean {
  const x = canonicalBytes(a);
  const y = canonicalBytes(b);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}
