// `airlock doctor`, issue 17: the AIRLOCK_ENGINES file and each remote engine
// (reachable, API version, runtimes, the sandbox image). The local engine is
// the "Docker engine" check. Doctor looks only: a missing image is loaded by
// the dashboard, not here.
import type { Db } from "@/db/client";
import type { AirlockConfig } from "@/server/config/env";
import { readEnginesFile } from "@/server/engines/file";
import { checkEngine } from "@/server/engines/health";
import { engineConfigs } from "@/server/engines/registry";
import type { DoctorCheck } from "./doctor";

export async function checkEngines(cfg: AirlockConfig, db: Db): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [];
  if (cfg.enginesFile) {
    try {
      const listed = readEnginesFile(cfg.enginesFile);
      checks.push({
        name: "Engines file",
        ok: true,
        detail: `${cfg.enginesFile}: ${listed.length} engine(s) (${listed.map((e) => e.name).join(", ") || "none"}); applied at start`,
      });
    } catch (err) {
      checks.push({
        name: "Engines file",
        ok: false,
        detail: (err as Error).message,
        fix: "Fix the entry named above; Airlock refuses to start until the file is valid.",
      });
    }
  }
  let configs;
  try {
    configs = engineConfigs(db).filter((c) => !c.local);
  } catch (err) {
    checks.push({
      name: "Engines",
      ok: false,
      detail: `the engines could not be read: ${(err as Error).message}`,
      fix: "Restore the data directory's keys/ with the database.",
    });
    return checks;
  }
  const looks = await Promise.all(configs.map(async (c) => ({ cfg: c, health: await checkEngine(c, { timeoutMs: 5000, loadImage: false }) })));
  for (const { cfg: c, health } of looks) {
    const name = `Engine ${c.name}`;
    const where = `${c.endpoint}${c.labels.length ? ` [${c.labels.join(", ")}]` : ""}${c.draining ? " (draining)" : ""}`;
    if (health.downSince) {
      checks.push({
        name,
        ok: false,
        detail: `${where}: down: ${health.error}`,
        fix: `Start dockerd there, or fix the endpoint or credentials in Settings → Engines${c.source === "file" ? " (this one: in AIRLOCK_ENGINES)" : ""}; drain it meanwhile so no run goes there.`,
      });
      continue;
    }
    const imageMissing = !health.image.present && !health.image.error?.includes("not on the local engine");
    const image = health.image.present
      ? health.image.error
        ? `sandbox image DIGEST MISMATCH (${health.image.error})`
        : "sandbox image present, digest verified"
      : imageMissing
        ? "sandbox image missing (the dashboard loads it from the local engine and verifies it)"
        : `sandbox image: ${health.image.error ?? "unknown"}`;
    const ok = health.healthy || imageMissing;
    checks.push({
      name,
      ok,
      detail: `${where}: up, API ${health.apiVersion ?? "?"}, runtimes ${health.runtimes.join(", ") || "none listed"}, ${health.ncpu ?? "?"} CPUs, ${health.memTotalMb ?? "?"} MB; ${image}`,
      fix: ok ? undefined : "Remove the image of that name on the engine (docker image rm) so Airlock loads the right one, or rebuild the local image.",
    });
  }
  return checks;
}
