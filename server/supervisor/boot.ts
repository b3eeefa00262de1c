// Starts the process-wide supervisor once (from instrumentation.ts) and stops
// it cleanly on SIGTERM / SIGINT.
import { db } from "@/db/client";
import { startAuditAnchorTimer } from "@/server/audit/anchor";
import { sealAuditHead } from "@/server/audit/chain";
import { instanceIdForDataDir } from "@/server/sandbox/runtime";
import { enginePoolRuntime } from "@/server/engines/pooled-runtime";
import { syncEnginesFile } from "@/server/engines/file";
import { startEngineMonitor, stopEngineMonitor } from "@/server/engines/health";
import { config } from "@/server/config/env";
import { getSupervisor, setSupervisor, Supervisor } from "@/server/supervisor/supervisor";
import { DomainError } from "@/server/errors/domain-error";
import { startNotifications } from "@/server/notify/boot";
import { acquireInstanceLock } from "@/server/instance/lock";
import { startAuditStream, stopAuditStream } from "@/server/audit/stream";

export async function startSupervisor(): Promise<Supervisor> {
  const existing = getSupervisor();
  if (existing) return existing;
  // Before the database is touched (migrations, reconciliation): a second Airlock on
  // this data directory throws InstanceLockedError here, naming the one that runs.
  acquireInstanceLock(config().dataDir, "dashboard");
  try {
    sealAuditHead(db()); // an upgraded database that `airlock setup` has not seen yet
  } catch (err) {
    console.error("airlock: could not seal the audit trail:", err);
  }
  try {
    startNotifications(db());
  } catch (err) {
    console.error("airlock: notifications could not start:", err);
  }
  let stopAnchors = () => {};
  try {
    stopAnchors = startAuditAnchorTimer(db()); // no-op unless AIRLOCK_AUDIT_ANCHOR_* names a destination
  } catch (err) {
    console.error("airlock: the audit anchor timer could not start:", err);
  }
  try {
    startAuditStream(db(), config().auditStream); // no-op unless OTEL_EXPORTER_OTLP_(LOGS_)ENDPOINT is set
  } catch (err) {
    console.error("airlock: the audit log stream could not start:", err);
  }
  // AIRLOCK_ENGINES before anything places a run: a bad file stops the start here (ConfigError naming the entry and field).
  syncEnginesFile(db(), config().enginesFile);
  const instance = instanceIdForDataDir(config().dataDir);
  // Issue 17: one runtime over every engine of the pool (the local one, and those registered in Settings → Engines or AIRLOCK_ENGINES).
  const supervisor = new Supervisor({ db: db(), runtime: enginePoolRuntime(db(), instance) });
  setSupervisor(supervisor);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    stopAnchors();
    stopEngineMonitor();
    console.log(`airlock: ${signal} received, stopping the supervisor (runs keep their state and resume on restart)`);
    void supervisor
      .shutdown()
      .catch((err: unknown) => console.error("airlock: stopping the supervisor failed:", err))
      .then(() => stopAuditStream()) // the last events (the supervisor's own included) reach the collector
      .finally(() => {
        try {
          db().$client.close();
        } catch {
          // already closed
        }
        process.exit(0);
      });
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
  try {
    const r = await supervisor.start();
    void r;
  } catch (err) {
    console.error("airlock: supervisor start (reconciliation) failed:", err);
  }
  // Health, API version, runtimes and the sandbox image of every engine, every 10 s (Settings → Engines, placement).
  startEngineMonitor(db());
  return supervisor;
}

export function requireSupervisor(): Supervisor {
  const s = getSupervisor();
  if (!s) throw new DomainError("PRECONDITION_FAILED", "The run supervisor is not running in this process; restart Airlock with npm start.");
  return s;
}
