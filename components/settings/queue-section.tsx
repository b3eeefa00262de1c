"use client";
// The run queue's instance-wide limits (admins; the server checks the role):
// runs at once, runs at once per user, and the share of the host's memory
// that executing runs' memory limits may reserve. Empty means the default.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { InlineAlert } from "@/components/ui/alert";
import { Button } from "@/components/ui/button";
import { Card, CardBody, CardHeader } from "@/components/ui/card";
import { TextField } from "@/components/ui/field";
import { RunsIcon } from "@/components/ui/icons";
import { SkeletonRows } from "@/components/ui/skeleton";
import { errorMessage } from "@/lib/errors";
import { useTRPC } from "@/lib/trpc/client";

const SOURCE_LABEL: Record<string, string> = {
  admin: "set here",
  env: "from the environment",
  machine: "derived from this machine",
  none: "no limit",
};

const gib = (mb: number) => `${Number((mb / 1024).toFixed(1))} GiB`;

/** "" → null (the default); otherwise the number, or NaN for the server to refuse with its message. */
function parseField(text: string): number | null {
  return text.trim() === "" ? null : Number(text.trim());
}

export function QueueSection() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const settings = useQuery(trpc.queue.settings.queryOptions());
  const [draft, setDraft] = useState<{ runs: string; perUser: string; ratio: string } | null>(null);
  const save = useMutation(
    trpc.queue.updateSettings.mutationOptions({
      onSuccess: (data) => {
        queryClient.setQueryData(trpc.queue.settings.queryKey(), data);
        setDraft(null);
      },
    }),
  );

  const data = settings.data;
  const values = draft ?? {
    runs: data?.overrides.maxConcurrentRuns?.toString() ?? "",
    perUser: data?.overrides.maxConcurrentRunsPerUser?.toString() ?? "",
    ratio: data?.overrides.memoryRatio?.toString() ?? "",
  };
  const edit = (field: keyof typeof values) => (e: React.ChangeEvent<HTMLInputElement>) => setDraft({ ...values, [field]: e.target.value });

  function submit(e: FormEvent) {
    e.preventDefault();
    save.mutate({ maxConcurrentRuns: parseField(values.runs), maxConcurrentRunsPerUser: parseField(values.perUser), memoryRatio: parseField(values.ratio) });
  }

  return (
    <Card aria-labelledby="queue-title">
      <CardHeader
        titleId="queue-title"
        title="Run queue"
        icon={<RunsIcon size={18} />}
        description="How many runs execute at once. Runs beyond a limit wait as queued and start in order as others end; a run waiting for a reviewer still holds its slot. Projects can set their own limit too."
      />
      <CardBody className="space-y-4">
        {settings.isPending ? (
          <SkeletonRows rows={2} label="Loading the queue's limits…" />
        ) : settings.isError ? (
          <InlineAlert title="The queue's limits could not be loaded">{errorMessage(settings.error)}</InlineAlert>
        ) : (
          <>
            <dl className="grid gap-x-6 gap-y-1 text-sm sm:grid-cols-[14rem_1fr]" data-testid="queue-limits">
              <dt className="text-fg-muted">Runs at once</dt>
              <dd>
                <span className="font-medium tabular-nums">{data!.maxConcurrentRuns}</span>{" "}
                <span className="text-fg-muted">({SOURCE_LABEL[data!.maxConcurrentRunsSource]})</span>
              </dd>
              <dt className="text-fg-muted">Runs at once per user</dt>
              <dd data-testid="queue-per-user-limit">
                <span className="font-medium tabular-nums">{data!.maxConcurrentRunsPerUser ?? "no limit"}</span>{" "}
                {data!.maxConcurrentRunsPerUser !== null ? <span className="text-fg-muted">({SOURCE_LABEL[data!.maxConcurrentRunsPerUserSource]})</span> : null}
              </dd>
              <dt className="text-fg-muted">Memory runs may reserve</dt>
              <dd>
                <span className="font-medium tabular-nums">{gib(data!.memoryBudgetMb)}</span>{" "}
                <span className="text-fg-muted">
                  ({data!.memoryRatio} × {gib(data!.host.memoryMb)}, {SOURCE_LABEL[data!.memoryRatioSource]})
                </span>
              </dd>
              <dt className="text-fg-muted">This machine</dt>
              <dd className="text-fg-muted">
                {data!.host.cores} cores, {gib(data!.host.memoryMb)} memory
              </dd>
            </dl>
            <form onSubmit={submit} aria-label="Run queue limits" className="grid gap-3 sm:grid-cols-3">
              <TextField
                label="Runs at once"
                inputMode="numeric"
                placeholder={`default ${data!.defaults.maxConcurrentRuns}`}
                value={values.runs}
                onChange={edit("runs")}
                hint="1 to 1000; empty for the default."
              />
              <TextField
                label="Runs at once per user"
                inputMode="numeric"
                placeholder={data!.defaults.maxConcurrentRunsPerUser === null ? "no limit" : `default ${data!.defaults.maxConcurrentRunsPerUser}`}
                value={values.perUser}
                onChange={edit("perUser")}
                hint="1 to 1000; empty for the default."
              />
              <TextField
                label="Memory ratio"
                inputMode="decimal"
                placeholder={`default ${data!.defaults.memoryRatio}`}
                value={values.ratio}
                onChange={edit("ratio")}
                hint="Share of the host's memory that running runs' memory limits may add up to (0.01 to 4)."
              />
              <div className="flex flex-wrap gap-2 sm:col-span-3">
                <Button type="submit" loading={save.isPending}>
                  Save queue limits
                </Button>
                {draft ? (
                  <Button type="button" variant="secondary" onClick={() => setDraft(null)}>
                    Discard changes
                  </Button>
                ) : null}
              </div>
              {save.error ? <InlineAlert className="sm:col-span-3">{errorMessage(save.error)}</InlineAlert> : null}
              {save.isSuccess && !draft ? (
                <p role="status" className="text-sm text-success sm:col-span-3">
                  Saved. Waiting runs start now if the new limits allow.
                </p>
              ) : null}
            </form>
          </>
        )}
      </CardBody>
    </Card>
  );
}
