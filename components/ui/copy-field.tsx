"use client";
import { useId, useState } from "react";
import { Button } from "@/components/ui/button";
import { CheckIcon, CopyIcon } from "@/components/ui/icons";
import { controlClasses } from "@/components/ui/field";
import { cn } from "@/lib/cn";

/** A read-only value with a copy button; the text is selected on focus so a long-press copy works too. */
export function CopyField({ label, value, copyLabel = "Copy" }: { label: string; value: string; copyLabel?: string }) {
  const id = useId();
  const [copied, setCopied] = useState(false);
  const [failed, setFailed] = useState(false);

  async function copy() {
    try {
      await navigator.clipboard.writeText(value);
      setCopied(true);
      setFailed(false);
      window.setTimeout(() => setCopied(false), 2000);
    } catch {
      // Clipboard access needs a secure context (https or localhost).
      setFailed(true);
    }
  }

  return (
    <div className="space-y-1.5">
      <label className="block text-sm font-medium" htmlFor={id}>
        {label}
      </label>
      <div className="flex gap-2">
        <input
          id={id}
          readOnly
          value={value}
          onFocus={(e) => e.currentTarget.select()}
          className={cn(controlClasses("font-mono text-[13px] sm:text-[13px]"))}
          spellCheck={false}
        />
        <Button variant="secondary" onClick={copy} aria-label={copyLabel}>
          {copied ? <CheckIcon size={16} /> : <CopyIcon size={16} />}
          <span className="hidden sm:inline">{copied ? "Copied" : "Copy"}</span>
        </Button>
      </div>
      <p role="status" className="text-xs text-fg-muted">
        {copied ? "Copied to the clipboard." : failed ? "Couldn't reach the clipboard here; select the text and copy it by hand." : null}
      </p>
    </div>
  );
}
