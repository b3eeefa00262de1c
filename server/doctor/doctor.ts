// `airlock doctor`: checks what Airlock needs and says how to fix each problem.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { migrateDatabase, openDatabase, type Db } from "@/db/client";
import { auditAnchorStatus } from "@/server/audit/anchor";
import { verifyAuditChain } from "@/server/audit/chain";
import { readEgressAllowance, readMcpIdleTimeoutMs, type AirlockConfig } from "@/server/config/env";
import { firewallUnavailable } from "@/server/egress/firewall";
import { imageExists, pingDocker } from "@/server/sandbox/docker";
import { sandboxImageName } from "@/server/sandbox/image";
import { chooseRuntime, runGvisorProbe } from "@/server/sandbox/runtimes";
import { checkAgentIds } from "./agent-uid";
import { checkEngines } from "./engines";

export interface DoctorCheck {
  name: string;
  ok: boolean;
  detail: string;
  fix?: string;
}

const MIN_FREE_BYTES = 2 * 1024 ** 3;

export async function runDoctor(cfg: AirlockConfig): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [];
  const major = Number(process.versions.node.split(".")[0]);
  checks.push({
    name: "Node.js",
    ok: major >= 20,
    detail: `v${process.versions.node}`,
    fix: major >= 20 ? undefined : "Install Node.js 20 or newer (https://nodejs.org or Debian's nodesource packages).",
  });

  fs.mkdirSync(cfg.dataDir, { recursive: true });
  const stat = fs.statfsSync(cfg.dataDir);
  const free = stat.bavail * stat.bsize;
  checks.push({
    name: "Disk",
    ok: free >= MIN_FREE_BYTES,
    detail: `${(free / 1024 ** 3).toFixed(1)} GiB free in ${cfg.dataDir}`,
    fix: free >= MIN_FREE_BYTES ? undefined : "Free at least 2 GiB there, or point AIRLOCK_DATA_DIR at a larger disk.",
  });

  try {
    const db = openDatabase(cfg.databasePath);
    try {
      const { applied } = migrateDatabase(db);
      checks.push({ name: "Database", ok: true, detail: `${cfg.databasePath}${applied ? ` (applied ${applied} migration(s))` : ", schema up to date"}` });
      const audit = verifyAuditChain(db);
      checks.push({
        name: "Audit trail",
        ok: audit.ok,
        detail: audit.ok
          ? `${audit.count} events, chain and seal intact`
          : `broken at event #${audit.firstBrokenSeq ?? "?"}: ${audit.problem ?? "unknown problem"}`,
        fix: audit.ok
          ? undefined
          : "Keep the database as it is for investigation (`airlock audit export`), and compare it with a backup of the data directory (database and keys/).",
      });
      checks.push(checkAuditAnchor(cfg, db));
      checks.push(checkAuditStream(cfg));
    } finally {
      db.$client.close();
    }
  } catch (err) {
    checks.push({ name: "Database", ok: false, detail: (err as Error).message, fix: "See the message above; the file was not changed." });
  }

  let dockerOk = false;
  try {
    const v = await pingDocker(3000);
    dockerOk = true;
    checks.push({ name: "Docker engine", ok: true, detail: `Docker ${v.version} (API ${v.apiVersion})` });
  } catch (err) {
    checks.push({
      name: "Docker engine",
      ok: false,
      detail: (err as Error).message,
      fix: "Run `npm start` as root (it installs docker.io and starts dockerd), or start Docker yourself, or set DOCKER_HOST.",
    });
  }

  let image = "";
  try {
    image = sandboxImageName();
    const present = dockerOk && (await imageExists(image));
    checks.push({
      name: "Sandbox image",
      ok: present,
      detail: dockerOk ? `${image} ${present ? "present" : "missing"}` : `${image} (cannot check: Docker does not answer)`,
      fix: present
        ? undefined
        : cfg.sandboxImage
          ? `Pull or build ${image} (AIRLOCK_SANDBOX_IMAGE is set), or unset it to use Airlock's own image.`
          : "Run `bash scripts/sandbox-image.sh` (npm start does it).",
    });
  } catch (err) {
    checks.push({ name: "Sandbox image", ok: false, detail: (err as Error).message, fix: "Check that scripts/sandbox-image.sh exists and bash is installed." });
  }

  checks.push(await checkIsolation(cfg, dockerOk, image));

  // Issue 17: the other engines of the pool (the local one is the check above).
  try {
    const db = openDatabase(cfg.databasePath);
    try {
      checks.push(...(await checkEngines(cfg, db)));
    } finally {
      db.$client.close();
    }
  } catch (err) {
    checks.push({ name: "Engines", ok: false, detail: (err as Error).message, fix: "See the Database check above." });
  }

  const settingProblems: string[] = [];
  for (const check of [() => readMcpIdleTimeoutMs(), () => readEgressAllowance()]) {
    try {
      check();
    } catch (err) {
      settingProblems.push((err as Error).message);
    }
  }
  checks.push({
    name: "Settings",
    ok: settingProblems.length === 0,
    detail: settingProblems.length ? settingProblems.join(" ") : "AIRLOCK_MCP_IDLE_TIMEOUT_S and AIRLOCK_EGRESS_* are valid (or unset)",
    fix: settingProblems.length ? "Fix or unset the variables named above (see the README's configuration table)." : undefined,
  });

  // Optional: without it Airlock works, but a reviewer cannot grant a run network access.
  const firewall = await firewallUnavailable();
  checks.push({
    name: "Egress",
    ok: true,
    detail: firewall
      ? `unavailable (${firewall}); granting runs network access will be refused, everything else works`
      : "iptables and ip6tables usable: runs can be granted network access",
  });

  checks.push({ name: "Agent uid", ...checkAgentIds() });

  try {
    execFileSync("git", ["--version"], { stdio: "pipe" });
    checks.push({ name: "git", ok: true, detail: "present" });
  } catch {
    checks.push({ name: "git", ok: false, detail: "git not found", fix: "apt-get install -y git" });
  }
  return checks;
}

/**
 * Which runtimes the engine offers, whether gVisor starts a hardened sandbox
 * here (a real probe container), and what AIRLOCK_RUNTIME resolves to. Fails
 * only when the setting requires gVisor and it is not usable: under auto,
 * runc is a working (weaker) tier.
 */
async function checkIsolation(cfg: AirlockConfig, dockerOk: boolean, image: string): Promise<DoctorCheck> {
  const name = "Isolation";
  if (!dockerOk || !image) {
    return { name, ok: cfg.runtime !== "runsc", detail: `AIRLOCK_RUNTIME=${cfg.runtime}; cannot check the runtimes: Docker does not answer` };
  }
  const gvisor = await runGvisorProbe(image);
  const decision = chooseRuntime({ setting: cfg.runtime, project: null }, gvisor);
  const offered = gvisor.engineRuntimes.length ? gvisor.engineRuntimes.join(", ") : "none listed";
  const gvisorState = gvisor.works
    ? `gVisor works (${gvisor.kernel ?? "its kernel"} inside, ${(gvisor.durationMs / 1000).toFixed(1)} s to probe)${gvisor.toolsProblem ? `, but ${gvisor.toolsProblem}` : ""}`
    : `gVisor not usable (${gvisor.problem}; \`bash scripts/ensure-gvisor.sh\` as root installs and registers it)`;
  const resolved = decision.ok ? `runs use ${decision.runtime} (${decision.why})` : "runs will FAIL to start";
  return {
    name,
    ok: decision.ok,
    detail: `engine offers ${offered}; ${gvisorState}; AIRLOCK_RUNTIME=${cfg.runtime} → ${resolved}. Projects that require gVisor fail to start their runs when it is not usable.`,
    fix: decision.ok ? undefined : decision.reason,
  };
}

/**
 * Where the audit stream goes (informational: the export counters live in the
 * dashboard's process, shown by /api/health and /metrics, not in this one).
 */
export function checkAuditStream(cfg: AirlockConfig): DoctorCheck {
  const stream = cfg.auditStream;
  if (!stream) {
    return {
      name: "Audit stream",
      ok: true,
      detail: "off: audit events are not sent to a SIEM",
      fix: "Set OTEL_EXPORTER_OTLP_ENDPOINT (README, Audit to the SIEM).",
    };
  }
  return {
    name: "Audit stream",
    ok: true,
    detail: `OpenTelemetry logs over OTLP/HTTP to ${stream.url} as service ${stream.serviceName}; failed exports show in /api/health (auditStream.failedRecords) and /metrics (airlock_audit_export_records_total{result="failed"})`,
  };
}

/**
 * Where the audit anchors go and whether the last one got there. Informational
 * when no destination is set; fails when the last publication failed, is
 * overdue, or the anchor file shares the data directory's file system (a
 * whole-disk restore would take it back too).
 */
export function checkAuditAnchor(cfg: AirlockConfig, db: Db): DoctorCheck {
  const status = auditAnchorStatus(db, cfg.auditAnchor);
  if (status.destinations.length === 0) {
    return {
      name: "Audit anchor",
      ok: true,
      detail: "off: the chain's head is not published anywhere, so a restored older copy of the data directory cannot be told apart",
      fix: "Set AIRLOCK_AUDIT_ANCHOR_FILE (on another mount), AIRLOCK_AUDIT_ANCHOR_WEBHOOK or AIRLOCK_AUDIT_ANCHOR_EMAIL (README, Audit anchors).",
    };
  }
  const where = status.destinations.map((d) => `${d.kind} ${d.target}`).join(", ");
  const last = status.lastAnchor ? `last ${status.lastAnchor.at} (${status.lastAnchor.count} events, ${status.lastAnchor.reason})` : "none published yet";
  let sameMount: string | undefined;
  if (cfg.auditAnchor.file) {
    try {
      const dir = fs.statSync(path.dirname(cfg.auditAnchor.file));
      if (dir.dev === fs.statSync(cfg.dataDir).dev)
        sameMount = `${cfg.auditAnchor.file} is on the same file system as the data directory: a restore of that disk would roll it back too`;
    } catch {
      sameMount = `the directory of ${cfg.auditAnchor.file} does not exist`;
    }
  }
  const problem = status.problem ?? sameMount;
  return {
    name: "Audit anchor",
    ok: !problem,
    detail: `${where}; ${last}${problem ? `; ${problem}` : ""}`,
    fix: problem ? "Fix the destination named above, then run `airlock audit anchor` to publish one now." : undefined,
  };
}
