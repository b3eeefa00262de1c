// Streams the audit chain to a SIEM as OpenTelemetry logs over OTLP/HTTP
// (configured by the standard OTEL_EXPORTER_OTLP_* variables, see
// readOtlpLogSettings in server/config/env.ts). The stream tails the
// audit_events table rather than hooking the append: an event is read only
// once its transaction committed (a rolled-back append is never sent), events
// other processes append (the CLI) are sent too, and a slow or failing
// collector can never block or break an audit write. appendAuditEvents wakes
// the stream after each append; a timer catches everything else. Records go
// through a batch processor; failed exports are counted (instruments.ts) and
// shown by /api/health.
import { SeverityNumber, type Logger } from "@opentelemetry/api-logs";
import { OTLPLogExporter } from "@opentelemetry/exporter-logs-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchLogRecordProcessor, LoggerProvider, type LogRecordExporter } from "@opentelemetry/sdk-logs";
import type Database from "better-sqlite3";
import type { Db } from "@/db/client";
import { setAuditAppendListener } from "@/server/audit/chain";
import type { OtlpLogSettings } from "@/server/config/env";
import { countAuditExport } from "@/server/metrics/instruments";

/** Events read per query while catching up. */
const PAGE = 500;
/** Records the batch processor may hold; above it the SDK drops records, so a backlog is read no faster than this. */
const MAX_QUEUE = 10_000;
/** How long a shutdown waits for the last export. */
const STOP_TIMEOUT_MS = 5_000;
/** Longest detail text sent per record (the full event stays in the chain). */
const MAX_DETAILS_CHARS = 8_192;

export interface AuditStreamOptions {
  /** Look for events appended by other processes this often (ms); default 2000. */
  pollMs?: number;
  /** Send the batch this long after its first record (ms); default 1000. */
  batchDelayMs?: number;
  /** Give up on one export after this long (ms), retries included; default 10000. */
  exportTimeoutMs?: number;
  /** Start after this sequence number; default: the chain's end when the stream starts (history is not re-sent). */
  afterSeq?: number;
}

export interface AuditStreamStatus {
  endpoint: string;
  /** The last sequence number handed to the exporter. */
  sentThroughSeq: number;
  exportedRecords: number;
  failedRecords: number;
  lastError: string | null;
  /** Whether the last export failed. */
  lastFailed: boolean;
}

export interface AuditStream {
  /** Reads new events soon (after the current transaction, if any, has committed). */
  wake(): void;
  /** Reads everything committed so far and exports it. */
  flush(): Promise<void>;
  /** Flushes, then shuts the exporter down. */
  stop(): Promise<void>;
  status(): AuditStreamStatus;
}

interface EventRow {
  seq: number;
  id: string;
  at: number;
  actorId: string | null;
  actorLabel: string;
  action: string;
  targetType: string | null;
  targetId: string | null;
  details: string;
  sourceIp: string | null;
  tokenId: string | null;
  prevHash: string;
  hash: string;
  actorRole: string | null;
  actorEmail: string | null;
}

/** Actions whose (human) actor decided an approval request: that actor is the approver. */
const DECISION_ACTIONS = new Set(["approval.vote", "approval.approved", "approval.denied", "approval.batch", "egress.ask"]);

function statements(sqlite: Database.Database) {
  return {
    end: sqlite.prepare("select coalesce(max(seq), 0) from audit_events").pluck(),
    page: sqlite.prepare(
      `select e.seq, e.id, e.at, e.actor_id as actorId, e.actor_label as actorLabel, e.action, e.target_type as targetType, e.target_id as targetId,
              e.details, e.source_ip as sourceIp, e.token_id as tokenId, e.prev_hash as prevHash, e.hash, u.role as actorRole, u.email as actorEmail
         from audit_events e left join users u on u.id = e.actor_id
        where e.seq > ? order by e.seq limit ?`,
    ),
    projectOfRun: sqlite.prepare("select r.project_id as id, p.name as name from runs r left join projects p on p.id = r.project_id where r.id = ?"),
    project: sqlite.prepare("select id, name from projects where id = ?"),
  };
}

type Attributes = Record<string, string | number | boolean>;

function parseDetails(text: string): Record<string, unknown> {
  try {
    const parsed = JSON.parse(text) as unknown;
    return parsed && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {}; // an edited row: its hash tells, and the raw text is still sent
  }
}

/** The log record's attributes for one event (names under airlock.*, plus OTel's enduser.id and client.address). */
export function auditRecordAttributes(row: EventRow, details: Record<string, unknown>, project: { id: string; name: string | null } | null): Attributes {
  const attrs: Attributes = {
    "event.name": "airlock.audit",
    "airlock.audit.seq": row.seq,
    "airlock.audit.id": row.id,
    "airlock.audit.action": row.action,
    "airlock.audit.hash": row.hash,
    "airlock.audit.prev_hash": row.prevHash,
    "airlock.actor.label": row.actorLabel,
  };
  if (row.actorId) {
    attrs["airlock.actor.id"] = row.actorId;
    attrs["enduser.id"] = row.actorId;
  }
  if (row.actorEmail) attrs["airlock.actor.email"] = row.actorEmail;
  if (row.actorRole) attrs["airlock.actor.role"] = row.actorRole;
  if (row.sourceIp) attrs["client.address"] = row.sourceIp;
  if (row.tokenId) attrs["airlock.actor.token_id"] = row.tokenId;
  if (row.targetType) attrs["airlock.target.type"] = row.targetType;
  if (row.targetId) attrs["airlock.target.id"] = row.targetId;
  const runId = typeof details.runId === "string" ? details.runId : row.targetType === "run" ? row.targetId : null;
  if (runId) attrs["airlock.run.id"] = runId;
  if (project) {
    attrs["airlock.project.id"] = project.id;
    if (project.name) attrs["airlock.project.name"] = project.name;
  }
  if (DECISION_ACTIONS.has(row.action) && row.actorId) {
    attrs["airlock.approver.id"] = row.actorId;
    if (row.actorEmail) attrs["airlock.approver.email"] = row.actorEmail;
    if (row.actorRole) attrs["airlock.approver.role"] = row.actorRole;
  }
  if (typeof details.channel === "string") attrs["airlock.approval.channel"] = details.channel;
  if (typeof details.decision === "string") attrs["airlock.approval.decision"] = details.decision;
  attrs["airlock.audit.details"] =
    row.details.length > MAX_DETAILS_CHARS ? `${row.details.slice(0, MAX_DETAILS_CHARS)}… (${row.details.length} characters)` : row.details;
  return attrs;
}

/** Counts every batch's outcome and keeps the last error (for health). */
class CountingExporter implements LogRecordExporter {
  lastError: string | null = null;
  exported = 0;
  failed = 0;
  lastFailed = false;
  constructor(private readonly inner: LogRecordExporter) {}
  export(...[records, done]: Parameters<LogRecordExporter["export"]>): void {
    this.inner.export(records, (result) => {
      const ok = result.code === 0; // ExportResultCode.SUCCESS
      countAuditExport(ok ? "exported" : "failed", records.length);
      this.lastFailed = !ok;
      if (ok) this.exported += records.length;
      else this.failed += records.length;
      if (!ok) this.lastError = result.error?.message ?? "export failed";
      done(result);
    });
  }
  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }
}

export function createAuditStream(db: Db, settings: OtlpLogSettings, opts: AuditStreamOptions = {}): AuditStream {
  const st = statements(db.$client);
  const exporter = new CountingExporter(new OTLPLogExporter({ url: settings.url, headers: settings.headers, timeoutMillis: opts.exportTimeoutMs ?? 10_000 }));
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({ ...settings.resourceAttributes, "service.name": settings.serviceName }),
    processors: [
      new BatchLogRecordProcessor({
        exporter,
        maxQueueSize: MAX_QUEUE,
        maxExportBatchSize: 512,
        scheduledDelayMillis: opts.batchDelayMs ?? 1000,
        exportTimeoutMillis: opts.exportTimeoutMs ?? 10_000,
      }),
    ],
  });
  const logger: Logger = provider.getLogger("airlock.audit");
  let cursor = opts.afterSeq ?? Number(st.end.get());
  let scheduled = false;
  let stopped = false;
  const projects = new Map<string, { id: string; name: string | null } | null>();

  function projectOf(row: EventRow, details: Record<string, unknown>): { id: string; name: string | null } | null {
    const projectId = typeof details.projectId === "string" ? details.projectId : row.targetType === "project" ? row.targetId : null;
    if (projectId) return (st.project.get(projectId) as { id: string; name: string } | undefined) ?? { id: projectId, name: null };
    const runId = typeof details.runId === "string" ? details.runId : row.targetType === "run" ? row.targetId : null;
    if (!runId) return null;
    if (!projects.has(runId)) {
      const found = st.projectOfRun.get(runId) as { id: string | null; name: string | null } | undefined;
      if (projects.size > 5000) projects.clear();
      projects.set(runId, found?.id ? { id: found.id, name: found.name } : null);
    }
    return projects.get(runId) ?? null;
  }

  /** Hands every committed event after the cursor to the batch processor. */
  function drain(): void {
    scheduled = false;
    if (stopped) return;
    try {
      for (let sent = 0; sent < MAX_QUEUE / 2;) {
        const rows = st.page.all(cursor, PAGE) as EventRow[];
        for (const row of rows) {
          const details = parseDetails(row.details);
          logger.emit({
            eventName: "airlock.audit",
            timestamp: row.at,
            severityNumber: SeverityNumber.INFO,
            severityText: "INFO",
            body: `${row.actorLabel} ${row.action}${row.targetType ? ` ${row.targetType}${row.targetId ? ` ${row.targetId}` : ""}` : ""}`,
            attributes: auditRecordAttributes(row, details, projectOf(row, details)),
          });
          cursor = row.seq;
        }
        sent += rows.length;
        if (rows.length < PAGE) return;
      }
      // More is waiting: let the processor send what it holds first, or records beyond its queue would be dropped.
      scheduled = true;
      void provider.forceFlush().finally(() => {
        scheduled = false;
        schedule();
      });
    } catch (err) {
      // The database closing under a shutdown, say: the next wake or tick tries again.
      console.error("airlock: reading audit events for the OTLP stream failed:", err);
    }
  }

  function schedule(): void {
    if (scheduled || stopped) return;
    scheduled = true;
    // setImmediate: appendAudit runs inside a synchronous transaction, which has committed (or rolled back) by then.
    setImmediate(drain);
  }

  const timer = setInterval(schedule, opts.pollMs ?? 2000);
  timer.unref();

  return {
    wake: schedule,
    async flush() {
      drain();
      await provider.forceFlush();
    },
    async stop() {
      if (stopped) return;
      drain();
      stopped = true;
      clearInterval(timer);
      // A collector that does not answer must not hold the shutdown up for long.
      const waited = new Promise<void>((resolve) => setTimeout(resolve, STOP_TIMEOUT_MS).unref());
      await Promise.race([provider.shutdown().catch((err: unknown) => console.error("airlock: flushing the audit log stream failed:", err)), waited]);
    },
    status() {
      return {
        endpoint: settings.url,
        sentThroughSeq: cursor,
        exportedRecords: exporter.exported,
        failedRecords: exporter.failed,
        lastError: exporter.lastError,
        lastFailed: exporter.lastFailed,
      };
    },
  };
}

// ------------------------------------------------------------------ process-wide

const store = globalThis as unknown as { __airlockAuditStream?: AuditStream | null };

/** Starts the process's stream when an OTLP endpoint is configured (from server/supervisor/boot.ts). */
export function startAuditStream(db: Db, settings: OtlpLogSettings | undefined, opts?: AuditStreamOptions): AuditStream | null {
  if (store.__airlockAuditStream) return store.__airlockAuditStream;
  const stream = settings ? createAuditStream(db, settings, opts) : null;
  store.__airlockAuditStream = stream;
  setAuditAppendListener(stream ? () => stream.wake() : null);
  return stream;
}

export function auditStream(): AuditStream | null {
  return store.__airlockAuditStream ?? null;
}

/** Flushes and stops the process's stream (shutdown, tests). */
export async function stopAuditStream(): Promise<void> {
  const stream = store.__airlockAuditStream;
  store.__airlockAuditStream = null;
  setAuditAppendListener(null);
  await stream?.stop();
}
