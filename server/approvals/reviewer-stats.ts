// Reviewer statistics (issue 12, Settings → Reviewers): how many decisions
// each reviewer made, how long they took, and how many came faster than the
// change could be read. A signal for admins about approval fatigue, never a
// block: nothing here changes what a reviewer may do.
import { and, eq, gte } from "drizzle-orm";
import type { Db } from "@/db/client";
import { approvals, approvalVotes, users } from "@/db/schema";

/** Reading speed the "too fast" signal assumes: 20 changed lines per second, and at least 2 s for any decision. */
export const READING = { linesPerSecond: 20, minimumSeconds: 2 } as const;
export const READING_FORMULA = `faster than max(${READING.minimumSeconds} s, changed lines ÷ ${READING.linesPerSecond} per second)`;

/** Seconds a reviewer needs at least to read a request's change (its diff's added + deleted lines). */
export function readingSeconds(changedLines: number): number {
  return Math.max(READING.minimumSeconds, changedLines / READING.linesPerSecond);
}

/** Changed lines of a request: a file diff's additions + deletions; 0 for anything else (only the minimum applies). */
export function changedLinesOf(preview: Record<string, unknown> | null | undefined): number {
  if (!preview || preview.type !== "file_diff") return 0;
  const n = (v: unknown) => (typeof v === "number" && Number.isFinite(v) && v > 0 ? v : 0);
  return n(preview.additions) + n(preview.deletions);
}

export function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export interface ReviewerStats {
  userId: string;
  email: string;
  role: string;
  decisions: number;
  approvals: number;
  denials: number;
  /** Median of (vote time − request time), in milliseconds. */
  medianMs: number | null;
  /** Decisions made faster than the change could be read (READING_FORMULA). */
  tooFast: number;
  lastDecisionAt: Date | null;
}

/** Per reviewer over the last `days` days (by vote time), most decisions first. */
export function reviewerStats(db: Db, opts: { days?: number; now?: number } = {}): { items: ReviewerStats[]; formula: string; days: number } {
  const days = opts.days ?? 30;
  const since = new Date((opts.now ?? Date.now()) - days * 86_400_000);
  const rows = db
    .select({
      userId: approvalVotes.userId,
      email: users.email,
      role: users.role,
      decision: approvalVotes.decision,
      votedAt: approvalVotes.createdAt,
      requestedAt: approvals.createdAt,
      preview: approvals.preview,
    })
    .from(approvalVotes)
    .innerJoin(approvals, eq(approvals.id, approvalVotes.approvalId))
    .innerJoin(users, eq(users.id, approvalVotes.userId))
    .where(and(gte(approvalVotes.createdAt, since)))
    .all();
  const byUser = new Map<string, { email: string; role: string; times: number[]; approvals: number; denials: number; tooFast: number; last: Date | null }>();
  for (const r of rows) {
    const s = byUser.get(r.userId) ?? { email: r.email, role: r.role, times: [], approvals: 0, denials: 0, tooFast: 0, last: null };
    const ms = Math.max(0, r.votedAt.getTime() - r.requestedAt.getTime());
    s.times.push(ms);
    if (r.decision === "approve") s.approvals++;
    else s.denials++;
    if (ms < readingSeconds(changedLinesOf(r.preview)) * 1000) s.tooFast++;
    if (!s.last || r.votedAt > s.last) s.last = r.votedAt;
    byUser.set(r.userId, s);
  }
  const items = [...byUser.entries()]
    .map(([userId, s]) => ({
      userId,
      email: s.email,
      role: s.role,
      decisions: s.times.length,
      approvals: s.approvals,
      denials: s.denials,
      medianMs: median(s.times),
      tooFast: s.tooFast,
      lastDecisionAt: s.last,
    }))
    .sort((a, b) => b.decisions - a.decisions || a.email.localeCompare(b.email));
  return { items, formula: READING_FORMULA, days };
}
