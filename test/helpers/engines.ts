// Issue 17: a test's second Docker engine (test/faults/second-engine.ts, started with tls: true) registered in the
// test database as a remote engine, as Settings → Engines would: its loopback TCP endpoint and its TLS material, encrypted.
import type { Db } from "@/db/client";
import { engines } from "@/db/schema";
import { encryptSecret } from "@/server/secrets/crypto";
import type { SecondEngine } from "@/test/faults/second-engine";

export function registerSecondEngine(db: Db, engine: SecondEngine, opts: { labels?: string[]; capacityRuns?: number } = {}): void {
  const tcp = engine.tcp;
  if (!tcp) throw new Error(`engine ${engine.name} was started without tls: true, so it has no TCP endpoint to register`);
  db.insert(engines)
    .values({
      name: engine.name,
      endpoint: tcp.endpoint,
      local: false,
      labels: opts.labels ?? [],
      capacityRuns: opts.capacityRuns ?? null,
      credentialsEnc: encryptSecret(JSON.stringify({ ca: tcp.ca, cert: tcp.cert, key: tcp.key })),
      source: "ui",
      updatedAt: new Date(),
    })
    .run();
}
