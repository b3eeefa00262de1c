import type { Metadata } from "next";
import { ProjectDetail } from "@/components/projects/project-detail";
import { requireIdentity } from "@/lib/server-session";
import { hasRole } from "@/server/users/users";

export const metadata: Metadata = { title: "Project" };

export default async function ProjectPage({ params }: { params: Promise<{ slug: string }> }) {
  const { user } = await requireIdentity();
  const { slug } = await params;
  return <ProjectDetail slug={decodeURIComponent(slug)} isAdmin={hasRole(user.role, "admin")} />;
}
