// A run's event stream folded into what the run page shows: model messages
// (with the text still streaming), tool calls with their decision, approval,
// output and result, plan updates, state changes, errors and notes. Events are
// applied once each, by id, so a replay after a reconnect duplicates nothing.
import { LogBuffer, type LogStream } from "@/components/log/log-buffer";

export interface RunEventLike {
  id: number;
  type: string;
  payload: Record<string, unknown>;
  at: Date;
}

export interface DecisionInfo {
  verdict: "allow" | "ask" | "deny" | string;
  rule: string | null;
  reason: string;
  parts: { command: string; verdict: string; rule: string; reason: string }[];
}

export interface ApprovalInfo {
  approvalId: string;
  kind: string | null;
  state: string;
  by: string | null;
  reason: string | null;
  edited: boolean;
  votes: number | null;
  required: number | null;
  /** When the request was made and when it was decided (approved, denied, expired): how long the call waited. */
  requestedAt: Date | null;
  decidedAt: Date | null;
}

export interface ToolResultInfo {
  ok: boolean;
  code: string | null;
  message: string | null;
  result: Record<string, unknown>;
  at: Date;
}

export interface ToolCallItem {
  kind: "tool";
  key: string;
  eventId: number;
  at: Date;
  toolCallId: string;
  seq: number;
  tool: string;
  args: Record<string, unknown>;
  decision: DecisionInfo | null;
  approval: ApprovalInfo | null;
  result: ToolResultInfo | null;
  log: LogBuffer | null;
  /** Bumped whenever `log` grows (the buffer itself is appended in place). */
  logVersion: number;
}

export interface MessageItem {
  kind: "message";
  key: string;
  eventId: number;
  at: Date;
  content: string;
  toolCalls: { id: string; name: string; argumentsText: string }[];
  tokens: number | null;
}

export interface StateItem {
  kind: "state";
  key: string;
  eventId: number;
  at: Date;
  from: string | null;
  to: string;
  reason: string | null;
  by: string | null;
}

export interface PlanItem {
  kind: "plan";
  key: string;
  eventId: number;
  at: Date;
  state: string;
  stepCount: number | null;
  step: number | null;
  note: string | null;
  edited: boolean;
}

export interface ErrorItem {
  kind: "error";
  key: string;
  eventId: number;
  at: Date;
  source: string;
  message: string;
}

export interface NoteItem {
  kind: "note";
  key: string;
  eventId: number;
  at: Date;
  text: string;
}

/** Network access: a grant or revocation, a refused connection, or a run of allowed connections folded into one line. */
export interface EgressItem {
  kind: "egress";
  key: string;
  eventId: number;
  at: Date;
  event: "granted" | "revoked" | "refused" | "allowed";
  domains: string[];
  by: string | null;
  reason: string | null;
  host: string | null;
  port: number | null;
  method: string | null;
  connections: number;
  bytesUp: number;
  bytesDown: number;
  hosts: string[];
}

export type TimelineItem = ToolCallItem | MessageItem | StateItem | PlanItem | ErrorItem | NoteItem | EgressItem;

export interface TimelineSnapshot {
  items: TimelineItem[];
  /** Model text streamed so far for the turn in progress. */
  streaming: string;
  lastEventId: number;
  eventCount: number;
}

const str = (v: unknown): string | null => (typeof v === "string" ? v : null);
const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);
const obj = (v: unknown): Record<string, unknown> => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

export class RunTimeline {
  private items: TimelineItem[] = [];
  private toolIndex = new Map<string, number>();
  private approvalToCall = new Map<string, string>();
  private streaming = "";
  private lastEventId = 0;
  /** The last queue reason shown: a queued run's place moves often, its reason seldom; only a new reason gets a line. */
  private lastQueueReason: string | null = null;
  private eventCount = 0;
  private snapshot: TimelineSnapshot = { items: [], streaming: "", lastEventId: 0, eventCount: 0 };

  getSnapshot(): TimelineSnapshot {
    return this.snapshot;
  }

  /** Applies events in id order; returns whether anything changed. */
  apply(events: RunEventLike[]): boolean {
    let changed = false;
    for (const e of events) {
      if (e.id <= this.lastEventId) continue; // already applied (replay after reconnect)
      this.lastEventId = e.id;
      this.eventCount++;
      this.applyOne(e);
      changed = true;
    }
    if (changed) {
      this.snapshot = { items: this.items.slice(), streaming: this.streaming, lastEventId: this.lastEventId, eventCount: this.eventCount };
    }
    return changed;
  }

  private push(item: TimelineItem) {
    this.items.push(item);
  }

  private updateTool(toolCallId: string, update: (item: ToolCallItem) => ToolCallItem): boolean {
    const index = this.toolIndex.get(toolCallId);
    if (index === undefined) return false;
    this.items[index] = update(this.items[index] as ToolCallItem);
    return true;
  }

  /** The latest tool call still waiting for its result with this tool name (approvals belong to it). */
  private openCallFor(tool: string | null): string | null {
    for (let i = this.items.length - 1; i >= 0; i--) {
      const item = this.items[i]!;
      if (item.kind === "tool" && !item.result && (!tool || item.tool === tool)) return item.toolCallId;
    }
    return null;
  }

  private applyEgress(e: RunEventLike, key: string, p: Record<string, unknown>) {
    const base: EgressItem = {
      kind: "egress",
      key,
      eventId: e.id,
      at: e.at,
      event: "allowed",
      domains: [],
      by: null,
      reason: null,
      host: null,
      port: null,
      method: null,
      connections: 0,
      bytesUp: 0,
      bytesDown: 0,
      hosts: [],
    };
    if (e.type === "egress_grant") {
      const domains = Array.isArray(p.domains) ? p.domains.filter((d): d is string => typeof d === "string") : [];
      this.push({ ...base, event: p.action === "revoked" ? "revoked" : "granted", domains, by: str(p.by), reason: str(p.reason) });
      return;
    }
    const host = str(p.host);
    const port = num(p.port);
    if (p.verdict === "refused") {
      this.push({ ...base, event: "refused", host, port, method: str(p.method), reason: str(p.reason) });
      return;
    }
    // Allowed connections in a row fold into one line (a pip install opens many).
    const target = host ? `${host}${port !== null && port !== 443 && port !== 80 ? `:${port}` : ""}` : null;
    const last = this.items[this.items.length - 1];
    const up = num(p.bytesUp) ?? 0;
    const down = num(p.bytesDown) ?? 0;
    if (last && last.kind === "egress" && last.event === "allowed") {
      this.items[this.items.length - 1] = {
        ...last,
        connections: last.connections + 1,
        bytesUp: last.bytesUp + up,
        bytesDown: last.bytesDown + down,
        hosts: target && !last.hosts.includes(target) ? [...last.hosts, target] : last.hosts,
      };
      return;
    }
    this.push({ ...base, event: "allowed", host, port, method: str(p.method), connections: 1, bytesUp: up, bytesDown: down, hosts: target ? [target] : [] });
  }

  private applyOne(e: RunEventLike) {
    const p = e.payload ?? {};
    const key = `e${e.id}`;
    switch (e.type) {
      case "model_delta": {
        this.streaming += str(p.text) ?? "";
        return;
      }
      case "model_message": {
        this.streaming = "";
        const usage = obj(p.usage);
        const tokens = (num(usage.promptTokens) ?? 0) + (num(usage.completionTokens) ?? 0);
        const toolCalls = Array.isArray(p.toolCalls) ? (p.toolCalls as MessageItem["toolCalls"]) : [];
        const content = str(p.content) ?? "";
        this.push({ kind: "message", key, eventId: e.id, at: e.at, content, toolCalls, tokens: tokens || null });
        return;
      }
      case "tool_call": {
        const toolCallId = str(p.toolCallId) ?? key;
        this.toolIndex.set(toolCallId, this.items.length);
        this.push({
          kind: "tool",
          key: `t${toolCallId}`,
          eventId: e.id,
          at: e.at,
          toolCallId,
          seq: num(p.seq) ?? 0,
          tool: str(p.tool) ?? "unknown",
          args: obj(p.args),
          decision: null,
          approval: null,
          result: null,
          log: null,
          logVersion: 0,
        });
        return;
      }
      case "decision": {
        const toolCallId = str(p.toolCallId);
        if (!toolCallId) return;
        const decision: DecisionInfo = {
          verdict: str(p.verdict) ?? "ask",
          rule: str(p.rule),
          reason: str(p.reason) ?? "",
          parts: Array.isArray(p.parts) ? (p.parts as DecisionInfo["parts"]) : [],
        };
        this.updateTool(toolCallId, (t) => ({ ...t, decision }));
        return;
      }
      case "approval": {
        const approvalId = str(p.approvalId);
        if (!approvalId) return;
        let toolCallId = this.approvalToCall.get(approvalId) ?? null;
        if (!toolCallId) {
          // Requests are made for the call the gateway is handling right now: the latest open one.
          toolCallId = this.openCallFor(str(p.tool));
          if (toolCallId) this.approvalToCall.set(approvalId, toolCallId);
        }
        if (!toolCallId) return;
        const state = str(p.state) ?? "pending";
        this.updateTool(toolCallId, (t) => ({
          ...t,
          approval: {
            approvalId,
            requestedAt: t.approval?.approvalId === approvalId ? t.approval.requestedAt : e.at,
            decidedAt: state === "pending" ? null : e.at,
            kind: str(p.kind) ?? t.approval?.kind ?? null,
            state,
            by: str(p.by),
            // A pending request's reason is the policy's (shown with the decision); later ones are the reviewer's.
            reason: str(p.state) === "pending" || !p.state ? null : str(p.reason),
            edited: p.edited === true,
            votes: num(p.votes) ?? t.approval?.votes ?? null,
            required: num(p.required) ?? t.approval?.required ?? null,
          },
        }));
        return;
      }
      case "output": {
        const toolCallId = str(p.toolCallId);
        if (!toolCallId) return;
        const stream: LogStream = p.stream === "stderr" ? "stderr" : "stdout";
        this.updateTool(toolCallId, (t) => {
          const log = t.log ?? new LogBuffer();
          log.append(str(p.text) ?? "", stream);
          return { ...t, log, logVersion: t.logVersion + 1 };
        });
        return;
      }
      case "tool_result": {
        const toolCallId = str(p.toolCallId);
        if (!toolCallId) return;
        const result: ToolResultInfo = { ok: p.ok === true, code: str(p.code), message: str(p.message), result: obj(p.result), at: e.at };
        this.updateTool(toolCallId, (t) => ({ ...t, result }));
        return;
      }
      case "state": {
        this.push({ kind: "state", key, eventId: e.id, at: e.at, from: str(p.from), to: str(p.to) ?? "?", reason: str(p.reason), by: str(p.by) });
        return;
      }
      case "plan": {
        const steps = Array.isArray(p.steps) ? p.steps.length : null;
        this.push({
          kind: "plan",
          key,
          eventId: e.id,
          at: e.at,
          state: str(p.state) ?? "updated",
          stepCount: steps,
          step: num(p.step),
          note: str(p.note),
          edited: p.edited === true,
        });
        return;
      }
      case "error": {
        if (p.discardPartial === true) this.streaming = "";
        this.push({ kind: "error", key, eventId: e.id, at: e.at, source: str(p.source) ?? "run", message: str(p.message) ?? "Unknown error" });
        return;
      }
      case "note": {
        this.push({ kind: "note", key, eventId: e.id, at: e.at, text: str(p.text) ?? "" });
        return;
      }
      case "egress_grant":
      case "egress": {
        this.applyEgress(e, key, p);
        return;
      }
      case "queue": {
        const reason = str(p.reason);
        if (!reason || reason === this.lastQueueReason) return;
        this.lastQueueReason = reason;
        this.push({ kind: "note", key, eventId: e.id, at: e.at, text: `Queued: ${reason}.` });
        return;
      }
      default:
        return;
    }
  }
}

// ---------------------------------------------------------------- the activity feed's filters (issue 16)

export type Decider = "policy" | "person" | "auto";

const COLLAPSE_EXEMPT = new Set(["run_command", "run_tests", "install_package"]);

/**
 * Who decided a tool call: the policy alone (allow or deny, no request), a
 * person (a reviewer approved or denied its request), or Airlock on its own
 * (a reviewer's bounded grant allowed it, or its request expired or was
 * cancelled). Null while nothing has decided yet.
 */
export function deciderOf(item: ToolCallItem): Decider | null {
  const a = item.approval;
  if (a) {
    if (a.state === "pending") return null;
    if (a.state === "approved" || a.state === "denied") return a.by && a.by !== "system" && !a.by.startsWith("agent:") ? "person" : "auto";
    return "auto";
  }
  if (!item.decision) return null;
  if (item.decision.rule?.startsWith("grant:")) return "auto";
  return item.decision.verdict === "ask" ? null : "policy";
}

/** How long the call's request waited for a decision (still waiting: until `now`); null when nobody was asked. */
export function waitedMs(item: ToolCallItem, now: number = Date.now()): number | null {
  const a = item.approval;
  if (!a?.requestedAt) return null;
  const end = a.decidedAt ? a.decidedAt.getTime() : now;
  return Math.max(0, end - a.requestedAt.getTime());
}

/** "waited 2m 14s", "waited 40s", "waited 1h 5m". */
export function formatWait(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

/**
 * A call that went through (allowed or approved) and succeeded: the feed
 * shows it as one line until opened. Commands keep their card open: their
 * output is what a reviewer reads there.
 */
export function isSettledStep(item: ToolCallItem): boolean {
  if (!item.result?.ok || COLLAPSE_EXEMPT.has(item.tool)) return false;
  return !item.approval || item.approval.state === "approved";
}

/**
 * State changes that only say a call waited for approval (running →
 * awaiting_approval → running): the call's own card says that, with how long
 * it waited, so the feed does not draw two separator lines per request.
 */
export function isApprovalWaitChange(item: StateItem): boolean {
  return (item.from === "running" && item.to === "awaiting_approval") || (item.from === "awaiting_approval" && item.to === "running");
}

export interface ActivityFilter {
  tools: string[];
  verdicts: string[];
  deciders: Decider[];
}

export const NO_FILTER: ActivityFilter = { tools: [], verdicts: [], deciders: [] };

export function filterActive(f: ActivityFilter): boolean {
  return f.tools.length + f.verdicts.length + f.deciders.length > 0;
}

/**
 * What the feed shows: without a filter, everything but empty tool-only turns
 * and approval-wait separators; with one, only the tool calls that match
 * every chosen group (any chip within a group).
 */
export function visibleActivity(items: TimelineItem[], f: ActivityFilter): TimelineItem[] {
  if (!filterActive(f)) {
    return items.filter((i) => !(i.kind === "message" && !i.content.trim()) && !(i.kind === "state" && isApprovalWaitChange(i)));
  }
  return items.filter((i) => {
    if (i.kind !== "tool") return false;
    if (f.tools.length && !f.tools.includes(i.tool)) return false;
    if (f.verdicts.length && !(i.decision && f.verdicts.includes(i.decision.verdict))) return false;
    if (f.deciders.length) {
      const d = deciderOf(i);
      if (!d || !f.deciders.includes(d)) return false;
    }
    return true;
  });
}
