"use client";
// "Roll back to here": restores the workspace to a checkpoint after a
// confirmation. A running run pauses for it and its agent is told; the
// rollback is itself a checkpoint, so it can be undone the same way.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Button } from "@/components/ui/button";
import { ConfirmDialog } from "@/components/ui/dialog";
import { TextAreaField } from "@/components/ui/textarea-field";
import { errorMessage } from "@/lib/errors";
import { useTRPC } from "@/lib/trpc/client";

export function RollbackButton({
  runId,
  checkpoint,
  runActive,
}: {
  runId: string;
  checkpoint: { id: string; seq: number; label: string };
  runActive: boolean;
}) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState("");
  const rollback = useMutation(
    trpc.runs.rollback.mutationOptions({
      onSuccess: () => {
        setOpen(false);
        setReason("");
        void queryClient.invalidateQueries({ queryKey: trpc.runs.checkpoints.queryKey({ id: runId }) });
        void queryClient.invalidateQueries({ queryKey: trpc.runs.diff.pathKey() });
        void queryClient.invalidateQueries({ queryKey: trpc.runs.get.queryKey({ id: runId }) });
      },
    }),
  );
  return (
    <>
      <Button
        size="sm"
        variant="danger-outline"
        onClick={() => {
          rollback.reset();
          setOpen(true);
        }}
      >
        Roll back to here
      </Button>
      <ConfirmDialog
        open={open}
        onOpenChange={setOpen}
        title={`Roll back to checkpoint #${checkpoint.seq}?`}
        description={
          <>
            The workspace becomes exactly what it was at{" "}
            <span className="font-medium text-fg">
              #{checkpoint.seq} ({checkpoint.label})
            </span>
            : later changes are undone, deleted files come back.{" "}
            {runActive
              ? "The run is paused meanwhile, any running command is killed, and the agent is told what happened."
              : "The finished run is marked rolled back."}{" "}
            Changes not yet checkpointed are saved as a checkpoint first, and the rollback can itself be rolled back.
          </>
        }
        confirmLabel="Roll back"
        pending={rollback.isPending}
        error={rollback.error ? errorMessage(rollback.error) : null}
        onConfirm={() => rollback.mutate({ id: runId, checkpointId: checkpoint.id, ...(reason.trim() ? { reason: reason.trim() } : {}) })}
      >
        <TextAreaField
          label="Reason (optional)"
          hint="Recorded in the audit trail and passed on to the agent."
          rows={2}
          maxLength={2000}
          value={reason}
          onChange={(e) => setReason(e.target.value)}
        />
      </ConfirmDialog>
    </>
  );
}
