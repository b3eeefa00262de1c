// Helpers for run and approval tests: a scripted OpenAI-compatible model
// server on loopback (the one stand-in the tests allow), registered through
// the API; users; runs started and approvals decided over tRPC.
import { expect, type APIRequestContext } from "@playwright/test";
import crypto from "node:crypto";
import { startScriptedModelServer, type Script, type ScriptStep, type ScriptedModelServer } from "../../test/helpers/model-server";
import { createUser, signedInApi, trpcMutation, trpcQuery, type CreatedUser } from "./api";

export type { ScriptStep };

export interface RunWorld {
  server: ScriptedModelServer;
  modelId: string;
  modelName: string;
  adminApi: APIRequestContext;
  operator: CreatedUser;
  operatorApi: APIRequestContext;
  reviewer: CreatedUser;
  reviewerApi: APIRequestContext;
  /** Stops the runs this world started, closes the model server and the API clients. */
  dispose(): Promise<void>;
  runs: string[];
}

/** A model server that plays `script`, registered as a model endpoint, plus an operator and a reviewer. */
export async function setUpRunWorld(baseURL: string, script: Script): Promise<RunWorld> {
  const server = await startScriptedModelServer(script);
  const adminApi = await signedInApi(baseURL);
  const modelName = `scripted-${crypto.randomBytes(3).toString("hex")}`;
  const { id: modelId } = await trpcMutation<{ id: string }>(adminApi, "models.create", { name: modelName, baseUrl: server.baseUrl, model: "scripted-model" });
  const operator = await createUser(adminApi, "operator", "run-operator");
  const reviewer = await createUser(adminApi, "reviewer", "run-reviewer");
  const operatorApi = await signedInApi(baseURL, operator);
  const reviewerApi = await signedInApi(baseURL, reviewer);
  const world: RunWorld = {
    server,
    modelId,
    modelName,
    adminApi,
    operator,
    operatorApi,
    reviewer,
    reviewerApi,
    runs: [],
    async dispose() {
      for (const id of world.runs) {
        await adminApi.post("/api/trpc/runs.kill", { data: { json: { id, reason: "test cleanup" } } }).catch(() => undefined);
      }
      await Promise.all([operatorApi.dispose(), reviewerApi.dispose()]);
      await adminApi.dispose();
      await server.close();
    },
  };
  return world;
}

export interface StartRunOptions {
  title?: string;
  task?: string;
  stepMode?: boolean;
  limits?: Record<string, number>;
  projectId?: string;
}

export async function startRun(world: RunWorld, api: APIRequestContext, options: StartRunOptions = {}): Promise<{ id: string; title: string }> {
  const title = options.title ?? `e2e run ${crypto.randomBytes(3).toString("hex")}`;
  const { id } = await trpcMutation<{ id: string }>(api, "runs.create", {
    title,
    task: options.task ?? "Write a greeting file and print it.",
    modelId: world.modelId,
    stepMode: options.stepMode ?? false,
    ...(options.limits ? { limits: options.limits } : {}),
    ...(options.projectId ? { projectId: options.projectId } : {}),
  });
  world.runs.push(id);
  return { id, title };
}

async function query<T>(api: APIRequestContext, path: string, input?: unknown): Promise<T> {
  const res = await trpcQuery(api, path, input);
  const text = await res.text();
  expect(res.ok(), `${path}: ${text}`).toBeTruthy();
  return (JSON.parse(text) as { result: { data: { json: T } } }).result.data.json;
}

export interface ApprovalSummary {
  id: string;
  runId: string;
  tool: string;
  kind: string;
  state: string;
  toolCallId: string | null;
}

export async function listApprovals(api: APIRequestContext, runId: string, state?: "pending" | "decided" | "expired"): Promise<ApprovalSummary[]> {
  const out = await query<{ items: ApprovalSummary[] }>(api, "approvals.list", { runId, ...(state ? { state } : {}) });
  return out.items;
}

export async function getRun(api: APIRequestContext, id: string): Promise<{ id: string; state: string; endedReason: string | null }> {
  return query(api, "runs.get", { id });
}

async function poll<T>(what: string, fn: () => Promise<T | null | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Waits for a pending approval of the run (for `tool`, if given). */
export function waitForPendingApproval(api: APIRequestContext, runId: string, tool?: string, timeoutMs?: number): Promise<ApprovalSummary> {
  return poll(
    `a pending ${tool ?? "approval"} of run ${runId}`,
    async () => (await listApprovals(api, runId, "pending")).find((a) => !tool || a.tool === tool),
    timeoutMs,
  );
}

export async function decide(
  api: APIRequestContext,
  id: string,
  decision: "approve" | "deny",
  extra: { reason?: string; edit?: Record<string, unknown> } = {},
) {
  return trpcMutation<{ state: string }>(api, "approvals.decide", { id, decision, ...extra });
}

/**
 * Approves the next request for `tool` if the policy asks for one; returns
 * once the call was approved or started without asking (policy allowed it).
 */
export async function approveIfAsked(api: APIRequestContext, runId: string, tool: string): Promise<void> {
  await poll(`${tool} of run ${runId} to be asked or to start`, async () => {
    const pending = (await listApprovals(api, runId, "pending")).find((a) => a.tool === tool);
    if (pending) {
      await decide(api, pending.id, "approve");
      return true;
    }
    const calls = await query<{ items: { tool: string; state: string }[] }>(api, "runs.toolCalls", { id: runId });
    return calls.items.some((c) => c.tool === tool && ["executing", "succeeded", "failed"].includes(c.state));
  });
}

export interface ToolCallSummary {
  tool: string;
  state: string;
  errorCode: string | null;
  args: Record<string, unknown>;
  result: Record<string, unknown> | null;
}

export async function listToolCalls(api: APIRequestContext, runId: string): Promise<ToolCallSummary[]> {
  return (await query<{ items: ToolCallSummary[] }>(api, "runs.toolCalls", { id: runId })).items;
}

/** Approves every pending approval of the run (but those `skip` picks) until stopped (for scenarios about something else). */
export function autoApprove(api: APIRequestContext, runId: string, skip: (a: ApprovalSummary) => boolean = () => false): () => void {
  let stopped = false;
  void (async () => {
    while (!stopped) {
      for (const a of await listApprovals(api, runId, "pending").catch(() => [] as ApprovalSummary[])) {
        if (skip(a)) continue;
        await decide(api, a.id, "approve").catch(() => undefined);
      }
      await new Promise((r) => setTimeout(r, 300));
    }
  })();
  return () => void (stopped = true);
}

export async function waitForRunState(api: APIRequestContext, runId: string, states: string[], timeoutMs = 60_000) {
  return poll(
    `run ${runId} to be ${states.join(" or ")}`,
    async () => {
      const run = await getRun(api, runId);
      return states.includes(run.state) ? run : null;
    },
    timeoutMs,
  );
}

// ---------------------------------------------------------------------------
// Script steps

export const planStep = (steps: { title: string; risk?: "low" | "medium" | "high"; risk_note?: string; detail?: string }[], text?: string): ScriptStep => ({
  type: "tool_calls",
  ...(text ? { text } : {}),
  calls: [{ name: "submit_plan", arguments: { steps: steps.map((s) => ({ risk: "low", risk_note: "only touches the workspace", ...s })) } }],
});

export const toolStep = (name: string, args: Record<string, unknown>, text?: string): ScriptStep => ({
  type: "tool_calls",
  ...(text ? { text } : {}),
  calls: [{ name, arguments: args }],
});

/** Plays `steps` once per conversation (by the number of assistant turns so far), so several runs can share one model server. */
export const perConversation =
  (steps: ScriptStep[]): Script =>
  (req) =>
    steps[req.body.messages.filter((m) => m.role === "assistant").length];

export const finishStep = (summary = "Done.", status: "success" | "failure" = "success"): ScriptStep => toolStep("finish", { summary, status });
