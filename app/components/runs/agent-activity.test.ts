import { describe, expect, it } from "vitest";
import { describeTool, toolActivity } from "./agent-activity.tsx";
import type { LogEntry } from "./run-state.ts";

const line = (
  seq: number,
  kind: LogEntry["kind"],
  message: string,
  detail: unknown,
  stepId = "fix",
): LogEntry => ({
  seq,
  at: "2026-01-01T00:00:00.000Z",
  kind,
  level: message.includes("failed") ? "error" : "info",
  stepId,
  message,
  detail,
});

describe("toolActivity", () => {
  it("pairs each step's tool calls with their results, in order, and leaves a running call open", () => {
    const logs = [
      line(1, "tool_call", '→ read_file({"path":"a.js"})', { path: "a.js" }),
      line(2, "tool_call", '→ read_file({"path":"b.js"})', { path: "b.js" }, "other"),
      line(3, "tool_result", "← read_file: 1\tconst a", "1\tconst a"),
      line(4, "tool_call", '→ run_command({"command":"npm test"})', { command: "npm test" }),
      line(5, "tool_result", "← run_command failed: exit 1", "exit 1"),
      line(6, "tool_call", '→ finish({"summary":"done"})', { summary: "done" }),
    ];
    const calls = toolActivity(logs, "fix");
    expect(calls.map((c) => [c.name, c.result?.isError ?? "running"])).toEqual([
      ["read_file", false],
      ["run_command", true],
      ["finish", "running"],
    ]);
    expect(calls[0]?.result?.output).toBe("1\tconst a");
  });

  it("describes the common tools in words", () => {
    expect(describeTool("read_file", { path: "src/a.ts" })).toBe("Read src/a.ts");
    expect(describeTool("edit_file", { path: "src/a.ts" })).toBe("Edited src/a.ts");
    expect(describeTool("run_command", { command: "npm test" })).toBe("Ran npm test");
    expect(describeTool("list_files", {})).toBe("Listed the workspace");
    expect(describeTool("custom_tool", null)).toBe("custom_tool");
  });
});
