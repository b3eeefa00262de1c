// Issue 17: Settings → Engines and the engines router: list the engines with
// their health and live runs, register, edit, drain and delete them. Every
// change is audited (never with credentials); engines defined in
// AIRLOCK_ENGINES are edited in the file, only their drain switch here.
import { and, eq, isNull, notInArray, or, sql } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "@/db/client";
import { engines, runs, type EngineRow } from "@/db/schema";
import { appendAudit, type Actor } from "@/server/audit/chain";
import { DomainError } from "@/server/errors/domain-error";
import { TERMINAL_STATES } from "@/server/runs/state-machine";
import { encryptSecret } from "@/server/secrets/crypto";
import { engineHealth } from "./health";
import { engineConfigFromRow, ensureLocalEngine } from "./registry";
import { LOCAL_ENGINE, type EngineCapacity, type EngineCredentials } from "./types";
import {
  checkCapacity,
  checkCredentials,
  checkEndpoint,
  checkEngineName,
  checkLabels,
  compactCredentials,
  MAX_ENDPOINT_LENGTH,
  MAX_LABELS,
  MAX_PEM_LENGTH,
} from "./validate";

/** Runs that hold a place on an engine: started and not ended (queued runs hold none). */
const NOT_LIVE = ["queued", ...TERMINAL_STATES] as const;

type Reader = Pick<Db, "select">;

/** Live runs on one engine (for "local": also runs with no engine, from before the pool). */
export function liveRunCount(db: Reader, name: string): number {
  const onEngine = name === LOCAL_ENGINE ? or(eq(runs.engine, name), isNull(runs.engine)) : eq(runs.engine, name);
  const row = db
    .select({ n: sql<number>`count(*)` })
    .from(runs)
    .where(and(onEngine, notInArray(runs.state, [...NOT_LIVE])))
    .get();
  return Number(row?.n ?? 0);
}

function liveRunCounts(db: Reader): Map<string, number> {
  const rows = db
    .select({ engine: runs.engine, n: sql<number>`count(*)` })
    .from(runs)
    .where(notInArray(runs.state, [...NOT_LIVE]))
    .groupBy(runs.engine)
    .all();
  const out = new Map<string, number>();
  for (const r of rows) {
    const name = r.engine ?? LOCAL_ENGINE;
    out.set(name, (out.get(name) ?? 0) + Number(r.n));
  }
  return out;
}

// ------------------------------------------------------------------ inputs

const pem = z.string().max(MAX_PEM_LENGTH);
const capacityInput = z
  .object({
    runs: z.number().int().min(1).max(1000).nullable().optional(),
    cpus: z.number().positive().max(1024).nullable().optional(),
    memoryMb: z
      .number()
      .int()
      .min(64)
      .max(64 * 1024 * 1024)
      .nullable()
      .optional(),
  })
  .strict();
const tlsInput = z.object({ ca: pem, cert: pem, key: pem }).strict();
const sshInput = z.object({ privateKey: pem }).strict();

export const engineNameInput = z.string().min(1).max(40);

export const engineCreateInput = z
  .object({
    name: engineNameInput,
    endpoint: z.string().min(1).max(MAX_ENDPOINT_LENGTH),
    labels: z.array(z.string().max(40)).max(MAX_LABELS).default([]),
    capacity: capacityInput.optional(),
    /** tcp://: the CA that signed the engine's certificate, and the client certificate and key (PEM). */
    tls: tlsInput.optional(),
    /** ssh://: a private key without passphrase. */
    ssh: sshInput.optional(),
  })
  .strict();

export const engineUpdateInput = z
  .object({
    name: engineNameInput,
    endpoint: z.string().min(1).max(MAX_ENDPOINT_LENGTH).optional(),
    labels: z.array(z.string().max(40)).max(MAX_LABELS).optional(),
    capacity: capacityInput.optional(),
    /** Replaces the stored credentials; omitted: kept. */
    tls: tlsInput.optional(),
    ssh: sshInput.optional(),
    /** Removes the stored credentials. */
    clearCredentials: z.boolean().optional(),
  })
  .strict();

export const engineDrainInput = z.object({ name: engineNameInput, draining: z.boolean() }).strict();

// ----------------------------------------------------------------- outputs

export const engineView = z.object({
  name: z.string(),
  endpoint: z.string(),
  local: z.boolean(),
  labels: z.array(z.string()),
  healthy: z.boolean(),
  apiVersion: z.string().nullable(),
  runtimes: z.array(z.string()),
  capacity: z.object({ runs: z.number().nullable(), cpus: z.number().nullable(), memoryMb: z.number().nullable() }),
  running: z.number(),
  draining: z.boolean(),
  source: z.enum(["builtin", "file", "ui"]),
  downSince: z.date().nullable(),
  error: z.string().nullable(),
  checkedAt: z.date().nullable(),
  ncpu: z.number().nullable(),
  memTotalMb: z.number().nullable(),
  image: z.object({ present: z.boolean(), id: z.string().nullable(), loading: z.boolean(), error: z.string().nullable() }),
  /** Whether TLS material or an ssh key is stored (never the material itself). */
  hasCredentials: z.boolean(),
  credentialsKind: z.enum(["tls", "ssh"]).nullable(),
});
export type EngineView = z.infer<typeof engineView>;

function viewOf(row: EngineRow, running: number): EngineView {
  const health = engineHealth(row.name);
  let credentialsKind: EngineView["credentialsKind"] = null;
  if (row.credentialsEnc) {
    try {
      const creds = engineConfigFromRow(row).credentials;
      credentialsKind = creds?.privateKey ? "ssh" : creds ? "tls" : null;
    } catch {
      credentialsKind = null; // unreadable (keys/ not restored): the health check says so
    }
  }
  return {
    name: row.name,
    endpoint: row.endpoint,
    local: row.local,
    labels: row.labels,
    healthy: health?.healthy ?? false,
    apiVersion: health?.apiVersion ?? null,
    runtimes: health?.runtimes ?? [],
    capacity: { runs: row.capacityRuns, cpus: row.capacityCpus, memoryMb: row.capacityMemoryMb },
    running,
    draining: row.draining,
    source: row.source,
    downSince: health ? health.downSince : row.downSince,
    error: health ? health.error : "not checked yet",
    checkedAt: health?.checkedAt ?? null,
    ncpu: health?.ncpu ?? null,
    memTotalMb: health?.memTotalMb ?? null,
    image: health?.image ?? { present: false, id: null, loading: false, error: null },
    hasCredentials: Boolean(row.credentialsEnc),
    credentialsKind,
  };
}

/** Every engine, local first, with what the last health check saw and its live runs. */
export function listEngines(db: Db): EngineView[] {
  ensureLocalEngine(db);
  const counts = liveRunCounts(db);
  return db
    .select()
    .from(engines)
    .all()
    .sort((a, b) => (a.local === b.local ? a.name.localeCompare(b.name) : a.local ? -1 : 1))
    .map((row) => viewOf(row, counts.get(row.name) ?? 0));
}

// ----------------------------------------------------------------- changes

function invalid(field: string, message: string): never {
  throw new DomainError("INVALID_INPUT", `${field}: ${message}`);
}

function credentialsOf(input: { tls?: z.infer<typeof tlsInput>; ssh?: z.infer<typeof sshInput> }): EngineCredentials | null {
  return compactCredentials({ ...(input.tls ?? {}), ...(input.ssh ?? {}) });
}

function checkDefinition(endpoint: string, labels: string[], capacity: EngineCapacity, creds: EngineCredentials | null): void {
  const ep = checkEndpoint(endpoint);
  if (!ep.ok) invalid("endpoint", ep.error);
  const labelError = checkLabels(labels);
  if (labelError) invalid("labels", labelError);
  const capError = checkCapacity(capacity);
  if (capError) invalid(`capacity.${capError.field}`, capError.error);
  const credError = checkCredentials(ep.scheme, creds);
  if (credError) invalid(credError.field.replace(/^ssh\./, "ssh."), credError.error);
}

function capacityOf(c: z.infer<typeof capacityInput> | undefined, before?: EngineCapacity): EngineCapacity {
  return {
    runs: c?.runs !== undefined ? c.runs : (before?.runs ?? null),
    cpus: c?.cpus !== undefined ? c.cpus : (before?.cpus ?? null),
    memoryMb: c?.memoryMb !== undefined ? c.memoryMb : (before?.memoryMb ?? null),
  };
}

function rowOf(db: Pick<Db, "select">, name: string): EngineRow {
  const row = db.select().from(engines).where(eq(engines.name, name)).get();
  if (!row) throw new DomainError("NOT_FOUND", `No engine named ${name}. engines.list shows the registered ones.`);
  return row;
}

function refuseFileEngine(row: EngineRow, enginesFile: string | undefined): void {
  if (row.source === "file")
    throw new DomainError(
      "CONFLICT",
      `Engine ${row.name} is defined in AIRLOCK_ENGINES (${enginesFile ?? "the engines file"}); edit the file and restart Airlock. Only its drain switch can be changed here.`,
    );
}

export function createEngine(db: Db, actor: Actor, input: z.infer<typeof engineCreateInput>): { name: string } {
  const nameError = checkEngineName(input.name);
  if (nameError) invalid("name", nameError);
  const capacity = capacityOf(input.capacity);
  const creds = credentialsOf(input);
  checkDefinition(input.endpoint, input.labels, capacity, creds);
  db.transaction(
    (tx) => {
      if (tx.select({ name: engines.name }).from(engines).where(eq(engines.name, input.name)).get())
        throw new DomainError("CONFLICT", `An engine named ${input.name} exists already; choose another name or edit that one.`);
      tx.insert(engines)
        .values({
          name: input.name,
          endpoint: input.endpoint,
          labels: input.labels,
          capacityRuns: capacity.runs,
          capacityCpus: capacity.cpus,
          capacityMemoryMb: capacity.memoryMb,
          credentialsEnc: creds ? encryptSecret(JSON.stringify(creds)) : null,
          source: "ui",
          updatedAt: new Date(),
        })
        .run();
      appendAudit(tx, actor, {
        action: "engine.created",
        targetType: "engine",
        targetId: input.name,
        details: { endpoint: input.endpoint, labels: input.labels, capacity, credentials: creds ? (creds.privateKey ? "ssh" : "tls") : "none" },
      });
    },
    { behavior: "immediate" },
  );
  return { name: input.name };
}

export function updateEngine(db: Db, actor: Actor, input: z.infer<typeof engineUpdateInput>, enginesFile?: string): { name: string } {
  const newCreds = credentialsOf(input);
  if (input.clearCredentials && newCreds) invalid("clearCredentials", "either give new credentials (tls or ssh) or clear them, not both.");
  db.transaction(
    (tx) => {
      const row = rowOf(tx, input.name);
      refuseFileEngine(row, enginesFile);
      const before = engineConfigFromRow(row);
      if (row.local && (input.endpoint !== undefined || newCreds || input.clearCredentials))
        throw new DomainError(
          "CONFLICT",
          "The local engine is the one next to Airlock (DOCKER_HOST or the local socket): only its labels and capacity can be changed.",
        );
      const endpoint = input.endpoint ?? row.endpoint;
      const labels = input.labels ?? row.labels;
      const capacity = capacityOf(input.capacity, before.capacity);
      const creds = input.clearCredentials ? null : (newCreds ?? before.credentials);
      if (!row.local) checkDefinition(endpoint, labels, capacity, creds);
      else {
        const labelError = checkLabels(labels);
        if (labelError) invalid("labels", labelError);
        const capError = checkCapacity(capacity);
        if (capError) invalid(`capacity.${capError.field}`, capError.error);
      }
      const changed: string[] = [];
      if (endpoint !== row.endpoint) changed.push("endpoint");
      if (JSON.stringify(labels) !== JSON.stringify(row.labels)) changed.push("labels");
      if (JSON.stringify(capacity) !== JSON.stringify(before.capacity)) changed.push("capacity");
      if (newCreds || (input.clearCredentials && row.credentialsEnc)) changed.push("credentials");
      tx.update(engines)
        .set({
          endpoint,
          labels,
          capacityRuns: capacity.runs,
          capacityCpus: capacity.cpus,
          capacityMemoryMb: capacity.memoryMb,
          ...(newCreds ? { credentialsEnc: encryptSecret(JSON.stringify(newCreds)) } : input.clearCredentials ? { credentialsEnc: null } : {}),
          updatedAt: new Date(),
        })
        .where(eq(engines.name, input.name))
        .run();
      appendAudit(tx, actor, {
        action: "engine.updated",
        targetType: "engine",
        targetId: input.name,
        details: { changed, endpoint, labels, capacity, credentials: creds ? (creds.privateKey ? "ssh" : "tls") : "none" },
      });
    },
    { behavior: "immediate" },
  );
  return { name: input.name };
}

/** Draining: runs there finish, no new run is placed there. Allowed on every engine, file engines included. */
export function drainEngine(db: Db, actor: Actor, input: z.infer<typeof engineDrainInput>): { name: string; draining: boolean } {
  db.transaction(
    (tx) => {
      const row = rowOf(tx, input.name);
      if (row.draining === input.draining) return;
      tx.update(engines).set({ draining: input.draining, updatedAt: new Date() }).where(eq(engines.name, input.name)).run();
      appendAudit(tx, actor, {
        action: input.draining ? "engine.drained" : "engine.undrained",
        targetType: "engine",
        targetId: input.name,
        details: { draining: input.draining, liveRuns: liveRunCount(tx, input.name) },
      });
    },
    { behavior: "immediate" },
  );
  return { name: input.name, draining: input.draining };
}

export function deleteEngine(db: Db, actor: Actor, name: string, enginesFile?: string): { name: string } {
  if (name === LOCAL_ENGINE) throw new DomainError("CONFLICT", "The local engine cannot be deleted; drain it to send new runs elsewhere.");
  db.transaction(
    (tx) => {
      const row = rowOf(tx, name);
      refuseFileEngine(row, enginesFile);
      const live = liveRunCount(tx, name);
      if (live > 0)
        throw new DomainError(
          "CONFLICT",
          `Engine ${name} has ${live} live ${live === 1 ? "run" : "runs"}; drain it, wait until ${live === 1 ? "it ends" : "they end"} (or stop ${live === 1 ? "it" : "them"}), then delete it.`,
        );
      tx.delete(engines).where(eq(engines.name, name)).run();
      appendAudit(tx, actor, { action: "engine.deleted", targetType: "engine", targetId: name, details: { endpoint: row.endpoint } });
    },
    { behavior: "immediate" },
  );
  return { name };
}
