/**
 * What an agent step did, tool call by tool call, as it happens: each call with a one-line description
 * (the file it read or edited, the command it ran), running / done / failed, and its result on demand.
 * Built from the run's tool_call and tool_result log lines of that step (run-state.ts).
 */
import clsx from "clsx";
import { formatValue } from "./format.ts";
import type { LogEntry } from "./run-state.ts";

export type ToolActivity = {
  seq: number;
  name: string;
  input: unknown;
  /** Absent while the call runs. */
  result?: { output: unknown; isError: boolean };
};

const field = (input: unknown, key: string): string | undefined => {
  if (!input || typeof input !== "object") return undefined;
  const value = (input as Record<string, unknown>)[key];
  return typeof value === "string" ? value : undefined;
};

/** The tool calls of one step, each with its result once it came (results pair with calls in order). */
export function toolActivity(logs: readonly LogEntry[], stepId: string): ToolActivity[] {
  const calls: ToolActivity[] = [];
  for (const line of logs) {
    if (line.stepId !== stepId) continue;
    if (line.kind === "tool_call") {
      const name = /^→ ([\w-]+)/.exec(line.message)?.[1] ?? "tool";
      calls.push({ seq: line.seq, name, input: line.detail });
    } else if (line.kind === "tool_result") {
      const name = /^← ([\w-]+)/.exec(line.message)?.[1];
      const open = calls.find((call) => !call.result && call.name === name) ?? calls.find((c) => !c.result);
      if (open) open.result = { output: line.detail, isError: line.level === "error" };
    }
  }
  return calls;
}

/** "Read src/a.ts", "Ran npm test"… */
export function describeTool(name: string, input: unknown): string {
  const path = field(input, "path");
  switch (name) {
    case "list_files":
      return `Listed ${path || "the workspace"}`;
    case "read_file":
      return `Read ${path ?? "a file"}`;
    case "write_file":
      return `Wrote ${path ?? "a file"}`;
    case "edit_file":
      return `Edited ${path ?? "a file"}`;
    case "search":
      return `Searched for ${field(input, "pattern") ?? field(input, "query") ?? "text"}`;
    case "run_command":
      return `Ran ${field(input, "command") ?? "a command"}`;
    case "finish":
      return "Finished";
    default:
      return name;
  }
}

function Status({ call, running }: { call: ToolActivity; running: boolean }) {
  if (!call.result) {
    return running ? (
      <span className="h-2 w-2 animate-pulse rounded-full bg-sky-500" role="img" aria-label="running" />
    ) : (
      <span className="h-2 w-2 rounded-full bg-zinc-400" role="img" aria-label="no result" />
    );
  }
  return call.result.isError ? (
    <span className="text-xs font-bold text-red-600 dark:text-red-400" role="img" aria-label="failed">
      ✗
    </span>
  ) : (
    <span className="text-xs font-bold text-emerald-600 dark:text-emerald-400" role="img" aria-label="done">
      ✓
    </span>
  );
}

export function AgentActivity({
  logs,
  stepId,
  running,
}: {
  logs: readonly LogEntry[];
  stepId: string;
  running: boolean;
}) {
  const calls = toolActivity(logs, stepId);
  if (calls.length === 0) return null;
  return (
    <div>
      <h3 className="mb-1.5 text-xs font-semibold uppercase tracking-wide text-zinc-500">
        Tool calls <span className="font-normal normal-case tabular-nums">({calls.length})</span>
      </h3>
      <ol
        className="divide-y divide-zinc-100 rounded-md border border-zinc-200 text-sm dark:divide-zinc-800 dark:border-zinc-800"
        aria-label="Tool calls"
        data-testid="agent-activity"
      >
        {calls.map((call) => (
          <li
            key={call.seq}
            data-tool={call.name}
            data-state={call.result ? (call.result.isError ? "failed" : "done") : "running"}
          >
            <details className="group">
              <summary className="flex cursor-pointer list-none items-center gap-2 px-3 py-1.5 hover:bg-zinc-50 dark:hover:bg-zinc-900/60">
                <span className="flex w-3 justify-center">
                  <Status call={call} running={running} />
                </span>
                <span className="min-w-0 flex-1 truncate font-mono text-[13px]">
                  {describeTool(call.name, call.input)}
                </span>
                <span className="text-xs text-zinc-500 group-open:hidden">details</span>
              </summary>
              <div className="space-y-2 px-3 pb-3">
                <pre className="max-h-40 overflow-auto rounded bg-zinc-50 p-2 font-mono text-xs whitespace-pre-wrap break-words dark:bg-zinc-950">
                  {formatValue(call.input)}
                </pre>
                {call.result ? (
                  <pre
                    className={clsx(
                      "max-h-64 overflow-auto rounded p-2 font-mono text-xs whitespace-pre-wrap break-words",
                      call.result.isError
                        ? "bg-red-50 text-red-900 dark:bg-red-950/40 dark:text-red-100"
                        : "bg-zinc-50 dark:bg-zinc-950",
                    )}
                  >
                    {formatValue(call.result.output)}
                  </pre>
                ) : null}
              </div>
            </details>
          </li>
        ))}
      </ol>
    </div>
  );
}
