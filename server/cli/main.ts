// The `airlock` command: admin and automation tasks against the same data
// directory the dashboard uses (AIRLOCK_DATA_DIR).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Command, CommanderError } from "commander";
import { z } from "zod";
import { db } from "@/db/client";
import type { Actor } from "@/server/audit/chain";
import { sealAuditHead, verifyAuditChain } from "@/server/audit/chain";
import { exportAuditEvents } from "@/server/audit/query";
import { generatePassword } from "@/server/auth/password";
import { createApiToken } from "@/server/auth/tokens";
import { config, ConfigError, namedVariable } from "@/server/config/env";
import { createModel, listModels, modelInput } from "@/server/models/models";
import { ensureFirstAdmin } from "@/server/setup/bootstrap";
import { formatBytes } from "@/lib/format";
import { createUser, findUserByEmail, listUsers, parseRole, setUserDisabled, setUserRole } from "@/server/users/users";

const cliActor = (): Actor => ({ userId: null, label: `cli:${os.userInfo().username}` });

function fail(message: string, exitCode = 1): never {
  process.stderr.write(`airlock: ${message}\n`);
  process.exit(exitCode);
}

function userByEmailOrFail(email: string) {
  const user = findUserByEmail(db(), email);
  if (!user) fail(`no user with email ${email}. List users with: airlock user list`);
  return user;
}

const program = new Command();
program.name("airlock").description("Airlock: supervise LLM agents in locked-down containers").showHelpAfterError();
program.exitOverride();

program
  .command("setup")
  .description("apply database migrations and create the first admin if no user exists")
  .action(async () => {
    const cfg = config();
    const database = db(); // migrates on open
    if (sealAuditHead(database)) process.stdout.write("Audit trail sealed with the data directory's audit key (upgrade from an unsealed chain).\n");
    const admin = await ensureFirstAdmin(database, cfg);
    if (admin.created && admin.generatedPassword) {
      process.stdout.write(`\nFirst admin created: ${admin.email}\nGenerated password (shown once, change it in Settings): ${admin.generatedPassword}\n\n`);
    } else if (admin.created) {
      process.stdout.write(`First admin created: ${admin.email} (password from AIRLOCK_ADMIN_PASSWORD)\n`);
    }
    process.stdout.write(`Database ready: ${cfg.databasePath}\n`);
  });

program
  .command("doctor")
  .description("check Node, disk, database, Docker engine and sandbox image, and explain how to fix problems")
  .option("--json", "print the checks as JSON")
  .action(async (opts: { json?: boolean }) => {
    let cfg;
    try {
      cfg = config();
    } catch (err) {
      // A bad setting stops Airlock at start; doctor names it instead of stopping too.
      if (!(err instanceof ConfigError)) throw err;
      const failed = [
        {
          name: "Settings",
          ok: false,
          detail: err.message,
          fix: "Fix or unset the variable named above (see the README's configuration table), then run airlock doctor again.",
        },
      ];
      process.stdout.write(
        opts.json ? JSON.stringify(failed, null, 2) + "\n" : `FAIL ${"Settings".padEnd(14)} ${err.message}\n     ${"".padEnd(14)} fix: ${failed[0]!.fix}\n`,
      );
      process.exitCode = 1;
      return;
    }
    // Loaded on demand: its checks (Docker, image, runtimes) cost every other command ~0.3 s of start-up.
    const { runDoctor } = await import("@/server/doctor/doctor");
    const checks = await runDoctor(cfg);
    if (opts.json) {
      process.stdout.write(JSON.stringify(checks, null, 2) + "\n");
    } else {
      for (const c of checks) {
        process.stdout.write(`${c.ok ? "ok  " : "FAIL"} ${c.name.padEnd(14)} ${c.detail}\n`);
        if (!c.ok && c.fix) process.stdout.write(`     ${"".padEnd(14)} fix: ${c.fix}\n`);
      }
    }
    process.exitCode = checks.every((c) => c.ok) ? 0 : 1;
  });

const user = program.command("user").description("manage users");
user
  .command("create")
  .description("create a user (prints a generated password when --password is not given)")
  .requiredOption("--email <email>")
  .requiredOption("--role <role>", "viewer | operator | reviewer | admin")
  .option("--password <password>")
  .option("--name <name>")
  .action(async (opts: { email: string; role: string; password?: string; name?: string }) => {
    const role = parseRole(opts.role);
    const password = opts.password ?? generatePassword();
    const created = await createUser(db(), cliActor(), { email: opts.email, role, password, name: opts.name });
    process.stdout.write(`created ${created.email} (${created.role}) id=${created.id}\n`);
    if (!opts.password) process.stdout.write(`password: ${password}\n`);
  });
user
  .command("list")
  .description("list users")
  .action(() => {
    for (const u of listUsers(db())) process.stdout.write(`${u.email}\t${u.role}\t${u.disabled ? "disabled" : "active"}\t${u.id}\n`);
  });
user
  .command("set-role")
  .requiredOption("--email <email>")
  .requiredOption("--role <role>")
  .action((opts: { email: string; role: string }) => {
    const u = setUserRole(db(), cliActor(), userByEmailOrFail(opts.email).id, opts.role);
    process.stdout.write(`${u.email} is now ${u.role}\n`);
  });
user
  .command("disable")
  .requiredOption("--email <email>")
  .action((opts: { email: string }) => {
    setUserDisabled(db(), cliActor(), userByEmailOrFail(opts.email).id, true);
    process.stdout.write(`${opts.email} disabled; their sessions and tokens stopped working\n`);
  });
user
  .command("enable")
  .requiredOption("--email <email>")
  .action((opts: { email: string }) => {
    setUserDisabled(db(), cliActor(), userByEmailOrFail(opts.email).id, false);
    process.stdout.write(`${opts.email} enabled\n`);
  });

program
  .command("token")
  .description("API tokens")
  .command("create")
  .description("create an API token for a user; prints only the token")
  .requiredOption("--email <email>")
  .requiredOption("--name <name>")
  .option("--expires-days <days>", "expire after this many days")
  .option("--scope <scope...>", 'extra rights, e.g. "metrics" (may scrape GET /metrics)')
  .action((opts: { email: string; name: string; expiresDays?: string; scope?: string[] }) => {
    const days = opts.expiresDays === undefined ? null : z.coerce.number().int().min(1).max(3650).safeParse(opts.expiresDays);
    if (days && !days.success) fail(`--expires-days must be a whole number from 1 to 3650, got "${opts.expiresDays}"`);
    const u = userByEmailOrFail(opts.email);
    const { token } = createApiToken(db(), cliActor(), { userId: u.id, name: opts.name, expiresInDays: days ? days.data : null, scopes: opts.scope });
    process.stdout.write(`${token}\n`);
  });

const model = program.command("model").description("model endpoints (OpenAI-compatible)");
model
  .command("add")
  .description("register a model endpoint; the API key is read from an environment variable so it never shows in ps")
  .requiredOption("--name <name>")
  .requiredOption("--base-url <url>", "e.g. http://localhost:11434/v1")
  .requiredOption("--model <model>")
  .option("--api-key-env <VAR>", "name of the environment variable holding the API key")
  .action((opts: { name: string; baseUrl: string; model: string; apiKeyEnv?: string }) => {
    const apiKey = opts.apiKeyEnv ? namedVariable(opts.apiKeyEnv) : undefined;
    if (opts.apiKeyEnv && !apiKey) fail(`--api-key-env ${opts.apiKeyEnv}: that environment variable is empty or unset`);
    const parsed = modelInput.safeParse({ name: opts.name, baseUrl: opts.baseUrl, model: opts.model, apiKey });
    if (!parsed.success) fail(parsed.error.issues.map((i) => i.message).join("; "));
    const { id } = createModel(db(), cliActor(), parsed.data);
    process.stdout.write(`${id}\n`);
  });
model.command("list").action(() => {
  for (const m of listModels(db()))
    process.stdout.write(`${m.id}\t${m.name}\t${m.baseUrl}\t${m.model}${m.hasApiKey ? "\t(key set)" : ""}${m.retired ? "\t(retired)" : ""}\n`);
});

const secret = program.command("secret").description("secrets agents may request (request_secret); values are encrypted and never printed");
secret
  .command("set")
  .description("create a secret, or rotate its value if it exists; the value is read from stdin (one trailing newline is dropped)")
  .requiredOption("--name <NAME>", "an environment variable name, e.g. NPM_TOKEN")
  .option("--project <project>", "only for this project's runs (id or slug); default: every project")
  .option("--description <text>")
  .action(async (opts: { name: string; project?: string; description?: string }) => {
    const { createSecret, listSecrets, updateSecret } = await import("@/server/secrets/secrets");
    const { requireProject } = await import("@/server/projects/projects");
    if (process.stdin.isTTY) process.stderr.write(`Type the value of ${opts.name}, then Ctrl-D:\n`);
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    const value = Buffer.concat(chunks)
      .toString("utf8")
      .replace(/\r?\n$/, "");
    const projectId = opts.project ? requireProject(db(), opts.project).id : null;
    const existing = listSecrets(db()).find((s) => s.name === opts.name && s.projectId === projectId);
    if (existing) {
      updateSecret(db(), cliActor(), { id: existing.id, value, description: opts.description });
      process.stdout.write(`${existing.id}\n`);
      process.stderr.write(`rotated ${opts.name}\n`);
    } else {
      const { id } = createSecret(db(), cliActor(), { name: opts.name, value, description: opts.description, projectId: projectId ?? undefined });
      process.stdout.write(`${id}\n`);
    }
  });
secret
  .command("list")
  .description("names, scopes and grant counts (never values)")
  .action(async () => {
    const { listSecrets } = await import("@/server/secrets/secrets");
    for (const s of listSecrets(db())) process.stdout.write(`${s.id}\t${s.name}\t${s.projectName ?? "all projects"}\t${s.grants} grant(s)\t${s.description}\n`);
  });

const audit = program.command("audit").description("the tamper-evident audit trail");
audit
  .command("verify")
  .description("exit 0 when the hash chain is intact (and extends every anchor in --anchor FILE), 1 with the first broken event or anchor otherwise")
  .option("--json")
  .option(
    "--anchor <file>",
    "also check that the chain still extends every anchor in FILE (one JSON object per line, as the anchor file, webhook or email carry them)",
  )
  .action(async (opts: { json?: boolean; anchor?: string }) => {
    let anchors: import("@/server/audit/anchor").ReadAnchor[] = [];
    let anchorProblems: string[] = [];
    const anchorModule = opts.anchor ? await import("@/server/audit/anchor") : null;
    if (opts.anchor && anchorModule) {
      let text: string;
      try {
        text = fs.readFileSync(opts.anchor, "utf8");
      } catch (err) {
        fail(`--anchor ${opts.anchor}: cannot read it (${(err as Error).message})`, 2);
      }
      ({ anchors, problems: anchorProblems } = anchorModule.parseAnchors(text));
      if (anchors.length === 0)
        fail(`--anchor ${opts.anchor} holds no audit anchor${anchorProblems.length ? ` (${anchorProblems.join("; ")})` : ""}; nothing to check against`, 2);
    }
    const result = verifyAuditChain(db());
    const breaks = anchorModule ? anchorModule.checkAnchors(db(), anchors) : [];
    const ok = result.ok && breaks.length === 0;
    if (opts.json) {
      process.stdout.write(
        JSON.stringify(anchorModule ? { ...result, ok, anchors: { checked: anchors.length, broken: breaks, unreadable: anchorProblems } } : result) + "\n",
      );
    } else {
      if (result.ok) process.stdout.write(`audit chain intact: ${result.count} events\n`);
      else
        process.stdout.write(
          `audit chain BROKEN at event #${result.firstBrokenSeq}${result.firstBrokenId ? ` (id ${result.firstBrokenId})` : ""}: ${result.problem}\n`,
        );
      for (const p of anchorProblems) process.stderr.write(`airlock: warning: --anchor ${opts.anchor}: ${p}\n`);
      if (anchorModule && breaks.length === 0) process.stdout.write(`extends all ${anchors.length} anchor(s) in ${opts.anchor}\n`);
      else if (breaks.length)
        process.stdout.write(
          `audit chain does NOT extend ${breaks.length} of ${anchors.length} anchor(s) in ${opts.anchor}; first: ${breaks[0]!.problem}\n` +
            breaks
              .slice(1)
              .map((b) => `  also: ${b.problem}\n`)
              .join(""),
        );
    }
    process.exitCode = ok ? 0 : 1;
  });
audit
  .command("anchor")
  .description("publish the chain's sealed head now to the anchor destinations (AIRLOCK_AUDIT_ANCHOR_*); exit 1 if none took it")
  .action(async () => {
    const { publishAuditAnchor } = await import("@/server/audit/anchor");
    const outcome = await publishAuditAnchor(db(), { reason: "manual", actor: cliActor() });
    if (!outcome.published && outcome.skipped) fail(`nothing published: ${outcome.skipped}`);
    for (const d of outcome.deliveries) process.stdout.write(`${d.ok ? "ok  " : "FAIL"} ${d.kind.padEnd(8)} ${d.target}${d.ok ? "" : `: ${d.error}`}\n`);
    if (outcome.anchor) process.stdout.write(`${JSON.stringify(outcome.anchor)}\n`);
    process.exitCode = outcome.published ? 0 : 1;
  });
audit
  .command("export")
  .description("write the audit trail to stdout")
  .option("--format <format>", "jsonl | csv", "jsonl")
  .action((opts: { format: string }) => {
    if (opts.format !== "jsonl" && opts.format !== "csv") fail(`--format must be jsonl or csv, got "${opts.format}"`);
    process.stdout.write(exportAuditEvents(db(), { format: opts.format }).body);
  });

program
  .command("backup")
  .description("take a consistent online backup of the data directory into DIR (new or empty); --verify checks an existing backup instead")
  .argument("<dir>", "where the backup goes (or, with --verify, the backup to check)")
  .option("--verify", "check the backup in DIR (checksums, completeness, database integrity, audit chain) without restoring it")
  .action(async (dir: string, opts: { verify?: boolean }) => {
    if (opts.verify) {
      const { verifyBackup } = await import("@/server/backup/manifest");
      const check = await verifyBackup(dir);
      if (check.ok) {
        const m = check.manifest!;
        process.stdout.write(
          `backup OK: ${m.files.length} entries (${formatBytes(m.totalBytes)}) match their checksums, the database passes integrity_check, the audit chain verifies (${check.auditCount} events); taken ${m.createdAt} by Airlock ${m.airlockVersion}\n`,
        );
      } else {
        process.stdout.write(`backup FAILED verification (${check.problems.length} problem(s)):\n${check.problems.map((p) => `  ${p}`).join("\n")}\n`);
      }
      process.exitCode = check.ok ? 0 : 1;
      return;
    }
    const { createBackup, thawFrozenSandboxes } = await import("@/server/backup/backup");
    const cfg = config();
    const started = Date.now();
    // Interrupted while an active run's container is frozen for its copy: thaw it, or the run would hang frozen.
    const interrupted = (signal: NodeJS.Signals) =>
      void thawFrozenSandboxes().finally(() =>
        fail(`${signal}: backup interrupted; ${path.resolve(dir)} is incomplete (it has no manifest.json): delete it and run the backup again`, 130),
      );
    process.once("SIGINT", interrupted);
    process.once("SIGTERM", interrupted);
    const manifest = await createBackup({
      db: db(),
      dataDir: cfg.dataDir,
      dir,
      runtime: await backupRuntime(cfg.dataDir),
      airlockVersion: airlockVersion(),
      onProgress: (line) => process.stderr.write(`${line}\n`),
    });
    process.stdout.write(
      `backup written to ${path.resolve(dir)}: ${manifest.files.length} entries, ${formatBytes(manifest.totalBytes)}, ${manifest.audit.count} audit events, ${manifest.runs.active.length} active run(s), in ${((Date.now() - started) / 1000).toFixed(1)} s\n` +
        "It holds the data directory's keys: keep it as secret as the data directory, and off this machine.\n",
    );
    for (const run of manifest.runs.active) process.stdout.write(`  active run ${run.id} (${run.state}): ${run.note}\n`);
  });

program
  .command("restore")
  .description("restore the backup in DIR into the data directory (AIRLOCK_DATA_DIR), which must be empty; the backup is verified first")
  .argument("<dir>", "the backup to restore")
  .action(async (dir: string) => {
    const { restoreBackup } = await import("@/server/backup/restore");
    const cfg = config();
    const result = await restoreBackup({ dir, dataDir: cfg.dataDir, onProgress: (line) => process.stderr.write(`${line}\n`) });
    process.stdout.write(
      `restored ${result.files} entries (${formatBytes(result.bytes)}) into ${cfg.dataDir}; the audit chain verifies (${result.auditCount} events)\n`,
    );
    if (result.endedAtStart.length)
      process.stdout.write(
        `${result.endedAtStart.length} run(s) were active when the backup was taken; their sandboxes are not in it, so the next start ends them (their workspaces and checkpoints are restored): ${result.endedAtStart.join(", ")}\n`,
      );
    process.stdout.write("Start Airlock (npm start) on this data directory.\n");
  });

program
  .command("redteam")
  .description("run the red-team scenarios through the real gateway against a project's policy and the real sandbox; exit 1 if any escaped")
  .option("--json", "print the report as JSON")
  .option("--project <slug>", "the project whose policy is tested (default: the default project)")
  .option("--scenario <id...>", "run only these scenarios")
  .option("--policy-only", "skip the approval pass (policy decisions only)")
  .action(async (opts: { json?: boolean; project?: string; scenario?: string[]; policyOnly?: boolean }) => {
    const { runRedteamReport } = await import("@/server/redteam/reports");
    // Exit codes: 0 nothing escaped, 1 something escaped, 2 the red team could not run.
    const report = await runRedteamReport(
      db(),
      cliActor(),
      { projectId: opts.project, scenarioIds: opts.scenario, policyOnly: opts.policyOnly },
      (result, done, total) => {
        if (!opts.json)
          process.stderr.write(`${String(done).padStart(3)}/${total} ${result.outcome.toUpperCase().padEnd(9)} ${result.id.padEnd(28)} ${result.summary}\n`);
      },
    ).catch((err: unknown) => fail((err as Error).message, 2));
    if (opts.json) process.stdout.write(JSON.stringify(report, null, 2) + "\n");
    else if (report.state === "failed") process.stdout.write(`red team failed: ${report.error}\n`);
    else {
      const s = report.summary;
      process.stdout.write(
        `${s.total} scenarios against policy v${report.policyVersion}: ${s.blocked} blocked by policy, ${s.escalated} escalated to approval, ${s.contained} contained by the sandbox, ${s.escaped} ESCAPED (${Math.round((s.durationMs ?? 0) / 1000)} s, sandbox under ${s.runtime === "runsc" ? "gVisor (runsc)" : (s.runtime ?? "runc")})\n`,
      );
      for (const r of report.results ?? []) if (r.outcome === "escaped") process.stdout.write(`ESCAPED ${r.id}: ${r.summary}\n`);
    }
    process.exitCode = report.state === "failed" ? 2 : (report.summary.escaped ?? 0) > 0 ? 1 : 0;
  });

/** The engine of this data directory's sandboxes (to freeze active runs while their workspaces are copied), or null when unreachable. */
async function backupRuntime(dataDir: string) {
  const { dockerRuntime, instanceIdForDataDir } = await import("@/server/sandbox/runtime");
  const runtime = dockerRuntime(undefined, { instance: instanceIdForDataDir(dataDir) });
  try {
    await runtime.listSandboxes();
    return runtime;
  } catch (err) {
    process.stderr.write(
      `airlock: the container engine cannot be reached (${(err as Error).message}); active runs' workspaces are copied without freezing them\n`,
    );
    return null;
  }
}

function airlockVersion(): string {
  try {
    return String((JSON.parse(fs.readFileSync(path.join(process.cwd(), "package.json"), "utf8")) as { version?: string }).version ?? "unknown");
  } catch {
    return "unknown";
  }
}

async function main() {
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode);
    if (err instanceof z.ZodError) fail(err.issues.map((i) => i.message).join("; "));
    const e = err as Error & { code?: string };
    fail(e.message ?? String(err));
  }
}

void main();
