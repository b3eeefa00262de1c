// Where notifications may go: webhooks, push services and SMTP servers follow
// the same address rules as agent egress (never cloud metadata; this host and
// private ranges only where an admin listed them in AIRLOCK_NOTIFY_ALLOW_HOSTS).
// The check runs inside the connection's own DNS lookup, so the address that
// was judged is the address that is dialled (no DNS rebinding in between).
import dns from "node:dns";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import { refuseAddress, type RefusalWording } from "@/server/egress/addresses";
import { config } from "@/server/config/env";

const WORDING: RefusalWording = { who: "webhooks, push and email", hostsSetting: "AIRLOCK_NOTIFY_ALLOW_HOSTS" };

export class DestinationRefused extends Error {
  readonly code = "DESTINATION_REFUSED";
}

function allowHosts(override?: string[]): string[] {
  return override ?? config().notifyAllowHosts;
}

/** null when a connection to `host` at `address` may go ahead; otherwise why not. */
export function refuseNotifyAddress(host: string, address: string, hosts?: string[]): string | null {
  return refuseAddress(host, address, { allowPrivate: false, allowHosts: allowHosts(hosts) }, undefined, WORDING);
}

/** Resolves `host` and returns the addresses it may be reached at, or throws DestinationRefused saying why. */
export async function resolveNotifyHost(host: string, hosts?: string[]): Promise<{ address: string; family: number }[]> {
  const name = host.replace(/^\[|\]$/g, "");
  const found = net.isIP(name) ? [{ address: name, family: net.isIP(name) }] : await dns.promises.lookup(name, { all: true, verbatim: true });
  const allowed = found.filter((a) => refuseNotifyAddress(name, a.address, hosts) === null);
  if (allowed.length === 0) {
    const reason = found.length ? refuseNotifyAddress(name, found[0]!.address, hosts) : `${name} does not resolve to any address.`;
    throw new DestinationRefused(reason ?? `${name} is not allowed.`);
  }
  return allowed;
}

/**
 * Checks a destination URL when an admin saves it (webhooks) or a browser
 * registers it (push endpoints): http or https only, no credentials in the URL,
 * and a host that resolves to an allowed address. null when fine, else why not.
 */
export async function checkNotifyUrl(text: string, hosts?: string[]): Promise<string | null> {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `"${text.slice(0, 200)}" is not a URL; give a full address like https://hooks.example.com/airlock.`;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:")
    return `${url.protocol} URLs are not supported; use https:// (or http:// for a receiver an admin allowed).`;
  if (url.username || url.password) return "Put credentials in the receiver's secret, not in the URL.";
  try {
    await resolveNotifyHost(url.hostname, hosts);
    return null;
  } catch (error) {
    return error instanceof DestinationRefused ? error.message : `${url.hostname} could not be resolved (${(error as Error).message}).`;
  }
}

/** A lookup for http(s) agents: resolves, judges every address, and hands back only allowed ones. */
export function notifyLookup(hosts?: string[]): net.LookupFunction {
  return ((hostname: string, options: dns.LookupOptions, callback: (...args: unknown[]) => void) => {
    resolveNotifyHost(hostname, hosts).then(
      (list) => {
        if (options?.all) callback(null, list);
        else callback(null, list[0]!.address, list[0]!.family);
      },
      (error: Error) => callback(error),
    );
  }) as net.LookupFunction;
}

/**
 * Agents for outgoing notification traffic; every connection's address is judged at connect time.
 * Node skips the lookup for a host that is an IP literal, so call resolveNotifyHost(url.hostname)
 * (or checkNotifyUrl) before each request as well.
 */
export function notifyAgents(hosts?: string[]): { http: http.Agent; https: https.Agent } {
  const lookup = notifyLookup(hosts);
  return { http: new http.Agent({ keepAlive: true, lookup }), https: new https.Agent({ keepAlive: true, lookup }) };
}
