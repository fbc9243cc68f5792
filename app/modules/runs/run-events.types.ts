/**
 * The vocabulary of run events: what a run streams to its watchers (SSE, polling) and stores as RunEvent rows.
 * Browser-safe (no server code): the run page parses the stream with these schemas.
 *
 * Every event has a per-run sequence number `seq` (1, 2, 3, … without gaps), its `type`, the step it belongs
 * to (`stepId`, null for run-level events) and a `data` object whose shape depends on the type.
 */
import { z } from "zod";

/** The values of the Prisma enum RunStatus (a test checks they agree). */
export const RUN_STATUSES = ["queued", "running", "succeeded", "failed", "cancelled", "dead"] as const;
export const ZRunEventStatus = z.enum(RUN_STATUSES);
export type RunStatusValue = (typeof RUN_STATUSES)[number];

/** Statuses a run never leaves. A `status` event carrying one of them is the last event of its stream. */
export const TERMINAL_STATUSES = [
  "succeeded",
  "failed",
  "cancelled",
  "dead",
] as const satisfies readonly RunStatusValue[];
export type TerminalStatus = (typeof TERMINAL_STATUSES)[number];

export function isTerminalStatus(status: unknown): status is TerminalStatus {
  return typeof status === "string" && (TERMINAL_STATUSES as readonly string[]).includes(status);
}

const ZErrorInfo = z.object({ code: z.string(), message: z.string(), stepId: z.string().optional() });

/** The `data` schema of each event type. */
export const RUN_EVENT_DATA = {
  /** The run changed status; `error` when it failed or died. */
  status: z.object({ status: ZRunEventStatus, error: ZErrorInfo.optional() }),
  step_started: z.object({ stepId: z.string(), index: z.number().int().nonnegative(), type: z.string() }),
  step_finished: z.object({
    stepId: z.string(),
    status: z.enum(["succeeded", "failed", "skipped", "cancelled"]),
    output: z.unknown().optional(),
    error: ZErrorInfo.optional(),
    durationMs: z.number().nonnegative(),
  }),
  /** Model output text; consecutive deltas of one step are coalesced before they are stored. */
  token: z.object({ stepId: z.string(), text: z.string() }),
  /** Output of a command while it runs (a `command` step, the agent's run_command); coalesced like tokens. */
  output: z.object({ stepId: z.string(), stream: z.enum(["stdout", "stderr"]), text: z.string() }),
  tool_call: z.object({
    stepId: z.string(),
    callId: z.string(),
    name: z.string(),
    input: z.unknown(),
  }),
  tool_result: z.object({
    stepId: z.string(),
    callId: z.string(),
    name: z.string().optional(),
    output: z.unknown(),
    isError: z.boolean().optional(),
  }),
  log: z.object({
    stepId: z.string().optional(),
    level: z.enum(["debug", "info", "warn", "error"]),
    message: z.string(),
  }),
  /** Usage added by a model call; costs in integer micro-dollars. */
  usage: z.object({
    tokensIn: z.number().int().nonnegative(),
    tokensOut: z.number().int().nonnegative(),
    costMicros: z.number().int().nonnegative(),
  }),
  error: ZErrorInfo,
} as const;

export type RunEventType = keyof typeof RUN_EVENT_DATA;
export const RUN_EVENT_TYPES = Object.keys(RUN_EVENT_DATA) as RunEventType[];
export const ZRunEventType = z.enum(RUN_EVENT_TYPES as [RunEventType, ...RunEventType[]]);

export type RunEventData<T extends RunEventType = RunEventType> = z.infer<(typeof RUN_EVENT_DATA)[T]>;

/** An event as a producer (the engine) appends it; seq is assigned when it is stored. */
export type RunEventInput = {
  [T in RunEventType]: { type: T; stepId?: string | null; data: RunEventData<T> };
}[RunEventType];

/** An event as stored and streamed. `createdAt` is ISO 8601. */
export type StoredRunEvent = {
  [T in RunEventType]: {
    seq: number;
    type: T;
    stepId: string | null;
    data: RunEventData<T>;
    createdAt: string;
  };
}[RunEventType];

/** Parse an event's data against its type's schema; throws a ZodError when it does not fit. */
export function parseRunEventData<T extends RunEventType>(type: T, data: unknown): RunEventData<T> {
  const schema = RUN_EVENT_DATA[type];
  if (!schema) throw new Error(`Unknown run event type: ${String(type)}`);
  return schema.parse(data) as RunEventData<T>;
}

/** The answer of the polling endpoint `GET /api/v1/runs/{id}/events.json`. */
export type RunEventsPage = {
  events: StoredRunEvent[];
  /** The seq of the last event returned, or `after` when none: pass it as `after` next time. */
  lastSeq: number;
  /** The run has finished and every event of it has been delivered: stop polling. */
  done: boolean;
};

/**
 * Payload of a NOTIFY on the run events channel: which runs have new events (runId → highest seq) and, when a
 * run finished, whose notifications changed (userId → highest Notification seq; written by a trigger).
 */
export const ZRunEventsNotification = z.object({
  runs: z.record(z.string(), z.number().int()),
  users: z.record(z.string(), z.number().int()).optional(),
});
