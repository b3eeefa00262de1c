// Services (issue 13): the one way a process may outlive its command. Real
// runs on the real engine with the scripted model: a service started with
// start_service answers between commands, is stopped by the agent, from the
// run page (services.stop) and at run end; a command's own server is not.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { and, eq } from "drizzle-orm";
import { approvals, auditEvents, runServices } from "@/db/schema";
import { appRouter } from "@/server/api/root";
import { createCallerFactory } from "@/server/api/trpc";
import { decideApproval } from "@/server/approvals/approvals";
import { docker } from "@/server/sandbox/docker";
import { listCheckpoints } from "@/server/workspace/checkpoints";
import type { Supervisor } from "@/server/supervisor/supervisor";
import type { PublicUser } from "@/server/users/users";
import { type TestDb } from "@/test/helpers/db";
import { startScriptedModelServer, toolResultsSent, type ReceivedRequest, type ScriptedModelServer, type ScriptStep } from "@/test/helpers/model-server";
import { getRun, registerModel, setUpSupervisedWorld, startRun, stopSupervisor, waitFor, waitForState } from "@/test/helpers/runs";
import { actorOf, addUser, identityOfToken, issueToken } from "@/test/helpers/users";

let t: TestDb;
let supervisor: Supervisor;
let admin: PublicUser;
let operator: PublicUser;
let reviewer: PublicUser;
const servers: ScriptedModelServer[] = [];

const plan: ScriptStep = {
  type: "tool_calls",
  calls: [{ name: "submit_plan", arguments: { steps: [{ title: "serve and test", risk: "medium", risk_note: "runs a local server" }] } }],
};
const call = (name: string, args: Record<string, unknown>): ScriptStep => ({ type: "tool_calls", calls: [{ name, arguments: args }] });
const finish: ScriptStep = call("finish", { summary: "done", status: "success" });
const serve = (port: number) => `python3 -m http.server ${port} --bind 127.0.0.1`;
/** Prints the HTTP status of localhost:port, or "refused". */
const probe = (port: number) =>
  call("run_command", {
    command: `python3 -c "import urllib.request as u\ntry: print(u.urlopen('http://127.0.0.1:${port}/', timeout=5).status)\nexcept OSError: print('refused')"`,
  });

/** Runs a script (steps, or a function of the call index for steps that act in between); approvals answered by `decide` (default approve). */
async function runScript(
  script: ScriptStep[] | ((i: number) => Promise<ScriptStep | undefined>),
  decide: (a: { tool: string; kind: string }) => "approve" | "deny" = () => "approve",
) {
  const server = await startScriptedModelServer(Array.isArray(script) ? script : (_req: ReceivedRequest, i: number) => script(i));
  servers.push(server);
  const run = startRun(t.db, supervisor, operator, registerModel(t.db, admin, server.baseUrl));
  for (;;) {
    if (["succeeded", "failed", "killed"].includes(getRun(t.db, run.id).state)) break;
    const pending = t.db
      .select()
      .from(approvals)
      .where(and(eq(approvals.runId, run.id), eq(approvals.state, "pending")))
      .get();
    if (pending) {
      const verdict = pending.kind === "plan" ? "approve" : decide({ tool: pending.tool ?? "", kind: pending.kind });
      decideApproval(
        t.db,
        { ...actorOf(reviewer), userId: reviewer.id },
        { id: pending.id, decision: verdict, reason: verdict === "deny" ? "not now" : undefined },
      );
    }
    await new Promise((r) => setTimeout(r, 30));
  }
  const done = await waitForState(t.db, run.id, ["succeeded", "failed", "killed"]);
  return { run: done, results: toolResultsSent(server), services: t.db.select().from(runServices).where(eq(runServices.runId, run.id)).all() };
}

async function containerGone(id: string | null): Promise<boolean> {
  if (!id) return false;
  try {
    await docker().getContainer(id).inspect();
    return false;
  } catch (err) {
    return (err as { statusCode?: number }).statusCode === 404;
  }
}

async function callerFor(user: PublicUser) {
  return createCallerFactory(appRouter)({ db: t.db, identity: await identityOfToken(t.db, issueToken(t.db, user.id).token), sourceIp: null });
}

beforeAll(async () => {
  ({ t, supervisor, admin, operator, reviewer } = await setUpSupervisedWorld({ global: true }));
});

afterAll(async () => {
  await stopSupervisor(supervisor);
  await Promise.all(servers.map((s) => s.close()));
  t?.close();
});

describe("start_service", () => {
  it("start_service survives across commands (reached on localhost) and is stopped at run end", async () => {
    const { run, results, services } = await runScript([
      plan,
      call("start_service", { name: "web", command: serve(8123) }),
      probe(8123),
      probe(8123),
      call("list_services", {}),
      finish,
    ]);
    expect(run.state).toBe("succeeded");
    expect(results[1]).toMatchObject({ ok: true, name: "web", state: "running" });
    expect(results[2]).toMatchObject({ ok: true, exit_code: 0, output: "200\n" });
    expect(results[3]).toMatchObject({ ok: true, exit_code: 0, output: "200\n" });
    expect(results[4]).toMatchObject({ ok: true, services: [{ name: "web", state: "running", command: serve(8123), cwd: "/workspace" }] });
    // Its output was kept (the two requests it served).
    expect((results[4]!.services as { output_tail: string }[])[0]!.output_tail).toMatch(/"GET \/ HTTP\/1.1" 200/);
    expect(services).toHaveLength(1);
    // The run ended; its services stop right after (while its sandbox is released).
    await waitFor("the service to stop", () => t.db.select().from(runServices).where(eq(runServices.id, services[0]!.id)).get()?.state === "stopped");
    services[0] = t.db.select().from(runServices).where(eq(runServices.id, services[0]!.id)).get()!;
    expect(services[0]).toMatchObject({ name: "web", state: "stopped", endedBy: "the run ended" });
    expect(services[0]!.output).toMatch(/"GET \/ HTTP\/1.1" 200[^]*"GET \/ HTTP\/1.1" 200/);
    expect(await containerGone(services[0]!.containerId)).toBe(true);
  }, 180_000);

  it("a command cannot pass for a service: the same server started in the background by run_command is gone once its command ends", async () => {
    const { results } = await runScript([
      plan,
      call("run_command", { command: `nohup ${serve(8124)} >/dev/null 2>&1 & sleep 1; echo started` }),
      probe(8124),
      finish,
    ]);
    expect(results[1]).toMatchObject({ ok: true, output: "started\n" });
    expect(results[2]).toMatchObject({ ok: true, output: "refused\n" });
  }, 180_000);

  it("start_service asks a reviewer by default; denied, nothing starts", async () => {
    const asked: string[] = [];
    const { results, services } = await runScript([plan, call("start_service", { name: "web", command: serve(8125) }), probe(8125), finish], (a) => {
      asked.push(a.tool);
      return a.tool === "start_service" ? "deny" : "approve";
    });
    expect(asked[0]).toBe("start_service");
    expect(results[1]).toMatchObject({ ok: false, code: "DENIED_BY_REVIEWER" });
    expect(results[2]).toMatchObject({ ok: true, output: "refused\n" });
    expect(services).toEqual([]);
  }, 180_000);

  it("the policy's denies hold for a service's command (judged like run_command)", async () => {
    const { results, services } = await runScript([plan, call("start_service", { name: "wipe", command: "rm -rf / --no-preserve-root" }), finish]);
    expect(results[1]).toMatchObject({ ok: false, code: "DENIED_BY_POLICY" });
    expect(services).toEqual([]);
  }, 180_000);

  it("a service that exits at once says so with its output", async () => {
    const { results, services } = await runScript([plan, call("start_service", { name: "typo", command: "echo starting; no-such-server --port 1" }), finish]);
    expect(results[1]).toMatchObject({ ok: false, code: "EXECUTION_FAILED", state: "exited", exit_code: 127 });
    expect(results[1]!.output_tail).toContain("starting\n");
    expect(results[1]!.output_tail).toContain("no-such-server: command not found");
    expect(services[0]).toMatchObject({ state: "exited", exitCode: 127, endedBy: "itself" });
  }, 180_000);
});

describe("stopping a service", () => {
  it("the agent stops its service with stop_service; it no longer answers, and naming it again says none is running", async () => {
    const { results, services } = await runScript([
      plan,
      call("start_service", { name: "web", command: serve(8126) }),
      probe(8126),
      call("stop_service", { name: "web" }),
      probe(8126),
      call("stop_service", { name: "web" }),
      finish,
    ]);
    expect(results[2]).toMatchObject({ output: "200\n" });
    expect(results[3]).toMatchObject({ ok: true, name: "web", state: "stopped" });
    expect(results[4]).toMatchObject({ output: "refused\n" });
    expect(results[5]).toMatchObject({ ok: false, code: "INVALID_INPUT" });
    expect(results[5]!.message).toMatch(/No running service is named web\. None is running\./);
    expect(services[0]).toMatchObject({ state: "stopped", endedBy: "agent" });
    expect(await containerGone(services[0]!.containerId)).toBe(true);
  }, 180_000);

  it("from the run page: services.stop refuses an operator who did not start the run, stops it for a reviewer (audited), and the agent sees it gone", async () => {
    const otherOperator = await addUser(t.db, "operator");
    const outcome: { refused?: string; stopped?: string } = {};
    const steps: ScriptStep[] = [plan, call("start_service", { name: "web", command: serve(8127) }), probe(8127)];
    const { results, services } = await runScript(async (i) => {
      if (i < steps.length) return steps[i];
      if (i === steps.length) {
        // Between the agent's calls: someone on the run page presses Stop.
        const row = t.db.select().from(runServices).where(eq(runServices.name, "web")).all().at(-1)!;
        await (await callerFor(otherOperator)).services.stop({ id: row.id }).catch((err: Error) => (outcome.refused = err.message));
        outcome.stopped = (await (await callerFor(reviewer)).services.stop({ id: row.id })).state;
        return probe(8127);
      }
      if (i === steps.length + 1) return call("list_services", {});
      return finish;
    });
    expect(outcome.refused).toMatch(/Operators can stop services only of their own runs/);
    expect(outcome.stopped).toBe("stopped");
    expect(results[2]).toMatchObject({ output: "200\n" });
    expect(results[3]).toMatchObject({ output: "refused\n" });
    expect(results[4]).toMatchObject({ services: [{ name: "web", state: "stopped" }] });
    expect(services[0]).toMatchObject({ state: "stopped", endedBy: reviewer.email });
    const audit = t.db.select().from(auditEvents).where(eq(auditEvents.action, "service.stop")).all();
    expect(audit.filter((a) => a.targetId === services[0]!.id).map((a) => a.actorId)).toEqual([reviewer.id]);
  }, 180_000);

  it("a rollback stops the run's services (they would serve files being replaced)", async () => {
    const steps: ScriptStep[] = [
      plan,
      call("write_file", { path: "a.txt", content: "one\n" }),
      call("start_service", { name: "web", command: serve(8129) }),
      probe(8129),
    ];
    let rolledBack = "";
    const { results, services } = await runScript(async (i) => {
      if (i < steps.length) return steps[i];
      if (i === steps.length) {
        const runId = t.db.select().from(runServices).where(eq(runServices.name, "web")).all().at(-1)!.runId;
        const target = listCheckpoints(t.db, runId).find((c) => c.label === "write_file: a.txt")!;
        rolledBack = (await (await callerFor(reviewer)).runs.rollback({ id: runId, checkpointId: target.id, reason: "start over" })).checkpointId;
        return probe(8129);
      }
      if (i === steps.length + 1) return call("list_services", {});
      return finish;
    });
    expect(rolledBack).toBeTruthy();
    expect(results[3]).toMatchObject({ output: "200\n" });
    expect(results[4]).toMatchObject({ output: "refused\n" });
    expect(results[5]).toMatchObject({ services: [{ name: "web", state: "stopped" }] });
    expect(services[0]).toMatchObject({ state: "stopped", endedBy: "the workspace was rolled back" });
  }, 180_000);

  it("stopping the run stops its services", async () => {
    const server = await startScriptedModelServer([
      plan,
      call("start_service", { name: "web", command: serve(8128) }),
      call("run_command", { command: "sleep 60" }),
      finish,
    ]);
    servers.push(server);
    const run = startRun(t.db, supervisor, operator, registerModel(t.db, admin, server.baseUrl));
    const stopApproving = (await import("@/test/helpers/runs")).approveEverything(t.db, run.id, reviewer);
    try {
      await waitFor("the service to run", () =>
        t.db
          .select()
          .from(runServices)
          .where(and(eq(runServices.runId, run.id), eq(runServices.state, "running")))
          .all()
          .find((s) => s.containerId),
      );
      await supervisor.killRun(run.id, actorOf(admin), "test stop");
    } finally {
      stopApproving();
    }
    const row = t.db.select().from(runServices).where(eq(runServices.runId, run.id)).get()!;
    expect(row).toMatchObject({ state: "stopped", endedBy: "the run was stopped" });
    expect(await containerGone(row.containerId)).toBe(true);
  }, 180_000);
});
