// Starts Airlock's server side on a restored data directory (AIRLOCK_DATA_DIR)
// in its own process, as `npm start` would: the database opens (migrations),
// the supervisor reconciles, then it reports what a user would look at, as
// one line of JSON. Used by test/backup.int.test.ts.
import fs from "node:fs";
import path from "node:path";
import { eq } from "drizzle-orm";
import { db } from "@/db/client";
import { runs, secrets } from "@/db/schema";
import { verifyAuditChain } from "@/server/audit/chain";
import { config } from "@/server/config/env";
import { RESTORE_MARKER } from "@/server/backup/restore-marker";
import { decryptSecret } from "@/server/secrets/crypto";
import { dockerRuntime, instanceIdForDataDir } from "@/server/sandbox/runtime";
import { sandboxImageName } from "@/server/sandbox/image";
import { Supervisor } from "@/server/supervisor/supervisor";
import { diffRun, listCheckpoints } from "@/server/workspace/checkpoints";

async function main() {
  const dataDir = config().dataDir;
  const database = db();
  const supervisor = new Supervisor({
    db: database,
    runtime: dockerRuntime(undefined, { instance: instanceIdForDataDir(dataDir) }),
    dataDir,
    image: sandboxImageName(),
  });
  await supervisor.start(); // reconciles the runs the backup says were active
  const report = {
    audit: verifyAuditChain(database),
    markerLeft: fs.existsSync(path.join(dataDir, RESTORE_MARKER)),
    runs: {} as Record<string, { state: string; endedReason: string | null; containerId: string | null; checkpoints: number; diff: string }>,
    secrets: database
      .select()
      .from(secrets)
      .all()
      .map((s) => ({ name: s.name, value: decryptSecret(s.valueEnc) })),
  };
  for (const run of database.select().from(runs).all()) {
    const fresh = database.select().from(runs).where(eq(runs.id, run.id)).get()!;
    report.runs[run.id] = {
      state: fresh.state,
      endedReason: fresh.endedReason,
      containerId: fresh.containerId,
      checkpoints: listCheckpoints(database, run.id).length,
      diff: (await diffRun(database, run.id)).diff,
    };
  }
  await supervisor.shutdown();
  process.stdout.write(JSON.stringify(report) + "\n");
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`restored instance failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
