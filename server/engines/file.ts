// Issue 17: engines defined in the file AIRLOCK_ENGINES names (YAML or JSON),
// parsed and checked at start; a bad entry stops the start with the entry and
// field at fault. The rows are upserted with source "file" and credentials
// encrypted; a file engine no longer listed is removed, or drained while runs
// are live on it. The YAML is read with the policies' hardening: unique keys,
// no anchors or aliases, a size cap.
//
//   engines:
//     - name: gpu-1
//       endpoint: tcp://10.0.0.5:2376
//       labels: [gpu]
//       capacity: { runs: 4, cpus: 16, memoryMb: 65536 }
//       tls: { ca: /etc/airlock/engines/ca.pem, cert: /etc/airlock/engines/cert.pem, key: /etc/airlock/engines/key.pem }
//     - name: build-1
//       endpoint: ssh://docker@10.0.0.6
//       ssh: { privateKeyFile: /etc/airlock/engines/build-1.key }
import fs from "node:fs";
import path from "node:path";
import { eq } from "drizzle-orm";
import YAML from "yaml";
import type { Db } from "@/db/client";
import { engines } from "@/db/schema";
import { appendAudit, SYSTEM_ACTOR } from "@/server/audit/chain";
import { ConfigError } from "@/server/config/env";
import { decryptSecret, encryptSecret } from "@/server/secrets/crypto";
import { liveRunCount } from "./manage";
import type { EngineCapacity, EngineCredentials } from "./types";
import { checkCapacity, checkCredentials, checkEndpoint, checkEngineName, checkLabels, compactCredentials, MAX_PEM_LENGTH } from "./validate";

export const MAX_ENGINES_FILE_BYTES = 1024 * 1024;
export const MAX_FILE_ENGINES = 500;

export interface FileEngine {
  name: string;
  endpoint: string;
  labels: string[];
  capacity: EngineCapacity;
  credentials: EngineCredentials | null;
}

const ENTRY_FIELDS = ["name", "endpoint", "labels", "capacity", "tls", "ssh"];
const CAPACITY_FIELDS = ["runs", "cpus", "memoryMb"];
const TLS_FIELDS = ["ca", "cert", "key"];
const SSH_FIELDS = ["privateKeyFile", "privateKey"];

/** Reads a file the file names: relative paths are from the file's folder. Inline PEM is kept as is. */
export type ReadMaterial = (value: string) => string;

function materialReader(file: string): ReadMaterial {
  const dir = path.dirname(file);
  return (value) => {
    if (value.trimStart().startsWith("-----BEGIN")) return value;
    const p = path.resolve(dir, value);
    let stat: fs.Stats;
    try {
      stat = fs.statSync(p);
    } catch {
      throw new Error(
        `the file ${p} does not exist or cannot be read; give the path of a PEM file (relative paths are from the folder of AIRLOCK_ENGINES) or the PEM text itself`,
      );
    }
    if (!stat.isFile()) throw new Error(`${p} is not a file`);
    if (stat.size > MAX_PEM_LENGTH) throw new Error(`${p} is larger than ${MAX_PEM_LENGTH / 1024} KB; it should hold one PEM certificate or key`);
    return fs.readFileSync(p, "utf8");
  };
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Parses and checks the text of an engines file. Throws ConfigError naming
 * the file, the entry (index and name) and the field, and what to write.
 */
export function parseEnginesFile(text: string, file: string, readMaterial: ReadMaterial = materialReader(file)): FileEngine[] {
  const fail = (where: string, message: string): never => {
    throw new ConfigError(`AIRLOCK_ENGINES (${file}): ${where ? `${where}: ` : ""}${message} Fix the file, or unset AIRLOCK_ENGINES.`);
  };
  if (Buffer.byteLength(text) > MAX_ENGINES_FILE_BYTES) fail("", `the file is larger than ${MAX_ENGINES_FILE_BYTES / 1024} KB.`);
  const doc = YAML.parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length) fail("", `not valid YAML or JSON: ${doc.errors[0]!.message.split("\n")[0]}.`);
  YAML.visit(doc, {
    Alias(_k, node) {
      fail("", `YAML alias *${node.source} refused: write each engine out in full (anchors and aliases are not accepted).`);
    },
    Node(_k, node) {
      if (node.anchor !== undefined) fail("", `YAML anchor &${node.anchor} refused: write each engine out in full (anchors and aliases are not accepted).`);
    },
  });
  const data: unknown = doc.toJS({ maxAliasCount: 0 });
  const list = Array.isArray(data) ? data : isRecord(data) && Object.keys(data).every((k) => k === "engines") ? data.engines : undefined;
  if (data === null || data === undefined) return [];
  if (!Array.isArray(list)) fail("", 'the file must hold a list of engines under "engines:" (or a JSON array of them).');
  const entries = list as unknown[];
  if (entries.length > MAX_FILE_ENGINES) fail("", `at most ${MAX_FILE_ENGINES} engines; the file lists ${entries.length}.`);
  const seen = new Set<string>();
  return entries.map((raw, i) => {
    const named = isRecord(raw) && typeof raw.name === "string" ? ` ("${raw.name.slice(0, 40)}")` : "";
    const at = (field?: string) => `engines[${i}]${named}${field ? `.${field}` : ""}`;
    if (!isRecord(raw)) return fail(at(), "each engine is a mapping with name, endpoint and optionally labels, capacity, tls and ssh.");
    const unknownField = (obj: Record<string, unknown>, allowed: string[], prefix: string) => {
      const extra = Object.keys(obj).find((k) => !allowed.includes(k));
      if (extra !== undefined) fail(at(prefix + extra), `unknown field; the fields are ${allowed.join(", ")}.`);
    };
    unknownField(raw, ENTRY_FIELDS, "");
    if (typeof raw.name !== "string" || !raw.name) return fail(at("name"), "missing: every engine needs a name (e.g. gpu-1).");
    const nameError = checkEngineName(raw.name);
    if (nameError) fail(at("name"), nameError);
    if (seen.has(raw.name)) fail(at("name"), `"${raw.name}" is listed twice; engine names are unique.`);
    seen.add(raw.name);
    if (typeof raw.endpoint !== "string" || !raw.endpoint)
      return fail(at("endpoint"), "missing: write tcp://host:2376, ssh://user@host or unix:///path/to/docker.sock.");
    const endpoint = checkEndpoint(raw.endpoint);
    if (!endpoint.ok) return fail(at("endpoint"), endpoint.error);

    const labels = raw.labels ?? [];
    if (!Array.isArray(labels) || labels.some((l) => typeof l !== "string")) return fail(at("labels"), "must be a list of words, like [gpu, big-memory].");
    const labelError = checkLabels(labels as string[]);
    if (labelError) fail(at("labels"), labelError);

    const capacity: EngineCapacity = { runs: null, cpus: null, memoryMb: null };
    if (raw.capacity !== undefined && raw.capacity !== null) {
      if (!isRecord(raw.capacity)) return fail(at("capacity"), "must be a mapping like { runs: 4, cpus: 16, memoryMb: 65536 }.");
      unknownField(raw.capacity, CAPACITY_FIELDS, "capacity.");
      for (const k of CAPACITY_FIELDS as (keyof EngineCapacity)[]) {
        const v = raw.capacity[k];
        if (v === undefined || v === null) continue;
        if (typeof v !== "number") return fail(at(`capacity.${k}`), `must be a number, got ${JSON.stringify(v).slice(0, 40)}.`);
        capacity[k] = v;
      }
      const capError = checkCapacity(capacity);
      if (capError) fail(at(`capacity.${capError.field}`), capError.error);
    }

    const creds: EngineCredentials = {};
    if (raw.tls !== undefined && raw.tls !== null) {
      if (!isRecord(raw.tls)) return fail(at("tls"), "must be a mapping { ca, cert, key } of PEM file paths (or PEM text).");
      unknownField(raw.tls, TLS_FIELDS, "tls.");
      for (const k of TLS_FIELDS as ("ca" | "cert" | "key")[]) {
        const v = raw.tls[k];
        if (v === undefined || v === null) continue;
        if (typeof v !== "string" || !v.trim()) return fail(at(`tls.${k}`), "must be the path of a PEM file, or the PEM text.");
        try {
          creds[k] = readMaterial(v);
        } catch (err) {
          fail(at(`tls.${k}`), `${(err as Error).message}.`);
        }
      }
    }
    if (raw.ssh !== undefined && raw.ssh !== null) {
      if (!isRecord(raw.ssh)) return fail(at("ssh"), "must be a mapping { privateKeyFile: /path/to/key }.");
      unknownField(raw.ssh, SSH_FIELDS, "ssh.");
      const field = raw.ssh.privateKeyFile !== undefined ? "privateKeyFile" : raw.ssh.privateKey !== undefined ? "privateKey" : null;
      if (field) {
        const v = raw.ssh[field];
        if (typeof v !== "string" || !v.trim()) return fail(at(`ssh.${field}`), "must be the path of a private key file.");
        try {
          creds.privateKey = readMaterial(v);
        } catch (err) {
          fail(at(`ssh.${field}`), `${(err as Error).message}.`);
        }
      }
    }
    const credError = checkCredentials(endpoint.scheme, creds);
    if (credError) fail(at(credError.field), credError.error);
    return { name: raw.name, endpoint: raw.endpoint, labels: labels as string[], capacity, credentials: compactCredentials(creds) };
  });
}

/** Reads and parses the file; a file that cannot be read fails like a bad one. */
export function readEnginesFile(file: string): FileEngine[] {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(
      `AIRLOCK_ENGINES names ${file}, which cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}). Point it at your engines file, or unset it.`,
    );
  }
  return parseEnginesFile(text, file);
}

export interface EnginesFileSync {
  added: string[];
  updated: string[];
  removed: string[];
  /** No longer in the file but runs are live on them: drained, removed once they end and Airlock restarts. */
  drained: string[];
}

/**
 * Brings the file engines of the table in line with the file (undefined: no
 * file, so every file engine goes). An engine the UI made under the same name
 * is taken over by the file. Draining set in the UI is kept.
 */
export function syncEnginesFile(db: Db, file: string | undefined, entries: FileEngine[] = file ? readEnginesFile(file) : []): EnginesFileSync {
  const out: EnginesFileSync = { added: [], updated: [], removed: [], drained: [] };
  const now = new Date();
  db.transaction(
    (tx) => {
      const rows = tx.select().from(engines).all();
      const byName = new Map(rows.map((r) => [r.name, r]));
      for (const e of entries) {
        const before = byName.get(e.name);
        const values = {
          endpoint: e.endpoint,
          labels: e.labels,
          capacityRuns: e.capacity.runs,
          capacityCpus: e.capacity.cpus,
          capacityMemoryMb: e.capacity.memoryMb,
          source: "file" as const,
        };
        const credsJson = e.credentials ? JSON.stringify(e.credentials) : null;
        if (!before) {
          tx.insert(engines)
            .values({ name: e.name, ...values, credentialsEnc: credsJson ? encryptSecret(credsJson) : null, updatedAt: now })
            .run();
          out.added.push(e.name);
          appendAudit(tx, SYSTEM_ACTOR, {
            action: "engine.created",
            targetType: "engine",
            targetId: e.name,
            details: { source: "file", endpoint: e.endpoint, labels: e.labels, capacity: e.capacity, hasCredentials: Boolean(credsJson) },
          });
          continue;
        }
        let beforeCreds: string | null = null;
        try {
          beforeCreds = before.credentialsEnc ? decryptSecret(before.credentialsEnc) : null;
        } catch {
          beforeCreds = "unreadable";
        }
        const changed: string[] = [];
        if (before.endpoint !== e.endpoint) changed.push("endpoint");
        if (JSON.stringify(before.labels) !== JSON.stringify(e.labels)) changed.push("labels");
        if (before.capacityRuns !== e.capacity.runs || before.capacityCpus !== e.capacity.cpus || before.capacityMemoryMb !== e.capacity.memoryMb)
          changed.push("capacity");
        if (beforeCreds !== credsJson) changed.push("credentials");
        if (before.source !== "file") changed.push("source");
        if (!changed.length) continue;
        tx.update(engines)
          .set({ ...values, ...(changed.includes("credentials") ? { credentialsEnc: credsJson ? encryptSecret(credsJson) : null } : {}), updatedAt: now })
          .where(eq(engines.name, e.name))
          .run();
        out.updated.push(e.name);
        appendAudit(tx, SYSTEM_ACTOR, { action: "engine.updated", targetType: "engine", targetId: e.name, details: { source: "file", changed } });
      }
      const listed = new Set(entries.map((e) => e.name));
      for (const row of rows) {
        if (row.source !== "file" || listed.has(row.name)) continue;
        const live = liveRunCount(tx, row.name);
        if (live > 0) {
          out.drained.push(row.name);
          if (row.draining) continue;
          tx.update(engines).set({ draining: true, updatedAt: now }).where(eq(engines.name, row.name)).run();
          appendAudit(tx, SYSTEM_ACTOR, {
            action: "engine.drained",
            targetType: "engine",
            targetId: row.name,
            details: { source: "file", reason: "no longer in AIRLOCK_ENGINES", liveRuns: live },
          });
        } else {
          tx.delete(engines).where(eq(engines.name, row.name)).run();
          out.removed.push(row.name);
          appendAudit(tx, SYSTEM_ACTOR, {
            action: "engine.deleted",
            targetType: "engine",
            targetId: row.name,
            details: { source: "file", reason: "no longer in AIRLOCK_ENGINES" },
          });
        }
      }
    },
    { behavior: "immediate" },
  );
  for (const name of out.drained)
    console.log(`airlock: engine ${name} is no longer in AIRLOCK_ENGINES but runs are live on it: drained; it is removed at the first start after they end`);
  if (out.added.length || out.updated.length || out.removed.length)
    console.log(
      `airlock: AIRLOCK_ENGINES${file ? ` (${file})` : ""}: ${[
        out.added.length ? `added ${out.added.join(", ")}` : "",
        out.updated.length ? `updated ${out.updated.join(", ")}` : "",
        out.removed.length ? `removed ${out.removed.join(", ")}` : "",
      ]
        .filter(Boolean)
        .join("; ")}`,
    );
  return out;
}
