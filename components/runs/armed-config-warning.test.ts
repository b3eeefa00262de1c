// What a reviewer sees on the run page when the source brought configuration
// that can make commands run programs, and on a held connection's card.
// Rendered with React's own server renderer (no browser needed for markup).
import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { ArmedConfigWarning } from "@/components/runs/armed-config-warning";
import { EgressRequest } from "@/components/approvals/egress-request";
import type { ApprovalItem } from "@/components/approvals/types";

const text = (html: string) =>
  html
    .replace(/<[^>]+>/g, "")
    .replace(/&#x27;|&apos;/g, "'")
    .replace(/\s+/g, " ");

describe("the run page's warning about configuration that runs programs", () => {
  it("I3: names the flagged files and asks to review before approving", () => {
    const shown = text(renderToStaticMarkup(createElement(ArmedConfigWarning, { files: [".git/hooks/pre-commit", ".vscode/tasks.json"] })));
    expect(shown).toContain("This repository carries files that can make commands run programs");
    expect(shown).toContain(".git/hooks/pre-commit, .vscode/tasks.json — review before approving");
  });

  it("I3: shows nothing when the source brought no such file", () => {
    expect(renderToStaticMarkup(createElement(ArmedConfigWarning, { files: [] }))).toBe("");
  });
});

describe("a held network connection's card", () => {
  const approval = {
    kind: "tool",
    tool: "network",
    args: { host: "api.example.com", port: 443, entry: "api.example.com:443", scopes: ["run", "project"], projectGrantDays: 30 },
  } as unknown as ApprovalItem;

  it("I5: says which host and port is held and offers this run or this project", () => {
    const html = renderToStaticMarkup(createElement(EgressRequest, { approval, scope: "run", onScopeChange: () => undefined, editable: true }));
    expect(text(html)).toContain("A command in this run's sandbox is connecting to api.example.com:443.");
    expect(html).toMatch(/aria-pressed="true"[^>]*>this run</);
    expect(html).toContain("this project (30 days)");
  });

  it("I5: a run without a project cannot be allowed for the project", () => {
    const html = renderToStaticMarkup(
      createElement(EgressRequest, {
        approval: { ...approval, args: { ...approval.args, scopes: ["run"] } },
        scope: "run",
        onScopeChange: () => undefined,
        editable: true,
      }),
    );
    expect(html).toMatch(/disabled=""[^>]*>this project/);
  });
});
