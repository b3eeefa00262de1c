"use client";
// After creating an external run: the MCP URL and run token (shown this once)
// with copy buttons and ready-to-paste client configurations.
import Link from "next/link";
import { useState } from "react";
import { InlineAlert } from "@/components/ui/alert";
import { Button, buttonClasses } from "@/components/ui/button";
import { Card, CardBody } from "@/components/ui/card";
import { CopyField } from "@/components/ui/copy-field";
import { CheckIcon, CopyIcon } from "@/components/ui/icons";

export function claudeCodeCommand(url: string, token: string): string {
  return `claude mcp add --transport http airlock ${url} --header "Authorization: Bearer ${token}"`;
}

/** The `mcpServers` entry most MCP clients (Claude Desktop, Cursor, VS Code…) accept for a Streamable HTTP server. */
export function genericClientConfig(url: string, token: string): string {
  return JSON.stringify({ mcpServers: { airlock: { type: "http", url, headers: { Authorization: `Bearer ${token}` } } } }, null, 2);
}

function CopyBlock({ label, value }: { label: string; value: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <div className="space-y-1.5">
      <div className="flex items-center justify-between gap-2">
        <span className="text-sm font-medium">{label}</span>
        <Button
          size="sm"
          variant="secondary"
          aria-label={`Copy ${label}`}
          onClick={() =>
            navigator.clipboard.writeText(value).then(
              () => {
                setCopied(true);
                window.setTimeout(() => setCopied(false), 2000);
              },
              () => undefined,
            )
          }
        >
          {copied ? <CheckIcon size={14} /> : <CopyIcon size={14} />}
          {copied ? "Copied" : "Copy"}
        </Button>
      </div>
      <pre className="overflow-x-auto rounded-lg border border-border bg-surface-muted p-3 font-mono text-xs whitespace-pre">{value}</pre>
    </div>
  );
}

export function ExternalAgentConnect({
  runId,
  mcpUrl,
  mcpToken,
  idleTimeoutS = 1800,
}: {
  runId: string;
  mcpUrl: string;
  mcpToken: string;
  idleTimeoutS?: number;
}) {
  return (
    <Card>
      <CardBody>
        <section aria-labelledby="connect-title" className="space-y-4" data-testid="external-agent-connect">
          <div className="space-y-1">
            <h2 id="connect-title" className="text-base font-semibold">
              Connect your agent
            </h2>
            <p className="text-sm text-fg-muted">
              The run&apos;s sandbox is starting. Point any MCP client at this URL with the run token; its tool calls go through the same policy, approvals and
              audit as the built-in agent&apos;s.
            </p>
          </div>
          <InlineAlert tone="warning" title="The token is shown only now">
            Copy it before leaving this page: Airlock keeps only a hash. It works only for this run and stops working when the run ends.
          </InlineAlert>
          <CopyField label="MCP URL (Streamable HTTP)" value={mcpUrl} copyLabel="Copy MCP URL" />
          <CopyField label="Run token" value={mcpToken} copyLabel="Copy run token" />
          <CopyBlock label="Claude Code" value={claudeCodeCommand(mcpUrl, mcpToken)} />
          <CopyBlock label="Other MCP clients (JSON config)" value={genericClientConfig(mcpUrl, mcpToken)} />
          <p className="text-xs text-fg-muted">
            The run ends when the agent calls finish, when someone presses Stop, at the run timeout, or after{" "}
            {idleTimeoutS >= 120 ? `${Math.round(idleTimeoutS / 60)} minutes` : `${idleTimeoutS} seconds`} without any MCP request.
          </p>
          <div className="flex justify-end">
            <Link href={`/runs/${runId}`} className={buttonClasses("primary")}>
              Open the run
            </Link>
          </div>
        </section>
      </CardBody>
    </Card>
  );
}
