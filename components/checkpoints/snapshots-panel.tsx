"use client";
// Container snapshots: what the agent installed outside /workspace (its home:
// pip --user, ~/.local) kept at a checkpoint, and a restart of the run's
// sandbox from one. Reviewers take, restart from and delete them; everyone
// who can see the run sees the list. Only a run that is still going has a
// container to snapshot or restart; a run's snapshots go when it ends.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { InlineAlert } from "@/components/ui/alert";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardBody, CardHeader } from "@/components/ui/card";
import { ConfirmDialog } from "@/components/ui/dialog";
import { Switch } from "@/components/ui/switch";
import { runPermissions } from "@/lib/permissions";
import { errorMessage } from "@/lib/errors";
import { formatBytes } from "@/lib/format";
import type { SessionUser } from "@/lib/session-user";
import { useTRPC } from "@/lib/trpc/client";
import { LocalTime } from "@/components/ui/local-time";

export function SnapshotsPanel({
  runId,
  runCreatedBy,
  user,
  runActive,
  latest,
}: {
  runId: string;
  runCreatedBy: string;
  user: SessionUser;
  runActive: boolean;
  latest: { id: string; seq: number } | null;
}) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const reviewer = runPermissions(user, { createdBy: runCreatedBy }).canSnapshot;
  const list = useQuery({ ...trpc.runs.snapshots.queryOptions({ id: runId }), refetchInterval: runActive ? 10_000 : false });
  const refresh = () => {
    void queryClient.invalidateQueries({ queryKey: trpc.runs.snapshots.queryKey({ id: runId }) });
    void queryClient.invalidateQueries({ queryKey: trpc.runs.checkpoints.queryKey({ id: runId }) });
    void queryClient.invalidateQueries({ queryKey: trpc.runs.get.queryKey({ id: runId }) });
  };
  const take = useMutation(trpc.runs.snapshot.mutationOptions({ onSuccess: refresh }));
  const items = list.data?.items ?? [];
  const limit = list.data?.limit ?? 0;
  const replacing = latest ? items.some((s) => s.checkpointId === latest.id) : false;
  const full = !replacing && limit > 0 && items.length >= limit;

  return (
    <Card>
      <CardHeader
        title="Container snapshots"
        description="Checkpoints cover /workspace. A snapshot also keeps what the agent installed in its home directory (pip --user, ~/.local), so the run's sandbox can be restarted from it."
        actions={
          reviewer && runActive ? (
            <Button size="sm" variant="secondary" disabled={!latest || full || take.isPending} onClick={() => latest && take.mutate({ id: runId })}>
              {take.isPending ? "Snapshotting…" : replacing ? `Snapshot again at #${latest?.seq}` : latest ? `Snapshot at #${latest.seq}` : "Snapshot"}
            </Button>
          ) : null
        }
      />
      <CardBody className="space-y-3">
        {take.error ? <InlineAlert title="The snapshot was not taken">{errorMessage(take.error)}</InlineAlert> : null}
        {full ? <p className="text-sm text-fg-muted">This run has {items.length} snapshots, the most it may keep; delete one to take another.</p> : null}
        {list.isPending ? (
          <p className="text-sm text-fg-muted">Loading the snapshots…</p>
        ) : list.error ? (
          <InlineAlert title="The snapshots could not be listed">
            <p>{errorMessage(list.error)}</p>
          </InlineAlert>
        ) : items.length === 0 ? (
          <p className="text-sm text-fg-muted" data-testid="snapshots-empty">
            {runActive ? "No snapshots yet." : "No snapshots: a finished run has no container, and its snapshots were removed when it ended."}
          </p>
        ) : (
          <ul className="divide-y divide-border rounded-lg border border-border" data-testid="snapshots">
            {items.map((s) => (
              <li key={s.image} className="flex flex-wrap items-center justify-between gap-2 px-3 py-2.5" data-testid="snapshot">
                <div className="min-w-0 space-y-0.5">
                  <div className="flex flex-wrap items-center gap-2 text-sm">
                    <span className="font-medium">{s.seq !== null ? `At checkpoint #${s.seq}` : "At an unknown checkpoint"}</span>
                    {s.checkpointLabel ? <span className="break-all text-fg-muted">{s.checkpointLabel}</span> : null}
                    {latest && s.checkpointId === latest.id ? <Badge tone="accent">Current checkpoint</Badge> : null}
                  </div>
                  <p className="text-xs text-fg-muted">
                    <LocalTime date={s.createdAt} format="relative" />
                    {" · "}
                    {formatBytes(s.sizeBytes)} on top of the sandbox image · <span className="font-mono break-all">{s.image}</span>
                  </p>
                </div>
                {reviewer && runActive && s.checkpointId && s.seq !== null ? (
                  <div className="flex flex-wrap gap-2">
                    <RestartButton runId={runId} checkpoint={{ id: s.checkpointId, seq: s.seq }} onDone={refresh} />
                    <DeleteButton runId={runId} checkpoint={{ id: s.checkpointId, seq: s.seq }} onDone={refresh} />
                  </div>
                ) : null}
              </li>
            ))}
          </ul>
        )}
      </CardBody>
    </Card>
  );
}

function RestartButton({ runId, checkpoint, onDone }: { runId: string; checkpoint: { id: string; seq: number }; onDone: () => void }) {
  const trpc = useTRPC();
  const [open, setOpen] = useState(false);
  const [restoreWorkspace, setRestoreWorkspace] = useState(true);
  const restart = useMutation(trpc.runs.restartFromSnapshot.mutationOptions({ onSuccess: () => (setOpen(false), onDone()) }));
  return (
    <>
      <Button
        size="sm"
        variant="danger-outline"
        onClick={() => {
          restart.reset();
          setOpen(true);
        }}
      >
        Restart from here
      </Button>
      <ConfirmDialog
        open={open}
        onOpenChange={setOpen}
        title={`Restart the sandbox from the snapshot at #${checkpoint.seq}?`}
        description={
          <>
            The run&apos;s container is replaced by a new one made from the snapshot, with the same limits and hardening. Every process in the sandbox is
            killed, a running command is interrupted, and the agent is told. Its home directory (what it installed) becomes what it was at the snapshot.
          </>
        }
        confirmLabel="Restart"
        pending={restart.isPending}
        error={restart.error ? errorMessage(restart.error) : null}
        onConfirm={() => restart.mutate({ id: runId, checkpointId: checkpoint.id, restoreWorkspace })}
      >
        <Switch
          label={`Also restore the workspace to checkpoint #${checkpoint.seq}`}
          description="Recommended: the files and the installed packages then match. The restore is a checkpoint, so it can be rolled back."
          checked={restoreWorkspace}
          onCheckedChange={setRestoreWorkspace}
        />
      </ConfirmDialog>
    </>
  );
}

function DeleteButton({ runId, checkpoint, onDone }: { runId: string; checkpoint: { id: string; seq: number }; onDone: () => void }) {
  const trpc = useTRPC();
  const [open, setOpen] = useState(false);
  const remove = useMutation(trpc.runs.deleteSnapshot.mutationOptions({ onSuccess: () => (setOpen(false), onDone()) }));
  return (
    <>
      <Button
        size="sm"
        variant="ghost"
        onClick={() => {
          remove.reset();
          setOpen(true);
        }}
      >
        Delete
      </Button>
      <ConfirmDialog
        open={open}
        onOpenChange={setOpen}
        title={`Delete the snapshot at #${checkpoint.seq}?`}
        description="The image is removed from the container engine. The checkpoint and its diff stay."
        confirmLabel="Delete"
        pending={remove.isPending}
        error={remove.error ? errorMessage(remove.error) : null}
        onConfirm={() => remove.mutate({ id: runId, checkpointId: checkpoint.id })}
      />
    </>
  );
}
