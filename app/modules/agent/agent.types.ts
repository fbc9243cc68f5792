/**
 * The contract between the agent loop (loop.server.ts) and its tools (tools.server.ts), and what a run of the
 * agent records. Browser-safe (types and zod only): the run page renders tool calls and results with it.
 */
import { z } from "zod";
import type { ToolDefinition } from "#app/modules/ai/ai.types.ts";

/** What a tool hands back to the model. `isError`: the call failed (bad input, missing file, exit ≠ 0 …). */
export type ToolResult = {
  /** Text the model reads (already capped by the tool). */
  output: string;
  isError?: boolean;
  /** Structured details for the UI and the events (exit code, path, bytes…); never shown to the model. */
  meta?: Record<string, unknown>;
};

export type ToolContext = {
  /** Aborts on cancel, shutdown or the agent's wall-time limit. */
  signal: AbortSignal;
  /** Streams output while the tool runs (run_command's stdout/stderr). */
  onOutput?: (stream: "stdout" | "stderr", chunk: string) => void;
};

/** One tool of the agent: its definition for the model, and how it runs. */
export type AgentTool = ToolDefinition & {
  run(input: unknown, context: ToolContext): Promise<ToolResult>;
};

/** The names of the built-in tools, in the order they are offered. */
export const AGENT_TOOL_NAMES = [
  "list_files",
  "read_file",
  "write_file",
  "edit_file",
  "search",
  "run_command",
  "finish",
] as const;
export type AgentToolName = (typeof AGENT_TOOL_NAMES)[number];

/** Limits of one agent loop; any one reached ends it (`stopReason`). */
export const ZAgentLimits = z.object({
  maxTurns: z.number().int().min(1).max(500).default(30),
  maxTokens: z.number().int().min(1_000).max(50_000_000).default(2_000_000),
  /** Cost cap of the agent's own model calls, micro-dollars (the run's budgets apply as well). */
  maxCostMicros: z.number().int().min(1).optional(),
  wallTimeMs: z
    .number()
    .int()
    .min(1_000)
    .max(24 * 3_600_000)
    .default(30 * 60_000),
});
export type AgentLimits = z.infer<typeof ZAgentLimits>;

export type AgentStopReason =
  | "finished"
  | "max_turns"
  | "max_tokens"
  | "max_cost"
  | "wall_time"
  | "no_progress"
  | "cancelled";
