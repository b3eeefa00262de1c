import { describe, expect, it } from "vitest";
import { mcpToolDefinitions, toolInputSchema } from "@/server/agents/mcp-tools";
import { readMcpIdleTimeoutMs as mcpIdleTimeoutMs, DEFAULT_MCP_IDLE_TIMEOUT_S } from "@/server/config/env";
import { TOOL_DESCRIPTIONS, TOOL_NAMES, toolDefinitions } from "@/server/tools/palette";

describe("the palette as MCP tools", () => {
  it("offers every palette tool with its description, like the built-in agent", () => {
    const tools = mcpToolDefinitions();
    expect(tools.map((t) => t.name)).toEqual(TOOL_NAMES);
    expect(tools.map((t) => t.name)).toEqual(toolDefinitions().map((d) => d.function.name));
    for (const t of tools) expect(t.description).toBe(TOOL_DESCRIPTIONS[t.name]);
  });

  it("converts each zod schema to a closed JSON object schema without $schema", () => {
    for (const name of TOOL_NAMES) {
      const schema = toolInputSchema(name);
      expect(schema.type).toBe("object");
      expect(schema.additionalProperties).toBe(false);
      expect(schema).not.toHaveProperty("$schema");
    }
  });

  it("keeps required arguments, enums and limits", () => {
    expect(toolInputSchema("write_file")).toMatchObject({
      required: ["path", "content"],
      properties: { path: { type: "string", minLength: 1, maxLength: 4096 }, dry_run: { type: "boolean" } },
    });
    expect(toolInputSchema("finish")).toMatchObject({ required: ["summary", "status"], properties: { status: { enum: ["success", "failure"] } } });
    const steps = toolInputSchema("submit_plan").properties!.steps as { items: { required: string[] }; minItems: number };
    expect(steps.minItems).toBe(1);
    expect(steps.items.required).toEqual(["title", "risk", "risk_note"]);
    expect(toolInputSchema("run_tests").required ?? []).toEqual([]);
  });
});

describe("the MCP idle timeout", () => {
  it("defaults to 30 minutes and reads AIRLOCK_MCP_IDLE_TIMEOUT_S", () => {
    expect(DEFAULT_MCP_IDLE_TIMEOUT_S).toBe(1800);
    expect(mcpIdleTimeoutMs({})).toBe(1_800_000);
    expect(mcpIdleTimeoutMs({ AIRLOCK_MCP_IDLE_TIMEOUT_S: "60" })).toBe(60_000);
    expect(() => mcpIdleTimeoutMs({ AIRLOCK_MCP_IDLE_TIMEOUT_S: "soon" })).toThrow(/whole number of seconds/);
  });
});
