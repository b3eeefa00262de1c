"use client";
// Which project's policy a page shows; kept in the URL (?project=slug).
import { useQuery } from "@tanstack/react-query";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { SelectField } from "@/components/ui/field";
import { useTRPC } from "@/lib/trpc/client";

export function useProjectParam(): string {
  return useSearchParams().get("project") ?? "default";
}

export function ProjectPicker({ className }: { className?: string }) {
  const trpc = useTRPC();
  const router = useRouter();
  const pathname = usePathname();
  const searchParams = useSearchParams();
  const projects = useQuery(trpc.projects.list.queryOptions());
  const value = useProjectParam();

  function choose(slug: string) {
    const params = new URLSearchParams(searchParams.toString());
    if (slug === "default") params.delete("project");
    else params.set("project", slug);
    const qs = params.toString();
    router.push(qs ? `${pathname}?${qs}` : pathname, { scroll: false });
  }

  return (
    <SelectField label="Project" value={value} onChange={(e) => choose(e.target.value)} fieldClassName={className} disabled={!projects.data}>
      {(projects.data?.items ?? [{ slug: "default", name: "Default", policyVersion: 0 }]).map((p) => (
        <option key={p.slug} value={p.slug}>
          {p.name} ({p.slug}){p.policyVersion ? ` · policy v${p.policyVersion}` : ""}
        </option>
      ))}
    </SelectField>
  );
}
