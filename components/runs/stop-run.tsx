"use client";
// The red button: stop one run (its operator, reviewers, admins) or, for
// admins, every active run at once. Both ask for confirmation and an optional reason.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Button } from "@/components/ui/button";
import { ConfirmDialog } from "@/components/ui/dialog";
import { TextAreaField } from "@/components/ui/textarea-field";
import { errorMessage } from "@/lib/errors";
import { useTRPC } from "@/lib/trpc/client";
import { cn } from "@/lib/cn";

function StopIcon({ size = 16 }: { size?: number }) {
  return (
    <svg width={size} height={size} viewBox="0 0 24 24" aria-hidden="true" focusable="false">
      <rect x="6" y="6" width="12" height="12" rx="2" fill="currentColor" />
    </svg>
  );
}

export function StopRunButton({ runId, runTitle, queued = false, className }: { runId: string; runTitle: string; queued?: boolean; className?: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState("");
  const kill = useMutation(
    trpc.runs.kill.mutationOptions({
      onSuccess: () => {
        setOpen(false);
        setReason("");
        void queryClient.invalidateQueries({ queryKey: trpc.runs.get.queryKey({ id: runId }) });
        void queryClient.invalidateQueries({ queryKey: trpc.runs.list.pathKey() });
        void queryClient.invalidateQueries({ queryKey: trpc.approvals.list.pathKey() });
      },
    }),
  );

  return (
    <>
      <Button
        variant="danger"
        className={cn("h-11 px-5 text-[15px] font-semibold", className)}
        onClick={() => {
          kill.reset();
          setOpen(true);
        }}
      >
        <StopIcon />
        {queued ? "Cancel run" : "Stop run"}
      </Button>
      <ConfirmDialog
        open={open}
        onOpenChange={setOpen}
        title={queued ? "Cancel this queued run?" : "Stop this run?"}
        description={
          queued ? (
            <>
              <span className="font-medium text-fg">{runTitle}</span> leaves the queue without starting and ends as killed. This cannot be undone.
            </>
          ) : (
            <>
              <span className="font-medium text-fg">{runTitle}</span> is killed at once: its running command and container are stopped, its pending approvals
              are cancelled, and the run ends as killed. This cannot be undone.
            </>
          )
        }
        confirmLabel={queued ? "Cancel run now" : "Stop run now"}
        pending={kill.isPending}
        error={kill.error ? errorMessage(kill.error) : null}
        onConfirm={() => kill.mutate({ id: runId, ...(reason.trim() ? { reason: reason.trim() } : {}) })}
      >
        <TextAreaField
          label="Reason (optional)"
          hint="Recorded with the run and in the audit trail."
          rows={2}
          maxLength={2000}
          value={reason}
          onChange={(e) => setReason(e.target.value)}
        />
      </ConfirmDialog>
    </>
  );
}

export function StopAllRunsButton({ onStopped }: { onStopped?: (count: number) => void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState("");
  const stopAll = useMutation(
    trpc.runs.stopAll.mutationOptions({
      onSuccess: ({ stopped }) => {
        setOpen(false);
        setReason("");
        onStopped?.(stopped);
        void queryClient.invalidateQueries({ queryKey: trpc.runs.pathKey() });
        void queryClient.invalidateQueries({ queryKey: trpc.approvals.list.pathKey() });
      },
    }),
  );
  return (
    <>
      <Button
        variant="danger-outline"
        onClick={() => {
          stopAll.reset();
          setOpen(true);
        }}
      >
        <StopIcon size={14} />
        Stop all runs
      </Button>
      <ConfirmDialog
        open={open}
        onOpenChange={setOpen}
        title="Stop every active run?"
        description="Every run that has not ended is killed now: commands and containers stop, pending approvals are cancelled. Use it when something is going wrong across the board."
        confirmLabel="Stop all runs now"
        pending={stopAll.isPending}
        error={stopAll.error ? errorMessage(stopAll.error) : null}
        onConfirm={() => stopAll.mutate(reason.trim() ? { reason: reason.trim() } : {})}
      >
        <TextAreaField
          label="Reason (optional)"
          hint="Recorded with each run and in the audit trail."
          rows={2}
          maxLength={2000}
          value={reason}
          onChange={(e) => setReason(e.target.value)}
        />
      </ConfirmDialog>
    </>
  );
}
