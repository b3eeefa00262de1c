import type { Metadata } from "next";
import { ProjectsView } from "@/components/projects/projects-view";
import { requireIdentity } from "@/lib/server-session";
import { hasRole } from "@/server/users/users";

export const metadata: Metadata = { title: "Projects" };

export default async function ProjectsPage() {
  const { user } = await requireIdentity();
  return <ProjectsView isAdmin={hasRole(user.role, "admin")} />;
}
