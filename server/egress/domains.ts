// The domains a reviewer grants a run's commands through the egress proxy:
// what an entry may look like and which CONNECT / Host targets it covers.
import net from "node:net";

/** Ports a grant covers when it names none. */
export const DEFAULT_EGRESS_PORTS: readonly number[] = [80, 443];
export const MAX_DOMAINS_PER_GRANT = 50;

/**
 * One granted entry, normalised: `host` (exact), `*.suffix` (any name below
 * suffix, not suffix itself), an IPv4 or [IPv6] literal; each optionally
 * with `:port` (then only that port, else 80 and 443).
 */
export interface EgressDomain {
  /** The normalised entry as stored and shown, e.g. "pypi.org", "*.githubusercontent.com", "registry.test:8080". */
  entry: string;
  /** Lower-case name or address (IPv6 without brackets); for wildcards the suffix without "*.". */
  host: string;
  wildcard: boolean;
  port: number | null;
}

const LABEL = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
const HOSTNAME_RE = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);

export class EgressDomainError extends Error {}

/** Parses one entry as a reviewer typed it; throws EgressDomainError with what is wrong. */
export function parseEgressDomain(raw: string): EgressDomain {
  let text = raw.trim().toLowerCase();
  if (!text) throw new EgressDomainError("an empty domain");
  if (/^[a-z][a-z0-9+.-]*:\/\//.test(text)) throw new EgressDomainError(`"${raw}" is a URL; grant the host name only (e.g. ${safeHost(text)})`);
  if (text.includes("/")) throw new EgressDomainError(`"${raw}" has a path; grant the host name only`);
  let port: number | null = null;
  let host: string;
  if (text.startsWith("[")) {
    const end = text.indexOf("]");
    if (end < 0) throw new EgressDomainError(`"${raw}" is missing its closing ]`);
    host = text.slice(1, end);
    const rest = text.slice(end + 1);
    if (rest) {
      if (!rest.startsWith(":")) throw new EgressDomainError(`"${raw}" is not host[:port]`);
      port = parsePort(rest.slice(1), raw);
    }
    if (net.isIP(host) !== 6) throw new EgressDomainError(`"${raw}" is not an IPv6 address`);
  } else {
    const colon = text.lastIndexOf(":");
    if (colon >= 0) {
      if (text.indexOf(":") !== colon) throw new EgressDomainError(`"${raw}": write IPv6 addresses in brackets, e.g. [2001:db8::1]:443`);
      port = parsePort(text.slice(colon + 1), raw);
      text = text.slice(0, colon);
    }
    host = text.replace(/\.$/, "");
  }
  const wildcard = host.startsWith("*.");
  if (wildcard) host = host.slice(2);
  if (host.includes("*")) throw new EgressDomainError(`"${raw}": a wildcard may only be a leading "*." (e.g. *.example.com)`);
  const isIp = net.isIP(host) !== 0;
  if (!isIp && !HOSTNAME_RE.test(host)) throw new EgressDomainError(`"${raw}" is not a host name`);
  if (wildcard && (isIp || !host.includes(".")))
    throw new EgressDomainError(`"${raw}": a wildcard needs a domain with at least two labels (e.g. *.example.com)`);
  if (!isIp && /^\d+(\.\d+)*$/.test(host)) throw new EgressDomainError(`"${raw}" is not a valid IPv4 address`);
  const shownHost = net.isIP(host) === 6 ? `[${host}]` : host;
  return { entry: `${wildcard ? "*." : ""}${shownHost}${port !== null ? `:${port}` : ""}`, host, wildcard, port };
}

function parsePort(text: string, raw: string): number {
  const port = Number(text);
  if (!/^\d{1,5}$/.test(text) || port < 1 || port > 65535) throw new EgressDomainError(`"${raw}" has an invalid port`);
  return port;
}

function safeHost(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return "example.com";
  }
}

/** Parses a list, dropping duplicates; throws with every bad entry named. */
export function parseEgressDomains(raw: readonly string[]): EgressDomain[] {
  const errors: string[] = [];
  const out = new Map<string, EgressDomain>();
  for (const r of raw) {
    try {
      const d = parseEgressDomain(r);
      out.set(d.entry, d);
    } catch (err) {
      errors.push((err as Error).message);
    }
  }
  if (errors.length) throw new EgressDomainError(errors.join("; "));
  if (out.size === 0) throw new EgressDomainError("no domain given");
  if (out.size > MAX_DOMAINS_PER_GRANT) throw new EgressDomainError(`at most ${MAX_DOMAINS_PER_GRANT} domains at once`);
  return [...out.values()];
}

/** Lower-case, no brackets, no trailing dot: the form targets are compared in. */
export function normaliseTargetHost(host: string): string {
  return host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, "")
    .replace(/\.$/, "");
}

/** Whether a granted entry covers a CONNECT / Host target. */
export function domainCovers(d: EgressDomain, targetHost: string, port: number): boolean {
  const host = normaliseTargetHost(targetHost);
  if (d.port !== null ? port !== d.port : !DEFAULT_EGRESS_PORTS.includes(port)) return false;
  if (d.wildcard) return host.endsWith(`.${d.host}`);
  if (net.isIP(host) === 6 && net.isIP(d.host) === 6) return sameV6(host, d.host);
  return host === d.host;
}

function sameV6(a: string, b: string): boolean {
  const sa = new net.SocketAddress({ address: a, family: "ipv6" });
  const sb = new net.SocketAddress({ address: b, family: "ipv6" });
  return sa.address === sb.address;
}

export type TargetJudgement = { allowed: true; entry: string } | { allowed: false; reason: string };

/** Judges a target against a run's granted entries; the refusal says why and how to get it granted. */
export function judgeEgressTarget(granted: readonly EgressDomain[], targetHost: string, port: number): TargetJudgement {
  const host = normaliseTargetHost(targetHost);
  const hit = granted.find((d) => domainCovers(d, host, port));
  if (hit) return { allowed: true, entry: hit.entry };
  const shown = net.isIP(host) === 6 ? `[${host}]` : host;
  const sameHost = granted.filter((d) => (d.wildcard ? host.endsWith(`.${d.host}`) : d.host === host));
  if (sameHost.length > 0) {
    return {
      allowed: false,
      reason: `port ${port} of ${shown} is not granted to this run (granted: ${sameHost.map((d) => d.entry).join(", ")}; without a port a grant covers ${DEFAULT_EGRESS_PORTS.join(" and ")}). A reviewer can grant ${shown}:${port} on the run page (Network access).`,
    };
  }
  const list = granted.length ? granted.map((d) => d.entry).join(", ") : "none";
  return {
    allowed: false,
    reason: `${shown} is not among the domains granted to this run (granted: ${list}). A reviewer can grant it on the run page (Network access).`,
  };
}
