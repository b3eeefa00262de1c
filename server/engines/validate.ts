// Issue 17: what makes an engine's definition acceptable, shared by the
// AIRLOCK_ENGINES file and Settings → Engines (engines.create/update): the
// name, the endpoint (unix://, tcp://host:port, ssh://user@host[:port]), the
// labels, the capacity and the credentials (TLS PEM all three or none; an ssh
// private key). Each check returns a message that says what is wrong and what
// to write instead, or null.
import { ENGINE_NAME, LOCAL_ENGINE, type EngineCapacity, type EngineCredentials } from "./types";

export const MAX_ENDPOINT_LENGTH = 500;
export const MAX_LABELS = 20;
export const LABEL = /^[a-z0-9][a-z0-9._-]{0,39}$/;
/** PEM material (a CA bundle may hold several certificates) and ssh keys stay below this. */
export const MAX_PEM_LENGTH = 64 * 1024;

export function checkEngineName(name: string): string | null {
  if (name === LOCAL_ENGINE) return `"${LOCAL_ENGINE}" is the engine next to Airlock and always exists; choose another name.`;
  if (!ENGINE_NAME.test(name))
    return `"${name.slice(0, 60)}" is not an engine name: use 1-40 lower-case letters, digits and dashes, starting with a letter or digit (e.g. gpu-1).`;
  return null;
}

/** The endpoint's scheme when it is acceptable, else the reason. */
export function checkEndpoint(endpoint: string): { ok: true; scheme: "unix" | "tcp" | "ssh" } | { ok: false; error: string } {
  const fail = (error: string) => ({ ok: false as const, error });
  if (endpoint.length > MAX_ENDPOINT_LENGTH) return fail(`the endpoint is longer than ${MAX_ENDPOINT_LENGTH} characters.`);
  const scheme = /^([a-z]+):\/\//.exec(endpoint)?.[1];
  if (scheme !== "unix" && scheme !== "tcp" && scheme !== "ssh")
    return fail(`"${endpoint.slice(0, 100)}" is not a Docker endpoint: write unix:///var/run/docker.sock, tcp://host:2376 or ssh://user@host.`);
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return fail(
      `"${endpoint.slice(0, 100)}" is not a valid URL; write it like ${scheme === "unix" ? "unix:///var/run/docker.sock" : scheme === "tcp" ? "tcp://10.0.0.5:2376" : "ssh://docker@10.0.0.5"}.`,
    );
  }
  if (url.search || url.hash) return fail(`the endpoint must not carry a query or fragment ("${endpoint.slice(0, 100)}").`);
  if (scheme === "unix") {
    if (url.host || !url.pathname.startsWith("/") || url.pathname.length < 2)
      return fail(`a unix:// endpoint names an absolute socket path, like unix:///var/run/docker.sock (three slashes); got "${endpoint.slice(0, 100)}".`);
    return { ok: true, scheme };
  }
  if (!url.hostname) return fail(`the endpoint "${endpoint.slice(0, 100)}" has no host; write ${scheme}://host${scheme === "tcp" ? ":2376" : ""}.`);
  if (url.pathname && url.pathname !== "/")
    return fail(`the endpoint must not have a path ("${url.pathname}"); write ${scheme}://host${scheme === "tcp" ? ":port" : ""}.`);
  if (scheme === "tcp") {
    if (!url.port)
      return fail(`a tcp:// endpoint needs host:port, like tcp://${url.hostname}:2376 (2376 is dockerd's TLS port); got "${endpoint.slice(0, 100)}".`);
    if (url.username || url.password)
      return fail("a tcp:// endpoint must not carry a user or password; Docker over TCP authenticates with TLS client certificates.");
    return { ok: true, scheme };
  }
  if (!url.username) return fail(`an ssh:// endpoint needs a user, like ssh://docker@${url.hostname}; got "${endpoint.slice(0, 100)}".`);
  if (url.password) return fail("an ssh:// endpoint must not carry a password; give a private key (ssh.privateKeyFile, or the key field) instead.");
  return { ok: true, scheme };
}

export function checkLabels(labels: readonly string[]): string | null {
  if (labels.length > MAX_LABELS) return `at most ${MAX_LABELS} labels; got ${labels.length}.`;
  for (const label of labels) {
    if (!LABEL.test(label))
      return `"${label.slice(0, 60)}" is not a label: use 1-40 lower-case letters, digits, dots, dashes and underscores, starting with a letter or digit (e.g. gpu, big-memory).`;
  }
  return null;
}

/** Each limit: null (derived from the engine), or a positive number in range. */
export function checkCapacity(capacity: EngineCapacity): { field: keyof EngineCapacity; error: string } | null {
  const { runs, cpus, memoryMb } = capacity;
  if (runs !== null && (!Number.isInteger(runs) || runs < 1 || runs > 1000))
    return { field: "runs", error: `must be a whole number of runs from 1 to 1000, got ${runs}.` };
  if (cpus !== null && (!Number.isFinite(cpus) || cpus <= 0 || cpus > 1024))
    return { field: "cpus", error: `must be a number of CPUs above 0 and at most 1024, got ${cpus}.` };
  if (memoryMb !== null && (!Number.isInteger(memoryMb) || memoryMb < 64 || memoryMb > 64 * 1024 * 1024))
    return { field: "memoryMb", error: `must be a whole number of MB from 64 to 67108864, got ${memoryMb}.` };
  return null;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n[A-Za-z0-9+/=\r\n]+-----END \1-----/;

function checkPem(field: string, text: string, kind: "certificate" | "key"): string | null {
  if (text.length > MAX_PEM_LENGTH) return `${field} is larger than ${MAX_PEM_LENGTH / 1024} KB; give the PEM text itself.`;
  const m = PEM_BLOCK.exec(text);
  if (!m) return `${field} is not PEM: paste the text that starts with -----BEGIN ${kind === "certificate" ? "CERTIFICATE" : "PRIVATE KEY"}-----.`;
  const type = m[1]!;
  if (kind === "certificate" && type !== "CERTIFICATE") return `${field} holds a ${type}, not a CERTIFICATE.`;
  if (kind === "key" && !type.endsWith("PRIVATE KEY")) return `${field} holds a ${type}, not a PRIVATE KEY.`;
  return null;
}

/**
 * Credentials against the endpoint's scheme: tcp takes TLS PEM (ca, cert,
 * key: all three or none); ssh takes a private key (PEM or OpenSSH); unix
 * takes none. Returns the field at fault and why.
 */
export function checkCredentials(scheme: "unix" | "tcp" | "ssh", creds: EngineCredentials | null): { field: string; error: string } | null {
  const c = creds ?? {};
  const tls = (["ca", "cert", "key"] as const).filter((k) => c[k]);
  if (scheme !== "tcp" && tls.length) return { field: `tls.${tls[0]}`, error: `TLS material is for tcp:// endpoints only; this one is ${scheme}://.` };
  if (scheme !== "ssh" && c.privateKey) return { field: "ssh.privateKey", error: `an ssh private key is for ssh:// endpoints only; this one is ${scheme}://.` };
  if (scheme === "tcp") {
    if (tls.length > 0 && tls.length < 3) {
      const missing = (["ca", "cert", "key"] as const).filter((k) => !c[k]);
      return {
        field: `tls.${missing[0]}`,
        error: `TLS needs ca, cert and key together (or none); ${missing.join(" and ")} ${missing.length > 1 ? "are" : "is"} missing.`,
      };
    }
    for (const [k, kind] of [
      ["ca", "certificate"],
      ["cert", "certificate"],
      ["key", "key"],
    ] as const) {
      const err = c[k] ? checkPem(`tls.${k}`, c[k], kind) : null;
      if (err) return { field: `tls.${k}`, error: err };
    }
  }
  if (scheme === "ssh" && c.privateKey) {
    if (c.privateKey.length > MAX_PEM_LENGTH) return { field: "ssh.privateKey", error: `the private key is larger than ${MAX_PEM_LENGTH / 1024} KB.` };
    if (!/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(c.privateKey))
      return {
        field: "ssh.privateKey",
        error: "not a private key: paste the text that starts with -----BEGIN OPENSSH PRIVATE KEY----- (or another PRIVATE KEY block).",
      };
    if (/ENCRYPTED/.test(c.privateKey))
      return { field: "ssh.privateKey", error: "the private key is protected by a passphrase; give a key without one (Airlock stores it encrypted)." };
  }
  return null;
}

/** Credentials with empty strings dropped; null when nothing is left. */
export function compactCredentials(creds: EngineCredentials | null | undefined): EngineCredentials | null {
  if (!creds) return null;
  const out: EngineCredentials = {};
  for (const k of ["ca", "cert", "key", "privateKey"] as const) if (creds[k]?.trim()) out[k] = creds[k];
  return Object.keys(out).length ? out : null;
}
