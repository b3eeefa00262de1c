"use client";
// The Policies page: a project's policy as YAML (edit, check, diff, save),
// its history, the simulator and replay, and earned autonomy (track records,
// proposals, candidates). The tab and project live in the URL.
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { useState } from "react";
import { InlineAlert } from "@/components/ui/alert";
import { buttonClasses } from "@/components/ui/button";
import { PageHeader } from "@/components/ui/page-header";
import { SkeletonRows } from "@/components/ui/skeleton";
import { tabIds, Tabs } from "@/components/ui/tabs";
import { errorMessage } from "@/lib/errors";
import type { SessionUser } from "@/lib/session-user";
import { useTRPC } from "@/lib/trpc/client";
import { atLeast, maySubmitPolicyDrafts } from "@/lib/permissions";
import { PolicyEditor } from "@/components/policies/policy-editor";
import { PolicyHistory } from "@/components/policies/policy-history";
import { PolicySimulator } from "@/components/policies/policy-simulator";
import { ProjectPicker, useProjectParam } from "@/components/policies/project-picker";
import { RulesPanel } from "@/components/policies/rules-panel";

const TABS = ["policy", "simulate", "history", "rules"] as const;
type Tab = (typeof TABS)[number];

export function PoliciesView({ user }: { user: SessionUser }) {
  const trpc = useTRPC();
  const router = useRouter();
  const pathname = usePathname();
  const searchParams = useSearchParams();
  const project = useProjectParam();
  const tabParam = searchParams.get("tab");
  const tab: Tab = TABS.includes(tabParam as Tab) ? (tabParam as Tab) : "policy";
  const current = useQuery(trpc.policies.get.queryOptions({ projectId: project }));
  // Drafts are kept per project and version, so switching tabs keeps the edit.
  const [drafts, setDrafts] = useState<Record<string, string>>({});
  const key = current.data ? `${current.data.projectId}@${current.data.version}` : null;
  const draft = key && drafts[key] !== undefined ? drafts[key]! : (current.data?.yaml ?? "");
  const isAdmin = atLeast(user.role, "admin");
  const canUseDrafts = maySubmitPolicyDrafts(user.role);

  function setTab(next: Tab) {
    const params = new URLSearchParams(searchParams.toString());
    if (next === "policy") params.delete("tab");
    else params.set("tab", next);
    const qs = params.toString();
    router.push(qs ? `${pathname}?${qs}` : pathname, { scroll: false });
  }

  const ids = tabIds("policies", tab);
  return (
    <>
      <PageHeader
        title="Policies"
        description="The rules that decide whether an agent's tool call is allowed, asks a reviewer, or is denied — per project, versioned, testable. Deny beats ask beats allow; Airlock always protects .git internals, shell start-up files and CI configuration."
        actions={
          <Link href="/redteam" className={buttonClasses("secondary")}>
            Red team
          </Link>
        }
      />
      <div className="mb-4 flex flex-wrap items-end gap-3">
        <ProjectPicker className="w-full sm:w-96" />
        <Link href="/projects" className="pb-2 text-sm text-accent hover:underline">
          Manage projects
        </Link>
      </div>
      <Tabs
        idBase="policies"
        label="Policy views"
        value={tab}
        onChange={setTab}
        items={[
          { value: "policy", label: "Policy" },
          { value: "simulate", label: "Simulator" },
          { value: "history", label: "History" },
          { value: "rules", label: "Rules & autonomy" },
        ]}
        className="mb-4"
      />
      <div role="tabpanel" id={ids.panel} aria-labelledby={ids.tab}>
        {current.isPending ? (
          <SkeletonRows rows={6} label="Loading the policy…" />
        ) : current.isError ? (
          <InlineAlert title="The policy could not be loaded">{errorMessage(current.error)}</InlineAlert>
        ) : tab === "policy" ? (
          <PolicyEditor
            projectId={current.data.projectId}
            version={current.data.version}
            storedYaml={current.data.yaml}
            draft={draft}
            onDraftChange={(yaml) => key && setDrafts((d) => ({ ...d, [key]: yaml }))}
            canEdit={isAdmin}
            canCheck={canUseDrafts}
          />
        ) : tab === "simulate" ? (
          <PolicySimulator
            projectId={current.data.projectId}
            draft={draft}
            draftDiffers={draft !== current.data.yaml}
            version={current.data.version}
            canUseDrafts={canUseDrafts}
          />
        ) : tab === "history" ? (
          <PolicyHistory projectId={current.data.projectId} canRestore={isAdmin} />
        ) : (
          <RulesPanel projectId={current.data.projectId} canReview={atLeast(user.role, "reviewer")} currentUserId={user.id} />
        )}
      </div>
    </>
  );
}
