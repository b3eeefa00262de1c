// Which IP addresses http_fetch may connect to. Airlock resolves names itself
// and judges the address it will actually connect to, so a public name that
// resolves to 10.0.0.5 or 169.254.169.254 is refused like the literal would be.
import net from "node:net";

export type AddressClass = "public" | "private" | "loopback" | "link-local" | "metadata" | "unspecified" | "multicast" | "reserved" | "unique-local";

export interface ClassifiedAddress {
  address: string;
  class: AddressClass;
  /** The range that matched (for messages), e.g. "10.0.0.0/8". */
  range: string | null;
}

interface Range {
  cidr: string;
  class: AddressClass;
}

// Metadata services first: they are refused even when private addresses are allowed.
const V4_RANGES: Range[] = [
  { cidr: "169.254.169.254/32", class: "metadata" },
  { cidr: "100.100.100.200/32", class: "metadata" },
  { cidr: "0.0.0.0/8", class: "unspecified" },
  { cidr: "10.0.0.0/8", class: "private" },
  { cidr: "100.64.0.0/10", class: "private" },
  { cidr: "127.0.0.0/8", class: "loopback" },
  { cidr: "169.254.0.0/16", class: "link-local" },
  { cidr: "172.16.0.0/12", class: "private" },
  { cidr: "192.0.0.0/24", class: "reserved" },
  { cidr: "192.168.0.0/16", class: "private" },
  { cidr: "198.18.0.0/15", class: "reserved" },
  { cidr: "224.0.0.0/4", class: "multicast" },
  { cidr: "240.0.0.0/4", class: "reserved" },
];

const V6_RANGES: Range[] = [
  { cidr: "fd00:ec2::254/128", class: "metadata" },
  { cidr: "::/128", class: "unspecified" },
  { cidr: "::1/128", class: "loopback" },
  { cidr: "fc00::/7", class: "unique-local" },
  { cidr: "fe80::/10", class: "link-local" },
  { cidr: "fec0::/10", class: "link-local" },
  { cidr: "ff00::/8", class: "multicast" },
  { cidr: "2001:db8::/32", class: "reserved" },
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

/** The IPv4 address an IPv6 one stands for (v4-mapped ::ffff:a.b.c.d, NAT64 64:ff9b::/96, v4-compatible ::a.b.c.d). */
function embeddedV4(bytes: Uint8Array): Uint8Array | null {
  if (bytes.length !== 16) return null;
  const zero = (from: number, to: number) => bytes.slice(from, to).every((b) => b === 0);
  if (zero(0, 10) && bytes[10] === 0xff && bytes[11] === 0xff) return bytes.slice(12);
  if (bytes[0] === 0x00 && bytes[1] === 0x64 && bytes[2] === 0xff && bytes[3] === 0x9b && zero(4, 12)) return bytes.slice(12);
  if (zero(0, 12) && !zero(12, 14)) return bytes.slice(12);
  return null;
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
  let bytes = ipBytes(address);
  if (!bytes) throw new Error(`${address} is not an IP address`);
  const v4 = embeddedV4(bytes);
  if (v4) bytes = v4;
  for (const range of bytes.length === 4 ? V4_RANGES : V6_RANGES) {
    if (inCidr(bytes, range.cidr)) return { address, class: range.class, range: range.cidr };
  }
  return { address, class: "public", range: null };
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
  return /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(entry);
}

export interface PrivateAddressAllowance {
  /** AIRLOCK_EGRESS_ALLOW_PRIVATE: every non-public address but cloud metadata services. */
  allowPrivate: boolean;
  /** AIRLOCK_EGRESS_ALLOW_HOSTS: addresses, CIDR ranges or host names allowed even when not public. */
  allowHosts: string[];
}

/** null when the connection may go ahead; otherwise why not. */
export function refuseAddress(hostname: string, address: string, allowance: PrivateAddressAllowance): string | null {
  const c = classifyAddress(address);
  if (c.class === "public") return null;
  const shown = hostname === address ? address : `${hostname} (${address})`;
  if (c.class === "metadata") return `${shown} is a cloud metadata service; Airlock never fetches from it.`;
  if (allowance.allowPrivate) return null;
  const bytes = ipBytes(address)!;
  const host = hostname.toLowerCase().replace(/^\[|\]$/g, "");
  for (const entry of allowance.allowHosts) {
    const e = entry.toLowerCase();
    if (e === host) return null;
    if (e.includes("/") ? inCidr(bytes, e) || (embeddedV4(bytes) !== null && inCidr(embeddedV4(bytes)!, e)) : ipBytes(e) !== null && sameAddress(ipBytes(e)!, bytes)) return null;
  }
  return `${shown} is a ${c.class} address (${c.range}); http_fetch only reaches public addresses unless an admin allows it (AIRLOCK_EGRESS_ALLOW_HOSTS or AIRLOCK_EGRESS_ALLOW_PRIVATE).`;
}

function sameAddress(a: Uint8Array, b: Uint8Array): boolean {
  const x = a.length === 16 ? (embeddedV4(a) ?? a) : a;
  const y = b.length === 16 ? (embeddedV4(b) ?? b) : b;
  return x.length === y.length && x.every((v, i) => v === y[i]);
}
