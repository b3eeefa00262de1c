import type { Role } from "@/db/schema";
import { Badge } from "@/components/ui/badge";

const TONE = { admin: "accent", reviewer: "success", operator: "warning", viewer: "neutral" } as const;

export function RoleBadge({ role }: { role: Role }) {
  return (
    <Badge tone={TONE[role]} className="capitalize">
      {role}
    </Badge>
  );
}
