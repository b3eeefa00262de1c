import type { ComponentType, SVGProps } from "react";
import { ApprovalsIcon, AuditIcon, PoliciesIcon, RunsIcon, SearchIcon, SettingsIcon, TrendsIcon } from "@/components/ui/icons";
import { ProjectsIcon, RedteamIcon } from "@/components/policies/icons";

export interface NavItem {
  href: string;
  label: string;
  description: string;
  icon: ComponentType<SVGProps<SVGSVGElement> & { size?: number }>;
  /**
   * In the phone tab bar (five and "More" fit). Every other item is listed in
   * the tab bar's "More" sheet, so an item added without this flag is still
   * reachable on a phone.
   */
  phone?: boolean;
}

export const NAV_ITEMS: NavItem[] = [
  { href: "/runs", label: "Runs", description: "Supervised agent runs", icon: RunsIcon, phone: true },
  { href: "/search", label: "Search", description: "Runs, output, changed files and the audit trail", icon: SearchIcon },
  { href: "/approvals", label: "Approvals", description: "Tool calls waiting for a decision", icon: ApprovalsIcon, phone: true },
  { href: "/audit", label: "Audit", description: "Tamper-evident event trail", icon: AuditIcon, phone: true },
  { href: "/policies", label: "Policies", description: "What agents may do", icon: PoliciesIcon, phone: true },
  { href: "/projects", label: "Projects", description: "Policies, limits and members per project", icon: ProjectsIcon },
  { href: "/redteam", label: "Red team", description: "Attack the gateway and the sandbox", icon: RedteamIcon },
  { href: "/trends", label: "Trends", description: "Outcomes, waits, denials, tokens and red-team results over time", icon: TrendsIcon },
  { href: "/settings", label: "Settings", description: "Account, tokens and users", icon: SettingsIcon, phone: true },
];

/** The phone tab bar's items, and the rest (the "More" sheet): together every item. */
export function phoneNav(items: NavItem[] = NAV_ITEMS): { tabs: NavItem[]; more: NavItem[] } {
  return { tabs: items.filter((i) => i.phone === true), more: items.filter((i) => i.phone !== true) };
}

export function isActive(pathname: string, href: string): boolean {
  return pathname === href || pathname.startsWith(`${href}/`);
}
