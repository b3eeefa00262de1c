// The tool palette as MCP tools: the same names, descriptions and argument
// schemas as the built-in agent's, converted from the zod schemas in palette.ts.
import { z } from "zod";
import { TOOL_DESCRIPTIONS, TOOL_NAMES, TOOL_SCHEMAS, type ToolName } from "@/server/tools/palette";

export interface McpToolDefinition {
  name: ToolName;
  description: string;
  inputSchema: { type: "object"; properties?: Record<string, unknown>; required?: string[]; [key: string]: unknown };
}

/** A tool's input schema as JSON Schema (2020-12, MCP's default dialect), without the `$schema` key. */
export function toolInputSchema(name: ToolName): McpToolDefinition["inputSchema"] {
  const schema = z.toJSONSchema(TOOL_SCHEMAS[name], { io: "input" }) as Record<string, unknown>;
  delete schema.$schema;
  if (schema.type !== "object") throw new Error(`the ${name} tool's schema is not an object schema`);
  return schema as McpToolDefinition["inputSchema"];
}

let cached: McpToolDefinition[] | undefined;
export function mcpToolDefinitions(): McpToolDefinition[] {
  cached ??= TOOL_NAMES.map((name) => ({ name, description: TOOL_DESCRIPTIONS[name], inputSchema: toolInputSchema(name) }));
  return cached;
}
