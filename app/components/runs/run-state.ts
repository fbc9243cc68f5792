/**
 * The live state of a run, folded from its events (SSE or polling), and its merge with the run as the server
 * last described it (`runs.get` / the page loader). Pure and browser-safe: the reducer is replayable, so a
 * page that reconnects, or reloads and replays from seq 0, ends in the same state as one that never dropped.
 *
 * Rules: events are applied in seq order; an event whose seq is ≤ the last one applied is a duplicate (a
 * reconnect that overlapped) and is ignored. A `step_started` for a step already seen is a new attempt (the
 * run resumed after a worker died): its streamed text starts over.
 */
import {
  isTerminalStatus,
  type RunStatusValue,
  type StoredRunEvent,
} from "#app/modules/runs/run-events.types.ts";

export type RunErrorInfo = { code: string; message: string; stepId?: string };
export type StepStatus = "pending" | "running" | "succeeded" | "failed" | "cancelled" | "skipped";
export type Usage = { tokensIn: number; tokensOut: number; costMicros: number };

export type LiveStep = {
  stepId: string;
  index: number | null;
  type: string | null;
  status: StepStatus;
  /** Model text streamed by the current attempt. */
  text: string;
  /** The step's final output, once `step_finished` carried one. */
  output: unknown;
  hasOutput: boolean;
  error: RunErrorInfo | null;
  durationMs: number | null;
  startedAt: string | null;
  finishedAt: string | null;
  /** How many times the step started (2+ after a resume). */
  attempts: number;
  usage: Usage;
};

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogKind = "log" | "error" | "tool_call" | "tool_result" | "status" | "step";
export type LogEntry = {
  seq: number;
  at: string;
  kind: LogKind;
  level: LogLevel;
  stepId: string | null;
  message: string;
  /** Tool input or output, shown under the line. */
  detail?: unknown;
};

export type RunLiveState = {
  /** null until the first status event. */
  status: RunStatusValue | null;
  error: RunErrorInfo | null;
  startedAt: string | null;
  finishedAt: string | null;
  steps: Record<string, LiveStep>;
  /** The step that started last and has not finished. */
  currentStepId: string | null;
  logs: LogEntry[];
  /** Log entries dropped to keep the list within MAX_LOGS (oldest first). */
  droppedLogs: number;
  usage: Usage;
  lastSeq: number;
  /** The seq of the last event that changed the run's structure (status, a step, usage). */
  structureSeq: number;
  /** The terminal status event has been applied: nothing follows. */
  done: boolean;
};

/** Oldest log entries beyond this are dropped (a long agent run can emit thousands of tool events). */
export const MAX_LOGS = 2000;

const ZERO: Usage = { tokensIn: 0, tokensOut: 0, costMicros: 0 };

export const initialRunState: RunLiveState = {
  status: null,
  error: null,
  startedAt: null,
  finishedAt: null,
  steps: {},
  currentStepId: null,
  logs: [],
  droppedLogs: 0,
  usage: ZERO,
  lastSeq: 0,
  structureSeq: 0,
  done: false,
};

function emptyStep(stepId: string): LiveStep {
  return {
    stepId,
    index: null,
    type: null,
    status: "pending",
    text: "",
    output: null,
    hasOutput: false,
    error: null,
    durationMs: null,
    startedAt: null,
    finishedAt: null,
    attempts: 0,
    usage: ZERO,
  };
}

const num = (value: unknown) => (typeof value === "number" && Number.isFinite(value) ? value : 0);
const addUsage = (a: Usage, b: Usage): Usage => ({
  tokensIn: a.tokensIn + b.tokensIn,
  tokensOut: a.tokensOut + b.tokensOut,
  costMicros: a.costMicros + b.costMicros,
});

function errorOf(value: unknown): RunErrorInfo | null {
  if (!value || typeof value !== "object") return null;
  const { code, message, stepId } = value as Record<string, unknown>;
  return {
    code: typeof code === "string" ? code : "UNKNOWN",
    message: typeof message === "string" ? message : "",
    ...(typeof stepId === "string" ? { stepId } : {}),
  };
}

function withLog(state: RunLiveState, entry: LogEntry): Pick<RunLiveState, "logs" | "droppedLogs"> {
  const logs = [...state.logs, entry];
  const over = logs.length - MAX_LOGS;
  return over > 0
    ? { logs: logs.slice(over), droppedLogs: state.droppedLogs + over }
    : { logs, droppedLogs: state.droppedLogs };
}

function short(value: unknown, max = 120): string {
  let text: string;
  try {
    text = typeof value === "string" ? value : JSON.stringify(value);
  } catch {
    text = String(value);
  }
  if (text === undefined) return "";
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Apply one event. Returns `state` itself for a duplicate (seq ≤ lastSeq). */
export function applyRunEvent(state: RunLiveState, event: StoredRunEvent): RunLiveState {
  if (!Number.isInteger(event.seq) || event.seq <= state.lastSeq) return state;
  const base = { ...state, lastSeq: event.seq };
  const at = event.createdAt;
  const step = (id: string) => state.steps[id] ?? emptyStep(id);
  const putStep = (next: LiveStep) => ({ ...base.steps, [next.stepId]: next });

  switch (event.type) {
    case "status": {
      const status = event.data.status;
      const terminal = isTerminalStatus(status);
      const error =
        errorOf(event.data.error) ?? (status === "failed" || status === "dead" ? state.error : null);
      const line: LogEntry = {
        seq: event.seq,
        at,
        kind: "status",
        level: status === "failed" || status === "dead" ? "error" : status === "cancelled" ? "warn" : "info",
        stepId: null,
        message: `Run ${status === "running" ? "started" : status}${error ? `: ${error.message}` : ""}`,
      };
      return {
        ...base,
        ...withLog(state, line),
        status,
        error,
        startedAt: state.startedAt ?? (status === "running" ? at : null),
        finishedAt: terminal ? at : state.finishedAt,
        currentStepId: terminal ? null : state.currentStepId,
        structureSeq: event.seq,
        done: terminal,
      };
    }
    case "step_started": {
      const { stepId, index, type } = event.data;
      const previous = step(stepId);
      const next: LiveStep = {
        ...previous,
        index,
        type,
        status: "running",
        text: "",
        output: null,
        hasOutput: false,
        error: null,
        durationMs: null,
        startedAt: at,
        finishedAt: null,
        attempts: previous.attempts + 1,
      };
      const line: LogEntry = {
        seq: event.seq,
        at,
        kind: "step",
        level: "info",
        stepId,
        message: `Step ${stepId} (${type}) started${next.attempts > 1 ? ` — attempt ${next.attempts}` : ""}`,
      };
      return {
        ...base,
        ...withLog(state, line),
        steps: putStep(next),
        currentStepId: stepId,
        structureSeq: event.seq,
      };
    }
    case "step_finished": {
      const { stepId, status, durationMs } = event.data;
      const error = errorOf(event.data.error);
      const hasOutput = event.data.output !== undefined;
      const previous = step(stepId);
      const next: LiveStep = {
        ...previous,
        status,
        output: hasOutput ? event.data.output : previous.output,
        hasOutput: hasOutput || previous.hasOutput,
        error,
        durationMs: num(durationMs),
        finishedAt: at,
      };
      const line: LogEntry = {
        seq: event.seq,
        at,
        kind: "step",
        level: status === "failed" ? "error" : status === "cancelled" ? "warn" : "info",
        stepId,
        message: `Step ${stepId} ${status}${error ? `: ${error.message}` : ""}`,
      };
      return {
        ...base,
        ...withLog(state, line),
        steps: putStep(next),
        currentStepId: state.currentStepId === stepId ? null : state.currentStepId,
        structureSeq: event.seq,
      };
    }
    case "token":
    case "output": {
      // Model text and command output (stdout and stderr in arrival order) both stream into the step's text.
      const stepId = event.data.stepId ?? event.stepId;
      if (!stepId || typeof event.data.text !== "string") return base;
      const previous = step(stepId);
      return {
        ...base,
        steps: putStep({
          ...previous,
          status: previous.status === "pending" ? "running" : previous.status,
          text: previous.text + event.data.text,
        }),
      };
    }
    case "usage": {
      const usage: Usage = {
        tokensIn: num(event.data.tokensIn),
        tokensOut: num(event.data.tokensOut),
        costMicros: num(event.data.costMicros),
      };
      const stepId = event.stepId;
      const steps = stepId
        ? putStep({ ...step(stepId), usage: addUsage(step(stepId).usage, usage) })
        : base.steps;
      return { ...base, steps, usage: addUsage(state.usage, usage), structureSeq: event.seq };
    }
    case "log": {
      const line: LogEntry = {
        seq: event.seq,
        at,
        kind: "log",
        level: event.data.level,
        stepId: event.data.stepId ?? event.stepId,
        message: event.data.message,
      };
      return { ...base, ...withLog(state, line) };
    }
    case "error": {
      const error = errorOf(event.data);
      const line: LogEntry = {
        seq: event.seq,
        at,
        kind: "error",
        level: "error",
        stepId: event.data.stepId ?? event.stepId,
        message: error ? `${error.code}: ${error.message}` : "Error",
      };
      return { ...base, ...withLog(state, line), error: error ?? state.error };
    }
    case "tool_call": {
      const line: LogEntry = {
        seq: event.seq,
        at,
        kind: "tool_call",
        level: "info",
        stepId: event.data.stepId ?? event.stepId,
        message: `→ ${event.data.name}(${short(event.data.input, 80)})`,
        detail: event.data.input,
      };
      return { ...base, ...withLog(state, line) };
    }
    case "tool_result": {
      const line: LogEntry = {
        seq: event.seq,
        at,
        kind: "tool_result",
        level: event.data.isError ? "error" : "info",
        stepId: event.data.stepId ?? event.stepId,
        message: `← ${event.data.name ?? event.data.callId}${event.data.isError ? " failed" : ""}: ${short(event.data.output, 80)}`,
        detail: event.data.output,
      };
      return { ...base, ...withLog(state, line) };
    }
    default:
      // A type this page does not know yet (a newer server): keep the seq, ignore the rest.
      return base;
  }
}

/** Fold events into `state` (sorted by seq first, so a batch may come in any order). */
export function applyRunEvents(state: RunLiveState, events: readonly StoredRunEvent[]): RunLiveState {
  const sorted = events.length > 1 ? [...events].sort((a, b) => a.seq - b.seq) : events;
  let next = state;
  for (const event of sorted) next = applyRunEvent(next, event);
  return next;
}

/** useReducer-shaped: `dispatch({ events })`, or `{ reset: true }` for another run. */
export function runStateReducer(
  state: RunLiveState,
  action: { events: readonly StoredRunEvent[] } | { reset: true },
): RunLiveState {
  if ("reset" in action) return initialRunState;
  return applyRunEvents(state, action.events);
}

// ─── Merge with the server's snapshot ──────────────────────────────────────────────────────────────────────

type DateLike = Date | string | null;

/** The run as `runs.get` (or the loader, with its dates as strings) describes it. */
export type RunSnapshot = {
  status: RunStatusValue;
  error: RunErrorInfo | null;
  output: unknown;
  tokensIn: number;
  tokensOut: number;
  costMicros: number;
  durationMs: number | null;
  startedAt: DateLike;
  finishedAt: DateLike;
  lastEventSeq: number;
  steps: Array<{
    stepId: string;
    index: number;
    type: string;
    status: StepStatus;
    /** 0 for a step reused (copied) from the run this one retries. */
    attempt?: number;
    input: unknown;
    output: unknown;
    error: RunErrorInfo | null;
    tokensIn: number;
    tokensOut: number;
    costMicros: number;
    startedAt: DateLike;
    finishedAt: DateLike;
  }>;
};

/** A step of the workflow version the run pinned. */
export type PlannedStep = { id: string; name?: string; type: string; model?: string };

export type RunDisplayStep = {
  stepId: string;
  name: string;
  type: string;
  /** The model of an llm or agent step. */
  model: string | null;
  index: number;
  status: StepStatus;
  /** Text streamed so far (while running; kept after it finished). */
  text: string;
  output: unknown;
  hasOutput: boolean;
  /** The rendered templates of the step (prompt, system, template…), from the server. */
  input: unknown;
  error: RunErrorInfo | null;
  durationMs: number | null;
  startedAt: string | null;
  usage: Usage;
  /** Output reused from the run this one retries (not run again). */
  reused: boolean;
};

export type RunDisplay = {
  status: RunStatusValue;
  error: RunErrorInfo | null;
  startedAt: string | null;
  finishedAt: string | null;
  /** Final when the run finished; null while it runs (compute from startedAt and the clock). */
  durationMs: number | null;
  usage: Usage;
  steps: RunDisplayStep[];
  currentStepId: string | null;
  output: unknown;
  hasOutput: boolean;
  /** Steps finished (succeeded or skipped) out of the planned total. */
  progress: { done: number; total: number };
};

const iso = (value: DateLike | undefined): string | null =>
  value == null ? null : typeof value === "string" ? value : value.toISOString();
const FINISHED_STEP = new Set<StepStatus>(["succeeded", "failed", "cancelled", "skipped"]);
const maxUsage = (a: Usage, b: Usage): Usage => ({
  tokensIn: Math.max(a.tokensIn, b.tokensIn),
  tokensOut: Math.max(a.tokensOut, b.tokensOut),
  costMicros: Math.max(a.costMicros, b.costMicros),
});

/**
 * What the page shows: the live state where it is at least as recent as the snapshot (by event seq), the
 * snapshot for what events do not carry (rendered inputs, steps reused from an earlier run) or have not
 * replayed yet. Usage is per step the larger of both (they count the same calls), never summed twice.
 */
export function mergeRun(snapshot: RunSnapshot, live: RunLiveState, plan: PlannedStep[]): RunDisplay {
  const liveIsNewer = live.lastSeq >= snapshot.lastEventSeq && live.status !== null;
  const status = liveIsNewer ? (live.status ?? snapshot.status) : snapshot.status;
  const terminal = isTerminalStatus(status);

  const snapshotSteps = new Map(snapshot.steps.map((step) => [step.stepId, step]));
  const ids = plan.map((step) => step.id);
  // Steps the plan does not list (it should list all of them): after the planned ones, in index order.
  const extra = [...new Set([...snapshot.steps.map((s) => s.stepId), ...Object.keys(live.steps)])]
    .filter((id) => !ids.includes(id))
    .sort(
      (a, b) =>
        (snapshotSteps.get(a)?.index ?? live.steps[a]?.index ?? 0) -
        (snapshotSteps.get(b)?.index ?? live.steps[b]?.index ?? 0),
    );
  const planned = new Map(plan.map((step) => [step.id, step]));

  const steps = [...ids, ...extra].map((stepId, position): RunDisplayStep => {
    const saved = snapshotSteps.get(stepId);
    const seen = live.steps[stepId];
    const reused = saved?.attempt === 0 && saved.status === "succeeded";
    const useLive = seen !== undefined && (liveIsNewer || !saved);
    let stepStatus: StepStatus = useLive ? seen.status : (saved?.status ?? "pending");
    // A run that ended leaves no step running (a cancel stops the step in flight).
    if (terminal && stepStatus === "running") {
      stepStatus =
        status === "failed" || status === "dead"
          ? "failed"
          : status === "cancelled"
            ? "cancelled"
            : "succeeded";
    }
    const liveOutput = seen?.hasOutput === true;
    const savedOutput = saved !== undefined && saved.output !== null && saved.output !== undefined;
    const savedDuration =
      saved?.startedAt && saved.finishedAt
        ? new Date(saved.finishedAt).getTime() - new Date(saved.startedAt).getTime()
        : null;
    return {
      stepId,
      name: planned.get(stepId)?.name || stepId,
      type: planned.get(stepId)?.type ?? saved?.type ?? seen?.type ?? "step",
      model: planned.get(stepId)?.model ?? null,
      index: saved?.index ?? seen?.index ?? position,
      status: stepStatus,
      text: seen?.text ?? "",
      output: liveOutput ? seen.output : savedOutput ? saved.output : null,
      hasOutput: liveOutput || savedOutput,
      input: saved?.input ?? null,
      error: (useLive ? seen.error : saved?.error) ?? saved?.error ?? seen?.error ?? null,
      // A reused step's event says 0 ms; its time is the original run's.
      durationMs: reused
        ? savedDuration
        : ((useLive ? seen.durationMs : null) ?? savedDuration ?? seen?.durationMs ?? null),
      startedAt: (useLive ? seen.startedAt : null) ?? iso(saved?.startedAt) ?? seen?.startedAt ?? null,
      usage: maxUsage(
        saved ? { tokensIn: saved.tokensIn, tokensOut: saved.tokensOut, costMicros: saved.costMicros } : ZERO,
        seen?.usage ?? ZERO,
      ),
      reused,
    };
  });

  const stepTotal = steps.reduce((sum, step) => addUsage(sum, step.usage), ZERO);
  const usage = maxUsage(
    { tokensIn: snapshot.tokensIn, tokensOut: snapshot.tokensOut, costMicros: snapshot.costMicros },
    maxUsage(stepTotal, live.usage),
  );

  const startedAt = iso(snapshot.startedAt) ?? live.startedAt;
  const finishedAt = terminal ? (iso(snapshot.finishedAt) ?? live.finishedAt) : null;
  const durationMs = !terminal
    ? null
    : snapshot.durationMs !== null && isTerminalStatus(snapshot.status)
      ? snapshot.durationMs
      : startedAt && finishedAt
        ? Math.max(0, new Date(finishedAt).getTime() - new Date(startedAt).getTime())
        : null;

  const lastStep = [...steps].reverse().find((step) => step.hasOutput);
  const snapshotHasOutput = snapshot.output !== null && snapshot.output !== undefined;
  const output =
    status === "succeeded" ? (snapshotHasOutput ? snapshot.output : (lastStep?.output ?? null)) : null;
  const error = terminal
    ? ((liveIsNewer ? live.error : null) ?? snapshot.error ?? live.error)
    : (snapshot.error ?? null);
  const currentStepId = terminal
    ? null
    : (steps.find((step) => step.status === "running")?.stepId ?? live.currentStepId);

  return {
    status,
    error: status === "failed" || status === "dead" ? error : null,
    startedAt,
    finishedAt,
    durationMs,
    usage,
    steps,
    currentStepId,
    output,
    hasOutput: status === "succeeded" && (snapshotHasOutput || lastStep !== undefined),
    progress: {
      done: steps.filter((step) => step.status === "succeeded" || step.status === "skipped").length,
      total: Math.max(plan.length, steps.length),
    },
  };
}

/** Whether a step's status means it will not change any more. */
export function isStepFinished(status: StepStatus): boolean {
  return FINISHED_STEP.has(status);
}
