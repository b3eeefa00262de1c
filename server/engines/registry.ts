// Issue 17: the engines runs may be placed on, and a Docker client for each.
// The rows live in the `engines` table; "local" (DOCKER_HOST or the local
// socket) is made on first use and cannot be deleted.
import Docker from "dockerode";
import { eq } from "drizzle-orm";
import type { Db } from "@/db/client";
import { engines, type EngineRow } from "@/db/schema";
import { decryptSecret } from "@/server/secrets/crypto";
import { docker } from "@/server/sandbox/docker";
import { LOCAL_ENGINE, type EngineConfig, type EngineCredentials } from "./types";

/** The local engine's row, made when missing. */
export function ensureLocalEngine(db: Db): void {
  db.insert(engines).values({ name: LOCAL_ENGINE, endpoint: "local", local: true, source: "builtin", updatedAt: new Date() }).onConflictDoNothing().run();
}

export function engineConfigFromRow(row: EngineRow): EngineConfig {
  return {
    name: row.name,
    endpoint: row.endpoint,
    local: row.local,
    labels: row.labels,
    capacity: { runs: row.capacityRuns, cpus: row.capacityCpus, memoryMb: row.capacityMemoryMb },
    draining: row.draining,
    credentials: row.credentialsEnc ? (JSON.parse(decryptSecret(row.credentialsEnc)) as EngineCredentials) : null,
    source: row.source,
  };
}

/** Every engine, local first. */
export function engineConfigs(db: Db): EngineConfig[] {
  ensureLocalEngine(db);
  const rows = db.select().from(engines).all();
  return rows.map(engineConfigFromRow).sort((a, b) => (a.local === b.local ? a.name.localeCompare(b.name) : a.local ? -1 : 1));
}

export function engineConfig(db: Db, name: string): EngineConfig | null {
  if (name === LOCAL_ENGINE) ensureLocalEngine(db);
  const row = db.select().from(engines).where(eq(engines.name, name)).get();
  return row ? engineConfigFromRow(row) : null;
}

/**
 * A dockerode client for an engine's endpoint: the process-wide client for
 * the local engine; tcp://host:port with TLS client certificates (https when
 * any TLS material is given); ssh://user@host[:port] (dockerode's ssh agent).
 */
export function dockerClientFor(cfg: Pick<EngineConfig, "endpoint" | "local" | "credentials">): Docker {
  if (cfg.local) return docker();
  const url = new URL(cfg.endpoint);
  const creds = cfg.credentials ?? {};
  switch (url.protocol) {
    case "unix:":
      return new Docker({ socketPath: url.pathname });
    case "tcp:": {
      const tls = !!(creds.ca || creds.cert || creds.key);
      return new Docker({
        host: url.hostname,
        port: Number(url.port || (tls ? 2376 : 2375)),
        protocol: tls ? "https" : "http",
        ...(creds.ca ? { ca: creds.ca } : {}),
        ...(creds.cert ? { cert: creds.cert } : {}),
        ...(creds.key ? { key: creds.key } : {}),
      });
    }
    case "ssh:":
      return new Docker({
        protocol: "ssh",
        host: url.hostname,
        port: Number(url.port || 22),
        username: decodeURIComponent(url.username) || undefined,
        sshOptions: creds.privateKey ? { privateKey: creds.privateKey } : {},
      } as Docker.DockerOptions);
    default:
      throw new Error(`Engine endpoint ${cfg.endpoint} is not unix://, tcp:// or ssh://.`);
  }
}
