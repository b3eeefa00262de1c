// Search over a real supervised run (real Docker, the scripted model): what a
// command printed, the files it wrote and search_docs' ranked, cited hits.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appRouter } from "@/server/api/root";
import { createCallerFactory } from "@/server/api/trpc";
import { createProject } from "@/server/projects/projects";
import { runLogDownload } from "@/server/search/run-log";
import type { Supervisor } from "@/server/supervisor/supervisor";
import type { PublicUser } from "@/server/users/users";
import type { TestDb } from "@/test/helpers/db";
import { startScriptedModelServer, toolResultsSent, type ScriptedModelServer, type ScriptStep } from "@/test/helpers/model-server";
import { approveEverything, registerModel, setUpSupervisedWorld, startRun, stopSupervisor, waitForState } from "@/test/helpers/runs";
import { actorOf, addUser, identityOfToken, issueToken } from "@/test/helpers/users";

let t: TestDb;
let supervisor: Supervisor;
let server: ScriptedModelServer | undefined;
let admin: PublicUser;
let operator: PublicUser;
let reviewer: PublicUser;

const call = (name: string, args: Record<string, unknown>): ScriptStep => ({ type: "tool_calls", calls: [{ name, arguments: args }] });

beforeAll(async () => {
  ({ t, supervisor, admin, operator, reviewer } = await setUpSupervisedWorld());
});

afterAll(async () => {
  await stopSupervisor(supervisor);
  await server?.close();
  t?.close();
});

describe("search over a finished run", () => {
  it("search finds the output of a finished run", async () => {
    const token = `zebra${Date.now().toString(36)}quartz`;
    const project = createProject(t.db, actorOf(admin), {
      slug: "search-int",
      name: "Search",
      docSources: [
        { kind: "text", title: "Runbook", text: "Releases are cut on Mondays.\n\nThe frobnicator needs a warm cache before release." },
        { kind: "path", title: "Guides", path: "/workspace/docs" },
      ],
    });
    server = await startScriptedModelServer([
      call("submit_plan", { steps: [{ title: "print and document", risk: "low", risk_note: "sandbox only" }] }),
      call("run_command", { command: `echo ${token}; mkdir -p docs && printf 'intro\\nwarm the frobnicator cache first\\n' > docs/guide-${token}.md` }),
      call("search_docs", { query: "frobnicator cache" }),
      call("finish", { summary: "done", status: "success" }),
    ]);
    const run = startRun(t.db, supervisor, operator, registerModel(t.db, admin, server.baseUrl), { projectId: project.id });
    const stopApproving = approveEverything(t.db, run.id, reviewer);
    try {
      await waitForState(t.db, run.id, "succeeded", 120_000);
    } finally {
      stopApproving();
    }

    const viewer = await addUser(t.db, "viewer");
    const caller = createCallerFactory(appRouter)({ db: t.db, identity: await identityOfToken(t.db, issueToken(t.db, viewer.id).token), sourceIp: null });

    const output = await caller.search.query({ q: token, kinds: ["output"] });
    expect(output.items.length).toBeGreaterThan(0);
    expect(output.items[0]).toMatchObject({ kind: "output", runId: run.id, tool: "run_command" });
    expect(output.items[0]!.href).toMatch(new RegExp(`^/runs/${run.id}#event-\\d+$`));
    expect(output.items[0]!.snippet).toContain(token);

    // The file the command wrote is in a checkpoint's changed paths.
    const files = await caller.search.query({ q: `guide-${token}`, kinds: ["file"], runId: run.id });
    expect(files.items).toMatchObject([{ kind: "file", runId: run.id }]);

    // search_docs ranked the workspace guide and the runbook paragraph, citing lines.
    const docs = toolResultsSent(server).find((r) => Array.isArray(r.results)) as { results: { citation: string; text: string }[] };
    expect(docs.results.map((r) => r.citation)).toEqual(expect.arrayContaining([`/workspace/docs/guide-${token}.md:2`, "Runbook:3"]));
    expect(docs.results.find((r) => r.citation === "Runbook:3")?.text).toContain("warm cache");

    // The log download holds the same output.
    const log = await runLogDownload(t.db, run.id, "text").text();
    expect(log).toContain(token);
  }, 180_000);
});
