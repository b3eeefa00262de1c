// The audit filters live in the URL (shareable, survive reloads); these helpers
// convert between the query string, the form and the API input.
import { parseIsoDate } from "@/lib/format";

export interface AuditFilterValues {
  actor: string;
  action: string;
  target: string;
  /** ISO timestamps, as kept in the URL. */
  from: string;
  to: string;
}

export const FILTER_KEYS = ["actor", "action", "target", "from", "to"] as const;

export const FILTER_LABELS: Record<keyof AuditFilterValues, string> = {
  actor: "Actor",
  action: "Action",
  target: "Target",
  from: "From",
  to: "To",
};

export function filtersFromSearchParams(params: URLSearchParams): AuditFilterValues {
  const get = (k: string) => params.get(k)?.trim() ?? "";
  return { actor: get("actor"), action: get("action"), target: get("target"), from: get("from"), to: get("to") };
}

export function filtersToSearchParams(filters: AuditFilterValues): URLSearchParams {
  const params = new URLSearchParams();
  for (const key of FILTER_KEYS) {
    const value = filters[key].trim();
    if (value) params.set(key, value);
  }
  return params;
}

export function activeFilterCount(filters: AuditFilterValues): number {
  return FILTER_KEYS.filter((k) => filters[k]).length;
}

/** The filter part of audit.list's input; empty fields and unreadable dates are left out. */
export function filtersToInput(filters: AuditFilterValues) {
  const from = parseIsoDate(filters.from);
  const to = parseIsoDate(filters.to);
  return {
    ...(filters.actor ? { actor: filters.actor } : {}),
    ...(filters.action ? { action: filters.action } : {}),
    ...(filters.target ? { target: filters.target } : {}),
    ...(from ? { from } : {}),
    ...(to ? { to } : {}),
  };
}

/** The download URL of the export route, with the same filters as the page. */
export function exportHref(format: "jsonl" | "csv", filters: AuditFilterValues): string {
  const params = filtersToSearchParams(filters);
  params.set("format", format);
  return `/api/audit/export?${params.toString()}`;
}

/** Known actions, offered as suggestions; a trailing `.*` matches a whole family. */
export const KNOWN_ACTIONS = [
  "auth.*",
  "auth.sign_in",
  "auth.sign_in_failed",
  "user.*",
  "user.create",
  "user.set_role",
  "user.disable",
  "user.enable",
  "user.set_password",
  "token.*",
  "token.create",
  "token.revoke",
];
