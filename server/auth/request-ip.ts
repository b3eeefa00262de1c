// The client address as the dashboard should record and throttle it (M5).
//
// X-Forwarded-For is written by whoever sends the request, so it is believed
// only when the connection comes from a proxy the operator named in
// AIRLOCK_TRUSTED_PROXIES; the chain is then walked from the right, skipping
// trusted hops, and the first untrusted address is the client. With no
// trusted proxies (the default) the socket's own address is the client.
//
// A route handler in Next.js cannot see the socket, and `next start` only
// fills in X-Forwarded-For from the socket when the client sent none (a
// client-supplied header is passed on untouched). So every incoming request
// is stamped with its socket address in a header carrying a per-process
// secret (installPeerAddressStamp, from instrumentation.ts); a header without
// the secret is ignored, so a client cannot forge its peer address.
import crypto from "node:crypto";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import { config } from "@/server/config/env";

export const PEER_HEADER = "x-airlock-peer";

type HeaderSource = Headers | Record<string, string | string[] | undefined> | undefined;

interface PeerStamp {
  secret: string;
  installed: boolean;
}

const g = globalThis as unknown as { __airlockPeerStamp?: PeerStamp };
function peerStamp(): PeerStamp {
  g.__airlockPeerStamp ??= { secret: crypto.randomBytes(18).toString("base64url"), installed: false };
  return g.__airlockPeerStamp;
}

/** An IPv4 client on a dual-stack socket shows up as ::ffff:a.b.c.d; it is a.b.c.d. */
export function normalizeAddress(address: string): string {
  return address.trim().replace(/^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i, "$1");
}

/** Sets the stamp header on an incoming Node request (overwriting whatever the client sent under that name). */
export function stampPeerAddress(req: http.IncomingMessage): void {
  const address = req.socket?.remoteAddress;
  if (address) req.headers[PEER_HEADER] = `${peerStamp().secret} ${address}`;
  else delete req.headers[PEER_HEADER];
}

/** Stamps every request any HTTP(S) server of this process receives; idempotent. */
export function installPeerAddressStamp(): void {
  const stamp = peerStamp();
  if (stamp.installed) return;
  stamp.installed = true;
  for (const Server of [http.Server, https.Server]) {
    const emit = Server.prototype.emit;
    Server.prototype.emit = function (this: http.Server, event: string | symbol, ...args: unknown[]): boolean {
      if (event === "request" && args[0] instanceof http.IncomingMessage) stampPeerAddress(args[0]);
      return Reflect.apply(emit, this, [event, ...args]) as boolean;
    } as typeof emit;
  }
}

function headerGetter(headers: HeaderSource): (name: string) => string | undefined {
  return (name) => {
    if (!headers) return undefined;
    if (headers instanceof Headers) return headers.get(name) ?? undefined;
    const v = headers[name];
    return Array.isArray(v) ? v.join(", ") : v;
  };
}

/** The socket address of the request, or null when it was not stamped by this process. */
export function peerAddressFromHeaders(headers: HeaderSource): string | null {
  const value = headerGetter(headers)(PEER_HEADER);
  if (!value) return null;
  const space = value.indexOf(" ");
  if (space < 0) return null;
  const secret = Buffer.from(value.slice(0, space));
  const expected = Buffer.from(peerStamp().secret);
  if (secret.length !== expected.length || !crypto.timingSafeEqual(secret, expected)) return null;
  const address = normalizeAddress(value.slice(space + 1));
  return net.isIP(address) ? address : null;
}

/** A matcher for AIRLOCK_TRUSTED_PROXIES entries (validated in server/config/env.ts). */
export function trustedProxyMatcher(entries: readonly string[]): (address: string) => boolean {
  if (!entries.length) return () => false;
  const list = new net.BlockList();
  for (const entry of entries) {
    const [ip, prefix] = entry.split("/") as [string, string | undefined];
    const family = net.isIP(normalizeAddress(ip)) === 6 ? "ipv6" : "ipv4";
    if (prefix === undefined) list.addAddress(normalizeAddress(ip), family);
    else list.addSubnet(normalizeAddress(ip), Number(prefix), family);
  }
  return (address) => {
    const a = normalizeAddress(address);
    const family = net.isIP(a);
    return family !== 0 && list.check(a, family === 6 ? "ipv6" : "ipv4");
  };
}

/**
 * The client address: the socket peer, unless the peer is a trusted proxy, in
 * which case X-Forwarded-For is walked from the right past trusted hops (or,
 * without X-Forwarded-For, X-Real-IP is taken). Null when the peer is unknown.
 */
export function clientIpFromHeaders(headers: HeaderSource, trustedProxies: readonly string[] = config().trustedProxies): string | null {
  const peer = peerAddressFromHeaders(headers);
  if (!peer) return null;
  const trusted = trustedProxyMatcher(trustedProxies);
  if (!trusted(peer)) return peer;
  const get = headerGetter(headers);
  const forwarded = (get("x-forwarded-for") ?? "")
    .split(",")
    .map((hop) => hop.trim())
    .filter(Boolean);
  if (!forwarded.length) {
    const realIp = normalizeAddress(get("x-real-ip") ?? "");
    return net.isIP(realIp) ? realIp : peer;
  }
  let client = peer;
  for (let i = forwarded.length - 1; i >= 0; i--) {
    const hop = normalizeAddress(forwarded[i]!);
    // A garbled entry written by a trusted proxy's client: stop at the last address we can vouch for.
    if (!net.isIP(hop)) return client;
    client = hop;
    if (!trusted(hop)) return hop;
  }
  // Every hop is trusted: the left-most one is as far as the chain goes.
  return client;
}
