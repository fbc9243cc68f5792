/**
 * The results panel of a run: Output (streaming, then final), Steps, Logs and Usage tabs. Fed by the merged
 * display state (run-state.ts `mergeRun`) and the live log list.
 */
import * as Tabs from "@radix-ui/react-tabs";
import clsx from "clsx";
import { type ReactNode, useEffect, useId, useLayoutEffect, useRef, useState } from "react";
import { formatCount } from "#app/components/charts/format.ts";
import { StrokeIcon } from "#app/components/ui/stroke-icon.tsx";
import { Table, TBody, Td, THead, Th } from "#app/components/ui/table.tsx";
import { formatMicros } from "#app/modules/ai/ai.types.ts";
import { isTerminalStatus } from "#app/modules/runs/run-events.types.ts";
import { AgentActivity } from "./agent-activity.tsx";
import { ChangesTab, useRunChanges } from "./changes-tab.tsx";
import { formatClock, formatElapsed, formatValue, isStructured } from "./format.ts";
import type { LogEntry, RunDisplay, RunDisplayStep } from "./run-state.ts";
import { StepStatusIcon } from "./run-status.tsx";

const tab =
  "inline-flex items-center gap-1.5 border-b-2 border-transparent px-3 py-2 text-sm font-medium text-zinc-600 hover:text-zinc-900 data-[state=active]:border-brand-600 data-[state=active]:text-zinc-900 dark:text-zinc-400 dark:hover:text-zinc-100 dark:data-[state=active]:text-zinc-100";
const count =
  "rounded-full bg-zinc-100 px-1.5 text-xs tabular-nums text-zinc-600 dark:bg-zinc-800 dark:text-zinc-300";
const box = "rounded-md border border-zinc-200 bg-zinc-50 p-3 dark:border-zinc-800 dark:bg-zinc-950";
const text =
  "font-mono text-[13px] leading-5 whitespace-pre-wrap break-words text-zinc-900 dark:text-zinc-100";
const pre = clsx(box, text, "overflow-auto");

// Runs on the server too (SSR): useLayoutEffect only in the browser.
const useIsoLayoutEffect = typeof window === "undefined" ? useEffect : useLayoutEffect;

/** Text that keeps its bottom in view while it grows, unless the reader scrolled up. */
function FollowingPre({
  children,
  className,
  testId,
}: {
  children: ReactNode;
  className?: string;
  testId?: string;
}) {
  const ref = useRef<HTMLDivElement>(null);
  const stick = useRef(true);
  useIsoLayoutEffect(() => {
    const element = ref.current;
    if (element && stick.current) element.scrollTop = element.scrollHeight;
  });
  // Browsers make a scrolling box keyboard-focusable by themselves (Chromium 130+, Firefox).
  return (
    <div
      ref={ref}
      onScroll={(event) => {
        const element = event.currentTarget;
        stick.current = element.scrollHeight - element.scrollTop - element.clientHeight < 24;
      }}
      className={clsx(box, "max-h-[28rem] overflow-auto")}
      data-testid={testId}
    >
      <pre className={clsx(text, className)}>{children}</pre>
    </div>
  );
}

function Caret() {
  return (
    <span
      aria-hidden="true"
      className="ml-0.5 inline-block h-4 w-1.5 translate-y-0.5 animate-pulse rounded-sm bg-brand-500"
    />
  );
}

function Value({ value, testId }: { value: unknown; testId?: string }) {
  return (
    <FollowingPre testId={testId} className={isStructured(value) ? "" : "font-sans text-sm"}>
      {formatValue(value) || <span className="text-zinc-400">(empty)</span>}
    </FollowingPre>
  );
}

function Note({ children, testId }: { children: ReactNode; testId?: string }) {
  return (
    <p
      className="rounded-md border border-dashed border-zinc-300 px-4 py-8 text-center text-sm text-zinc-600 dark:border-zinc-700 dark:text-zinc-400"
      data-testid={testId}
    >
      {children}
    </p>
  );
}

function stepLabel(step: RunDisplayStep) {
  return step.name === step.stepId ? step.stepId : `${step.name} (${step.stepId})`;
}

function OutputTab({ run, logs }: { run: RunDisplay; logs: LogEntry[] }) {
  const current = run.steps.find((step) => step.stepId === run.currentStepId);
  if (run.status === "succeeded") {
    return run.hasOutput ? (
      <div className="space-y-2">
        <p className="text-xs font-medium uppercase tracking-wide text-zinc-500">Final output</p>
        <Value value={run.output} testId="run-output" />
      </div>
    ) : (
      <Note testId="run-output">The run finished without output.</Note>
    );
  }
  if (run.status === "queued") {
    return <Note testId="run-output">Queued: waiting for a worker to start the run.</Note>;
  }
  if (run.status === "running") {
    if (!current) return <Note testId="run-output">Starting the next step…</Note>;
    return (
      <div className="space-y-2">
        <p className="text-xs text-zinc-500" aria-live="polite">
          Step {current.index + 1} of {run.progress.total} ·{" "}
          <span className="font-medium text-zinc-700 dark:text-zinc-300">{stepLabel(current)}</span> ·{" "}
          {current.type}
          {current.model ? ` · ${current.model}` : ""}
        </p>
        {current.type === "agent" ? <AgentActivity logs={logs} stepId={current.stepId} running /> : null}
        {current.text ? (
          <FollowingPre testId="run-output-stream" className="font-sans text-sm">
            {current.text}
            <Caret />
          </FollowingPre>
        ) : (
          <Note testId="run-output-stream">
            {current.type === "llm" || current.type === "agent"
              ? "Waiting for the model's first tokens…"
              : `Running the ${current.type} step…`}
          </Note>
        )}
      </div>
    );
  }
  // failed, dead, cancelled: what the last step managed to say.
  const partial = [...run.steps].reverse().find((step) => step.text || step.hasOutput);
  return (
    <div className="space-y-3">
      <Note testId="run-output">
        {run.status === "cancelled"
          ? "The run was cancelled before it finished."
          : "The run stopped before it produced its output."}
      </Note>
      {partial ? (
        <div className="space-y-2">
          <p className="text-xs font-medium uppercase tracking-wide text-zinc-500">
            Last output, from step {stepLabel(partial)}
          </p>
          <Value value={partial.text && partial.status !== "succeeded" ? partial.text : partial.output} />
        </div>
      ) : null}
    </div>
  );
}

/** A step's rendered templates: one block per field (prompt, system, template, run, instructions). */
function StepInput({ input }: { input: unknown }) {
  if (input === null || input === undefined) {
    return <p className="text-sm text-zinc-500">Not rendered yet.</p>;
  }
  if (typeof input === "object" && !Array.isArray(input)) {
    const fields = Object.entries(input as Record<string, unknown>);
    if (fields.length === 0) return <p className="text-sm text-zinc-500">No templates.</p>;
    return (
      <div className="space-y-2">
        {fields.map(([field, value]) => (
          <div key={field}>
            <p className="mb-1 font-mono text-xs text-zinc-500">{field}</p>
            <pre className={clsx(pre, "max-h-64")}>{formatValue(value)}</pre>
          </div>
        ))}
      </div>
    );
  }
  return <pre className={clsx(pre, "max-h-64")}>{formatValue(input)}</pre>;
}

function StepRow({
  step,
  defaultOpen,
  logs,
}: {
  step: RunDisplayStep;
  defaultOpen: boolean;
  logs: LogEntry[];
}) {
  const [open, setOpen] = useState(defaultOpen);
  const id = useId();
  const tokens = step.usage.tokensIn + step.usage.tokensOut;
  return (
    <li data-testid="step-row" data-step={step.stepId} data-status={step.status}>
      <button
        type="button"
        aria-expanded={open}
        aria-controls={`${id}-body`}
        onClick={() => setOpen((value) => !value)}
        className="flex w-full flex-wrap items-center gap-x-3 gap-y-1 px-4 py-3 text-left text-sm hover:bg-zinc-50 dark:hover:bg-zinc-900/60"
      >
        <StepStatusIcon status={step.status} />
        <span className="w-5 text-right text-xs tabular-nums text-zinc-500">{step.index + 1}</span>
        <span className="min-w-0 truncate font-medium">{stepLabel(step)}</span>
        <span className="rounded bg-zinc-100 px-1.5 py-0.5 font-mono text-xs text-zinc-600 dark:bg-zinc-800 dark:text-zinc-300">
          {step.type}
        </span>
        {step.reused ? (
          <span className="rounded bg-brand-50 px-1.5 py-0.5 text-xs text-brand-700 dark:bg-brand-700/25 dark:text-brand-100">
            reused
          </span>
        ) : null}
        <span className="ml-auto flex items-center gap-3 text-xs tabular-nums text-zinc-500">
          <span title="Duration">{formatElapsed(step.durationMs)}</span>
          {tokens > 0 ? <span title="Tokens in / out">{formatCount(tokens)} tok</span> : null}
          {step.usage.costMicros > 0 ? <span title="Cost">{formatMicros(step.usage.costMicros)}</span> : null}
          <StrokeIcon size={14} className={clsx("transition-transform", open && "rotate-90")}>
            <path d="m9 6 6 6-6 6" />
          </StrokeIcon>
        </span>
      </button>
      {open ? (
        <div id={`${id}-body`} className="space-y-4 border-t border-zinc-100 px-4 py-4 dark:border-zinc-800">
          {step.error ? (
            <div
              role="alert"
              className="rounded-md bg-red-50 px-3 py-2 text-sm text-red-800 dark:bg-red-950/50 dark:text-red-200"
            >
              <span className="font-mono text-xs font-semibold">{step.error.code}</span> {step.error.message}
            </div>
          ) : null}
          <div className="grid gap-4 lg:grid-cols-2">
            <div>
              <h3 className="mb-1.5 text-xs font-semibold uppercase tracking-wide text-zinc-500">Input</h3>
              <StepInput input={step.input} />
            </div>
            <div>
              <h3 className="mb-1.5 text-xs font-semibold uppercase tracking-wide text-zinc-500">Output</h3>
              {step.hasOutput ? (
                <Value value={step.output} />
              ) : step.text ? (
                <FollowingPre className="font-sans text-sm">
                  {step.text}
                  {step.status === "running" ? <Caret /> : null}
                </FollowingPre>
              ) : (
                <p className="text-sm text-zinc-500">
                  {step.status === "pending"
                    ? "Not started."
                    : step.status === "running"
                      ? "Running…"
                      : "No output."}
                </p>
              )}
            </div>
          </div>
          {step.type === "agent" ? (
            <AgentActivity logs={logs} stepId={step.stepId} running={step.status === "running"} />
          ) : null}
          {step.model || step.startedAt ? (
            <p className="text-xs text-zinc-500">
              {step.model ? <>Model {step.model}. </> : null}
              {step.startedAt ? <>Started {formatClock(step.startedAt)} UTC. </> : null}
              {step.reused ? "Output reused from the run this one retries (no new cost)." : null}
            </p>
          ) : null}
        </div>
      ) : null}
    </li>
  );
}

function StepsTab({ run, logs }: { run: RunDisplay; logs: LogEntry[] }) {
  if (run.steps.length === 0) return <Note>This run has no steps.</Note>;
  return (
    <ol
      className="divide-y divide-zinc-100 overflow-hidden rounded-lg border border-zinc-200 dark:divide-zinc-800 dark:border-zinc-800"
      aria-label="Steps"
    >
      {run.steps.map((step) => (
        <StepRow key={step.stepId} step={step} logs={logs} defaultOpen={step.status === "failed"} />
      ))}
    </ol>
  );
}

const LEVEL_TONE: Record<LogEntry["level"], string> = {
  debug: "text-zinc-500",
  info: "text-sky-700 dark:text-sky-300",
  warn: "text-amber-700 dark:text-amber-300",
  error: "text-red-700 dark:text-red-300",
};

function LogsTab({ logs, dropped }: { logs: LogEntry[]; dropped: number }) {
  if (logs.length === 0) return <Note testId="run-logs">No log lines yet.</Note>;
  return (
    <div className="space-y-2">
      {dropped > 0 ? (
        <p className="text-xs text-zinc-500">
          {formatCount(dropped)} older line{dropped === 1 ? "" : "s"} not shown.
        </p>
      ) : null}
      <ol
        className="max-h-[32rem] divide-y divide-zinc-100 overflow-auto rounded-lg border border-zinc-200 font-mono text-xs dark:divide-zinc-800 dark:border-zinc-800"
        aria-label="Log"
        data-testid="run-logs"
      >
        {logs.map((line) => (
          <li key={line.seq} className="flex flex-wrap gap-x-3 gap-y-1 px-3 py-1.5" data-kind={line.kind}>
            <time dateTime={line.at} className="text-zinc-500 tabular-nums">
              {formatClock(line.at)}
            </time>
            <span className={clsx("w-11 shrink-0 font-semibold uppercase", LEVEL_TONE[line.level])}>
              {line.level}
            </span>
            {line.stepId ? <span className="text-zinc-500">[{line.stepId}]</span> : null}
            <span className="min-w-0 flex-1 break-words whitespace-pre-wrap text-zinc-800 dark:text-zinc-200">
              {line.message}
            </span>
            {line.detail !== undefined && isStructured(line.detail) ? (
              <details className="basis-full">
                <summary className="cursor-pointer text-zinc-500">details</summary>
                <pre className={clsx(pre, "mt-1 max-h-48 text-xs")}>{formatValue(line.detail)}</pre>
              </details>
            ) : null}
          </li>
        ))}
      </ol>
    </div>
  );
}

function UsageTab({ run }: { run: RunDisplay }) {
  return (
    <div className="space-y-2">
      <Table density="compact" aria-label="Usage by step" data-testid="run-usage">
        <THead>
          <Th>Step</Th>
          <Th>Model</Th>
          <Th align="right">Tokens in</Th>
          <Th align="right">Tokens out</Th>
          <Th align="right">Cost</Th>
        </THead>
        <TBody>
          {run.steps.map((step) => (
            <tr key={step.stepId} className="bg-white dark:bg-zinc-950">
              <Td>
                <span className="font-medium">{stepLabel(step)}</span>{" "}
                <span className="text-xs text-zinc-500">{step.type}</span>
              </Td>
              <Td muted className="font-mono text-xs">
                {step.model ?? "—"}
              </Td>
              <Td numeric>{formatCount(step.usage.tokensIn)}</Td>
              <Td numeric>{formatCount(step.usage.tokensOut)}</Td>
              <Td numeric>{formatMicros(step.usage.costMicros)}</Td>
            </tr>
          ))}
        </TBody>
        <tfoot className="border-t border-zinc-200 bg-zinc-50 font-semibold dark:border-zinc-800 dark:bg-zinc-900/60">
          <tr>
            <th scope="row" className="px-4 py-2.5" colSpan={2}>
              Total
            </th>
            <Td numeric data-testid="usage-total-in">
              {formatCount(run.usage.tokensIn)}
            </Td>
            <Td numeric data-testid="usage-total-out">
              {formatCount(run.usage.tokensOut)}
            </Td>
            <Td numeric data-testid="usage-total-cost">
              {formatMicros(run.usage.costMicros)}
            </Td>
          </tr>
        </tfoot>
      </Table>
      <p className="text-xs text-zinc-500">
        Usage is counted when a model call ends. Steps reused by a retry were paid by the earlier run.
      </p>
    </div>
  );
}

/** "Changes" with the number of files and a dot while some wait for review. */
function ChangesTrigger({ runId, version }: { runId: string; version: string }) {
  const changes = useRunChanges(runId, version);
  const files = (changes.data ?? []).reduce((sum, changeSet) => sum + changeSet.files.length, 0);
  const waiting = (changes.data ?? []).some((changeSet) => changeSet.status === "pending");
  return (
    <Tabs.Trigger value="changes" className={tab} data-testid="changes-tab">
      Changes {files > 0 ? <span className={count}>{formatCount(files)}</span> : null}
      {waiting ? (
        <span className="h-1.5 w-1.5 rounded-full bg-amber-500" role="img" aria-label="waiting for review" />
      ) : null}
    </Tabs.Trigger>
  );
}

export function RunResults({
  runId,
  projectId,
  run,
  logs,
  droppedLogs,
}: {
  runId: string;
  projectId: string;
  run: RunDisplay;
  logs: LogEntry[];
  droppedLogs: number;
}) {
  // How far the run got: when it moves on, a step may have written a change set.
  const changesVersion = `${run.status}:${run.progress.done}`;
  return (
    <Tabs.Root defaultValue="output" className="space-y-4">
      <Tabs.List className="flex gap-1 border-b border-zinc-200 dark:border-zinc-800" aria-label="Results">
        <Tabs.Trigger value="output" className={tab}>
          Output
          {run.status === "running" ? (
            <span aria-hidden="true" className="h-1.5 w-1.5 animate-pulse rounded-full bg-sky-500" />
          ) : null}
        </Tabs.Trigger>
        <Tabs.Trigger value="steps" className={tab}>
          Steps{" "}
          <span className={count}>
            {run.progress.done}/{run.progress.total}
          </span>
        </Tabs.Trigger>
        <ChangesTrigger runId={runId} version={changesVersion} />
        <Tabs.Trigger value="logs" className={tab}>
          Logs <span className={count}>{formatCount(logs.length + droppedLogs)}</span>
        </Tabs.Trigger>
        <Tabs.Trigger value="usage" className={tab}>
          Usage
        </Tabs.Trigger>
      </Tabs.List>
      <Tabs.Content value="output">
        <OutputTab run={run} logs={logs} />
      </Tabs.Content>
      <Tabs.Content value="steps">
        <StepsTab run={run} logs={logs} />
      </Tabs.Content>
      <Tabs.Content value="changes">
        <ChangesTab
          runId={runId}
          projectId={projectId}
          runFinished={isTerminalStatus(run.status)}
          version={changesVersion}
        />
      </Tabs.Content>
      <Tabs.Content value="logs">
        <LogsTab logs={logs} dropped={droppedLogs} />
      </Tabs.Content>
      <Tabs.Content value="usage">
        <UsageTab run={run} />
      </Tabs.Content>
    </Tabs.Root>
  );
}
