"use client";
// "Allow this pattern in this project": proposes a rule from an approval
// request. Used by the promotion candidates and meant for approval cards.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { InlineAlert } from "@/components/ui/alert";
import { Button } from "@/components/ui/button";
import { errorMessage } from "@/lib/errors";
import { useTRPC } from "@/lib/trpc/client";

export function ProposeRuleButton({ approvalId, label = "Propose a rule" }: { approvalId: string; label?: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [comment, setComment] = useState("");
  const [open, setOpen] = useState(false);
  const propose = useMutation(
    trpc.policies.propose.mutationOptions({
      onSuccess: () => void queryClient.invalidateQueries({ queryKey: trpc.policies.pathKey() }),
    }),
  );

  if (propose.data) {
    return (
      <p role="status" className="text-sm text-success">
        Proposed as <code className="font-mono">{propose.data.ruleId}</code>; it becomes a rule once it is accepted.
      </p>
    );
  }
  if (!open) {
    return (
      <Button size="sm" variant="secondary" onClick={() => setOpen(true)} title="Allow calls like this one in this project without asking, once others accept">
        {label}
      </Button>
    );
  }
  return (
    <form
      className="w-full space-y-2"
      onSubmit={(e) => {
        e.preventDefault();
        propose.mutate({ approvalId, comment: comment || undefined });
      }}
    >
      <label className="block text-sm">
        <span className="font-medium">Why allow it without asking?</span>
        <input
          className="mt-1 block h-9 w-full rounded-lg border border-border-strong bg-surface px-2 text-sm"
          value={comment}
          onChange={(e) => setComment(e.target.value)}
          maxLength={2000}
        />
      </label>
      {propose.error ? <InlineAlert>{errorMessage(propose.error)}</InlineAlert> : null}
      <div className="flex gap-2">
        <Button size="sm" type="submit" loading={propose.isPending}>
          Propose
        </Button>
        <Button size="sm" variant="ghost" onClick={() => setOpen(false)}>
          Cancel
        </Button>
      </div>
    </form>
  );
}
