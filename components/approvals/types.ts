// Shapes the approval UI reads from approvals.list, and guards for the
// kind-specific previews the server attaches (server/tools/preview.ts,
// server/supervisor/control.ts).
import type { inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "@/server/api/root";

export type ApprovalItem = inferRouterOutputs<AppRouter>["approvals"]["list"]["items"][number];

export type Risk = "low" | "medium" | "high";

export interface PlanStep {
  title: string;
  detail?: string;
  risk: Risk;
  risk_note: string;
}

export interface CommandPart {
  command: string;
  verdict: string;
  rule: string;
  reason: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === "string" ? v : null);

export function planSteps(approval: ApprovalItem): PlanStep[] {
  const raw = (approval.preview as { steps?: unknown } | null)?.steps ?? approval.args.steps;
  if (!Array.isArray(raw)) return [];
  return raw.filter(isObject).map((s) => ({
    title: str(s.title) ?? "",
    ...(str(s.detail) ? { detail: str(s.detail)! } : {}),
    risk: s.risk === "high" || s.risk === "medium" ? s.risk : "low",
    risk_note: str(s.risk_note) ?? "",
  }));
}

export function commandParts(preview: Record<string, unknown> | null): CommandPart[] {
  const raw = preview?.parts;
  if (!Array.isArray(raw)) return [];
  return raw
    .filter(isObject)
    .map((p) => ({ command: str(p.command) ?? "", verdict: str(p.verdict) ?? "", rule: str(p.rule) ?? "", reason: str(p.reason) ?? "" }));
}

export interface StepPreview {
  step: number;
  title: string;
  note: string | null;
  next: string | null;
}

export function stepPreview(approval: ApprovalItem): StepPreview {
  const p = approval.preview ?? {};
  const step = typeof p.step === "number" ? p.step : typeof approval.args.step === "number" ? approval.args.step : 0;
  return { step, title: str(p.title) ?? "", note: str(p.note) ?? str(approval.args.note), next: str(p.next) };
}

/** What an approved edit may change for each tool (approvals.decide `edit`). */
export type EditField = "command" | "content" | "new_string" | "steps";

export function editFieldFor(approval: ApprovalItem): EditField | null {
  if (approval.kind === "plan") return "steps";
  if (approval.kind !== "tool") return null;
  if (approval.tool === "run_command") return "command";
  if (approval.tool === "write_file") return "content";
  if (approval.tool === "edit_file") return "new_string";
  return null;
}

/** A short description of what the request is about, for headings and lists. */
export function approvalSubject(approval: ApprovalItem): string {
  if (approval.kind === "plan") {
    const n = planSteps(approval).length;
    return `Plan · ${n} step${n === 1 ? "" : "s"}`;
  }
  if (approval.kind === "step") {
    const s = stepPreview(approval);
    return `Step ${s.step} done`;
  }
  const args = approval.args;
  const target =
    str(args.command) ??
    str(args.path) ??
    str(args.url) ??
    str(args.entry) ??
    (Array.isArray(args.packages) ? args.packages.join(" ") : null) ??
    str(args.name);
  const short = target ? (target.split("\n")[0]!.length > 80 ? `${target.split("\n")[0]!.slice(0, 80)}…` : target.split("\n")[0]!) : null;
  return short ? `${approval.tool} · ${short.replace(/^\/workspace\//, "")}` : approval.tool;
}
