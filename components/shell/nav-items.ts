import type { ComponentType, SVGProps } from "react";
import { ApprovalsIcon, AuditIcon, PoliciesIcon, RunsIcon, SettingsIcon } from "@/components/ui/icons";
import { ProjectsIcon, RedteamIcon } from "@/components/policies/icons";
import { SearchIcon } from "@/components/search/icons";
import { TrendsIcon } from "@/components/trends/icons";

export interface NavItem {
  href: string;
  label: string;
  description: string;
  icon: ComponentType<SVGProps<SVGSVGElement> & { size?: number }>;
  /** Shown in the phone tab bar (five fit); the rest are reached from their sections. */
  phone?: boolean;
}

export const NAV_ITEMS: NavItem[] = [
  { href: "/runs", label: "Runs", description: "Supervised agent runs", icon: RunsIcon },
  { href: "/search", label: "Search", description: "Runs, output, changed files and the audit trail", icon: SearchIcon, phone: false },
  { href: "/approvals", label: "Approvals", description: "Tool calls waiting for a decision", icon: ApprovalsIcon },
  { href: "/audit", label: "Audit", description: "Tamper-evident event trail", icon: AuditIcon },
  { href: "/policies", label: "Policies", description: "What agents may do", icon: PoliciesIcon },
  { href: "/projects", label: "Projects", description: "Policies, limits and members per project", icon: ProjectsIcon, phone: false },
  { href: "/redteam", label: "Red team", description: "Attack the gateway and the sandbox", icon: RedteamIcon, phone: false },
  { href: "/trends", label: "Trends", description: "Outcomes, waits, denials, tokens and red-team results over time", icon: TrendsIcon, phone: false },
  { href: "/settings", label: "Settings", description: "Account, tokens and users", icon: SettingsIcon },
];

export function isActive(pathname: string, href: string): boolean {
  return pathname === href || pathname.startsWith(`${href}/`);
}
