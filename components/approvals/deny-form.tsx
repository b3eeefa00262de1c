"use client";
// Deny (or reject, or stop here) with a reason: preset chips fill it, a
// missing reason or a refused decision is said right under the field, and
// the phone's tab bar stays out of the way while the form has focus.
import type { FormEvent, ReactNode } from "react";
import { TextAreaField } from "@/components/ui/textarea-field";
import { DenyReasonChips } from "@/components/approvals/deny-reasons";
import { useHideTabBarWhileFocused } from "@/components/approvals/use-hide-tab-bar";

export interface DenyFormProps {
  kind: "tool" | "plan" | "step";
  label: string;
  hint: string;
  confirmLabel: string;
  reason: string;
  onReasonChange: (reason: string) => void;
  error: string | null;
  onSubmit: (e: FormEvent) => void;
  /** Cancel and submit buttons, laid out by the card. */
  actions: ReactNode;
}

export function DenyForm({ kind, label, hint, confirmLabel, reason, onReasonChange, error, onSubmit, actions }: DenyFormProps) {
  const hideTabBar = useHideTabBarWhileFocused();
  return (
    <form onSubmit={onSubmit} aria-label={confirmLabel} className="space-y-3" onFocus={hideTabBar.onFocus} onBlur={hideTabBar.onBlur} data-testid="deny-form">
      <DenyReasonChips kind={kind} value={reason} onPick={onReasonChange} />
      <TextAreaField
        label={label}
        hint={hint}
        error={error ? <span role="alert">{error}</span> : null}
        rows={2}
        maxLength={4000}
        autoFocus
        value={reason}
        onChange={(e) => onReasonChange(e.target.value)}
      />
      {actions}
    </form>
  );
}
