import type { Metadata } from "next";
import { RoleBadge } from "@/components/shell/role-badge";
import { ApiTokensSection } from "@/components/settings/api-tokens-section";
import { ChangePasswordForm } from "@/components/settings/change-password-form";
import { InstallAppHint } from "@/components/settings/install-app-hint";
import { UsersSection } from "@/components/settings/users-section";
import { ModelsSection } from "@/components/settings/models-section";
import { QueueSection } from "@/components/settings/queue-section";
import { EnginesSection } from "@/components/settings/engines-section";
import { SecretsSection } from "@/components/settings/secrets-section";
import { ReviewerStatsSection } from "@/components/settings/reviewer-stats";
import { SessionsList } from "@/components/settings/sessions-list";
import { NotificationPreferences } from "@/components/settings/notification-preferences";
import { NotificationDevices } from "@/components/settings/notification-devices";
import { WebhooksNotice, WebhooksSection } from "@/components/settings/webhooks-section";
import { Card, CardBody, CardHeader } from "@/components/ui/card";
import { ApprovalsIcon, UserIcon } from "@/components/ui/icons";
import { PageHeader } from "@/components/ui/page-header";
import { ROLE_HELP } from "@/lib/roles";
import { requireIdentity } from "@/lib/server-session";
import { MIN_PASSWORD_LENGTH } from "@/server/auth/password";
import { hasRole } from "@/server/users/users";
import { mayManage } from "@/lib/permissions";

export const metadata: Metadata = { title: "Settings" };

export default async function SettingsPage() {
  const { user } = await requireIdentity();
  const isAdmin = hasRole(user.role, "admin");
  // Section links (issue 16): a long page on a phone; each points at its card's title.
  const sections: { href: string; label: string }[] = [
    { href: "#account-title", label: "Account" },
    { href: "#notifications-title", label: "Notifications" },
    { href: "#tokens-title", label: "API tokens" },
    ...(isAdmin ? [{ href: "#users-title", label: "Users" }] : []),
    { href: "#models-title", label: "Model endpoints" },
    ...(isAdmin
      ? [
          { href: "#queue-title", label: "Run queue" },
          { href: "#engines-title", label: "Engines" },
          { href: "#secrets-title", label: "Secrets" },
        ]
      : []),
    { href: "#webhooks-title", label: "Webhooks" },
    ...(isAdmin ? [{ href: "#reviewers-title", label: "Reviewers" }] : []),
  ];

  return (
    <>
      <PageHeader title="Settings" description="Your account and API tokens, and for admins the users, model endpoints and secrets of this Airlock." />
      <nav aria-label="Settings sections" className="mb-5">
        <ul className="flex flex-wrap gap-2">
          {sections.map((s) => (
            <li key={s.href}>
              <a
                href={s.href}
                className="inline-flex h-9 items-center rounded-full border border-border bg-surface px-3 text-sm font-medium text-fg-muted hover:bg-surface-muted hover:text-fg"
              >
                {s.label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <div className="space-y-6">
        <Card aria-labelledby="account-title">
          <CardHeader titleId="account-title" title="Your account" icon={<UserIcon size={18} />} />
          <CardBody className="space-y-6">
            <dl className="grid gap-x-6 gap-y-2 text-sm sm:grid-cols-[8rem_1fr]">
              <dt className="text-fg-muted">Email</dt>
              <dd className="font-medium break-all">{user.email}</dd>
              <dt className="text-fg-muted">Role</dt>
              <dd className="flex flex-wrap items-center gap-2">
                <RoleBadge role={user.role} />
                <span className="text-fg-muted">{ROLE_HELP[user.role]}</span>
              </dd>
            </dl>
            <div className="border-t border-border pt-5">
              <h3 className="mb-1 text-sm font-semibold">Where you are signed in</h3>
              <p className="mb-3 text-sm text-fg-muted">Lost a phone or used a shared computer? Sign that session out here.</p>
              <SessionsList />
            </div>
            <div className="border-t border-border pt-5">
              <h3 className="mb-3 text-sm font-semibold">Change password</h3>
              <ChangePasswordForm minPasswordLength={MIN_PASSWORD_LENGTH} />
            </div>
          </CardBody>
        </Card>

        <Card aria-labelledby="notifications-title">
          <CardHeader
            titleId="notifications-title"
            title="Notifications"
            icon={<ApprovalsIcon size={18} />}
            description="What Airlock tells you when you are not looking at the dashboard: requests waiting for you, and how your runs ended."
          />
          <CardBody>
            <NotificationPreferences />
          </CardBody>
        </Card>
        <NotificationDevices />
        <InstallAppHint />

        <ApiTokensSection />

        {isAdmin ? <UsersSection currentUserId={user.id} minPasswordLength={MIN_PASSWORD_LENGTH} /> : null}

        <ModelsSection canManage={mayManage(user.role, "models")} />

        {isAdmin ? <QueueSection /> : null}

        {isAdmin ? <EnginesSection /> : null}

        {isAdmin ? <SecretsSection /> : null}

        {isAdmin ? <WebhooksSection /> : <WebhooksNotice />}
        {isAdmin ? <ReviewerStatsSection /> : null}
      </div>
    </>
  );
}
