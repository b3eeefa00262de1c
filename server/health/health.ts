// Health of the parts Airlock cannot work without: the database and the
// container runtime (and whether the sandbox image is there).
import { sql } from "drizzle-orm";
import type { Db } from "@/db/client";
import { imageExists, pingDocker } from "@/server/sandbox/docker";
import { sandboxImageName } from "@/server/sandbox/image";
import { config, type RuntimeSetting } from "@/server/config/env";
import { cachedGvisorStatus } from "@/server/sandbox/runtimes";
import { auditAnchorStatus } from "@/server/audit/anchor";
import { auditStream } from "@/server/audit/stream";
import { engines } from "@/db/schema";
import { engineHealth } from "@/server/engines/health";

export interface HealthReport {
  ok: boolean;
  database: { ok: boolean; error?: string };
  docker: { ok: boolean; version?: string; error?: string };
  sandboxImage: { ok: boolean; name?: string; error?: string };
  /** Isolation (informational, never fails health): AIRLOCK_RUNTIME and what this process last learned about gVisor
   * ("unchecked" until the first run start or probe; health itself never starts a probe container). */
  runtime?: { setting: RuntimeSetting; gvisor: "works" | "unavailable" | "unchecked"; problem?: string; toolsProblem?: string };
  /** Audit anchors when configured (informational, never fails health): the last one and whether publishing fails.
   * Where they go and why they fail is for admins (`airlock doctor`): health answers without signing in. */
  auditAnchor?: { lastAnchorAt?: string; failing: boolean };
  /** The audit stream to OTLP when configured (informational, never fails health): records exported and failed since start. */
  auditStream?: { exportedRecords: number; failedRecords: number; failing: boolean };
  /** The engine pool when it has more than the local engine (informational, never fails health; the local engine is `docker` above).
   * Counts only: health answers without signing in, so names and endpoints are for admins (Settings → Engines, airlock doctor). */
  engines?: { total: number; healthy: number; down: number; draining: number; unchecked: number };
}

export async function checkHealth(openDb: () => Db): Promise<HealthReport> {
  const database: HealthReport["database"] = { ok: false };
  try {
    openDb().get(sql`select 1`);
    database.ok = true;
  } catch (err) {
    database.error = `${(err as Error).message}`;
  }
  const dockerState: HealthReport["docker"] = { ok: false };
  const sandboxImage: HealthReport["sandboxImage"] = { ok: false };
  try {
    const v = await pingDocker(2500);
    dockerState.ok = true;
    dockerState.version = v.version;
  } catch (err) {
    dockerState.error = `${(err as Error).message}. Start the Docker engine (npm start does it when run as root) or set DOCKER_HOST.`;
  }
  try {
    sandboxImage.name = sandboxImageName();
    if (dockerState.ok) {
      sandboxImage.ok = await imageExists(sandboxImage.name);
      if (!sandboxImage.ok) sandboxImage.error = `Image ${sandboxImage.name} is missing. Run: bash scripts/sandbox-image.sh (npm start does it).`;
    } else {
      sandboxImage.error = "unknown: Docker does not answer";
    }
  } catch (err) {
    sandboxImage.error = (err as Error).message;
  }
  let runtime: HealthReport["runtime"];
  try {
    const status = sandboxImage.name ? cachedGvisorStatus(sandboxImage.name) : null;
    runtime = {
      setting: config().runtime,
      gvisor: status ? (status.works ? "works" : "unavailable") : "unchecked",
      ...(status?.problem ? { problem: status.problem } : {}),
      ...(status?.toolsProblem ? { toolsProblem: status.toolsProblem } : {}),
    };
  } catch {
    runtime = undefined; // a bad setting is reported by airlock doctor and at start
  }
  let auditAnchor: HealthReport["auditAnchor"];
  try {
    if (database.ok) {
      const status = auditAnchorStatus(openDb());
      if (status.destinations.length) auditAnchor = { ...(status.lastAnchor ? { lastAnchorAt: status.lastAnchor.at } : {}), failing: Boolean(status.problem) };
    }
  } catch {
    auditAnchor = undefined; // a bad setting is reported by airlock doctor and at start
  }
  let enginePool: HealthReport["engines"];
  try {
    if (database.ok) {
      const rows = openDb().select({ name: engines.name, local: engines.local, draining: engines.draining }).from(engines).all();
      if (rows.some((r) => !r.local)) {
        const looks = rows.map((r) => ({ ...r, health: engineHealth(r.name) }));
        enginePool = {
          total: rows.length,
          healthy: looks.filter((l) => l.health?.healthy).length,
          down: looks.filter((l) => l.health?.downSince).length,
          draining: rows.filter((r) => r.draining).length,
          unchecked: looks.filter((l) => !l.health).length,
        };
      }
    }
  } catch {
    enginePool = undefined; // informational
  }
  const stream = auditStream()?.status();
  return {
    ok: database.ok && dockerState.ok,
    database,
    docker: dockerState,
    sandboxImage,
    ...(runtime ? { runtime } : {}),
    ...(auditAnchor ? { auditAnchor } : {}),
    ...(enginePool ? { engines: enginePool } : {}),
    ...(stream ? { auditStream: { exportedRecords: stream.exportedRecords, failedRecords: stream.failedRecords, failing: stream.lastFailed } } : {}),
  };
}
