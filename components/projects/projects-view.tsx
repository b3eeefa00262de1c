"use client";
// Projects: what runs belong to. Everyone sees the list; admins create
// projects from a policy preset.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useState, type FormEvent } from "react";
import { InlineAlert } from "@/components/ui/alert";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardBody, CardHeader } from "@/components/ui/card";
import { SelectField, TextField } from "@/components/ui/field";
import { PageHeader } from "@/components/ui/page-header";
import { rt } from "@/components/ui/responsive-table";
import { SkeletonRows } from "@/components/ui/skeleton";
import { errorMessage } from "@/lib/errors";
import { useTRPC } from "@/lib/trpc/client";
import { ProjectsIcon } from "@/components/policies/icons";
import { ReadOnlyNote } from "@/components/ui/read-only-note";
import { whoMayChange } from "@/lib/permissions";

const PRESETS = [
  { value: "supervised", label: "Supervised — reads run freely, every change is reviewed (default)" },
  { value: "strict", label: "Strict — everything but reading files asks" },
  { value: "trusted", label: "Trusted — common build and test commands run without asking" },
] as const;

export function ProjectsView({ isAdmin }: { isAdmin: boolean }) {
  const trpc = useTRPC();
  const projects = useQuery(trpc.projects.list.queryOptions());
  return (
    <>
      <PageHeader
        title="Projects"
        description="A run belongs to a project: its policy, the limits and test command runs start with, the documentation search_docs looks in, and who may start runs."
      />
      <div className="space-y-6">
        {isAdmin ? <CreateProject /> : <ReadOnlyNote>{whoMayChange("projects")}</ReadOnlyNote>}
        {projects.isPending ? (
          <SkeletonRows rows={3} label="Loading projects…" />
        ) : projects.isError ? (
          <InlineAlert title="Projects could not be loaded">{errorMessage(projects.error)}</InlineAlert>
        ) : (
          <div className={rt.wrapper}>
            <table className={rt.table}>
              <caption className="sr-only">Projects</caption>
              <thead className={rt.thead}>
                <tr>
                  <th scope="col" className={rt.th}>
                    Project
                  </th>
                  <th scope="col" className={rt.th}>
                    Policy
                  </th>
                  <th scope="col" className={rt.th}>
                    Runs
                  </th>
                  <th scope="col" className={rt.th}>
                    Members
                  </th>
                  <th scope="col" className={rt.th}>
                    Test command
                  </th>
                </tr>
              </thead>
              <tbody className={rt.tbody}>
                {projects.data.items.map((p) => (
                  <tr key={p.id} className={rt.row} data-testid="project-row">
                    <td className={rt.bareCell}>
                      <Link href={`/projects/${p.slug}`} className="font-medium text-accent hover:underline">
                        {p.name}
                      </Link>{" "}
                      <span className="font-mono text-xs text-fg-muted">{p.slug}</span> {p.isDefault ? <Badge>default</Badge> : null}
                      {p.description ? <p className="text-xs text-fg-muted">{p.description}</p> : null}
                    </td>
                    <td data-label="Policy" className={rt.cell}>
                      <Link href={p.isDefault ? "/policies" : `/policies?project=${p.slug}`} className="text-accent hover:underline">
                        version {p.policyVersion}
                      </Link>
                    </td>
                    <td data-label="Runs" className={rt.cell}>
                      {p.runCount}
                    </td>
                    <td data-label="Members" className={rt.cell}>
                      {p.members.length ? p.members.length : <span className="text-fg-muted">every operator</span>}
                    </td>
                    <td data-label="Test command" className={`${rt.cell} break-all`}>
                      {p.testCommand ? <code className="font-mono text-xs">{p.testCommand}</code> : <span className="text-fg-muted">none</span>}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </div>
    </>
  );
}

function CreateProject() {
  const trpc = useTRPC();
  const router = useRouter();
  const queryClient = useQueryClient();
  const [slug, setSlug] = useState("");
  const [name, setName] = useState("");
  const [preset, setPreset] = useState<(typeof PRESETS)[number]["value"]>("supervised");
  const [testCommand, setTestCommand] = useState("");
  const create = useMutation(
    trpc.projects.create.mutationOptions({
      onSuccess: () => {
        void queryClient.invalidateQueries({ queryKey: trpc.projects.pathKey() });
        router.push(`/projects/${slug}`);
      },
    }),
  );

  function submit(e: FormEvent) {
    e.preventDefault();
    create.mutate({ slug, name, preset, testCommand: testCommand || undefined });
  }

  return (
    <Card aria-labelledby="new-project-title">
      <CardHeader
        titleId="new-project-title"
        title="New project"
        icon={<ProjectsIcon size={18} />}
        description="It starts with the policy preset you pick; edit the policy afterwards."
      />
      <CardBody>
        <form onSubmit={submit} className="grid gap-3 sm:grid-cols-2" aria-label="New project">
          <TextField label="Name" required maxLength={100} value={name} onChange={(e) => setName(e.target.value)} />
          <TextField
            label="Slug"
            required
            pattern="[a-z0-9][a-z0-9\-]{0,39}"
            hint="Lower-case letters, digits and dashes; used in URLs and the CLI."
            value={slug}
            onChange={(e) => setSlug(e.target.value.toLowerCase())}
          />
          <SelectField label="Policy preset" value={preset} onChange={(e) => setPreset(e.target.value as typeof preset)} fieldClassName="sm:col-span-2">
            {PRESETS.map((p) => (
              <option key={p.value} value={p.value}>
                {p.label}
              </option>
            ))}
          </SelectField>
          <TextField
            label="Test command (optional)"
            placeholder="npm test"
            value={testCommand}
            onChange={(e) => setTestCommand(e.target.value)}
            fieldClassName="sm:col-span-2"
          />
          {create.error ? <InlineAlert className="sm:col-span-2">{errorMessage(create.error)}</InlineAlert> : null}
          <div className="sm:col-span-2">
            <Button type="submit" loading={create.isPending}>
              Create project
            </Button>
          </div>
        </form>
      </CardBody>
    </Card>
  );
}
