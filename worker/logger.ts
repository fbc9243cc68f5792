import { Logger as GraphileLogger, type LogLevel } from "graphile-worker";
import type { Logger as PinoLogger } from "pino";

/** Any pino logger (or child): what the worker logs through. */
export type WorkerLogger = PinoLogger;

/**
 * Adapt a pino logger to graphile-worker's `Logger`, so the queue's own lines
 * (job failures, shutdown, pool errors) land in the same JSON stream as ours.
 *
 * graphile-worker attaches whole job rows, pools and workers to its log meta;
 * we keep only the fields worth indexing, so one failing job doesn't write a
 * kilobyte of internals per line.
 */
export function toGraphileLogger(logger: WorkerLogger): GraphileLogger {
  return new GraphileLogger((scope) => {
    const bindings: Record<string, unknown> = { component: "graphile-worker" };
    if (scope.label) bindings.label = scope.label;
    if (scope.workerId) bindings.gwWorker = scope.workerId;
    if (scope.taskIdentifier) bindings.task = scope.taskIdentifier;
    if (scope.jobId) bindings.jobId = scope.jobId;
    const child = logger.child(bindings);
    return (level: LogLevel, message: string, meta?: Record<string, unknown>) => {
      const fields = pickMeta(meta);
      switch (level) {
        case "error":
          child.error(fields, message);
          break;
        case "warning":
          child.warn(fields, message);
          break;
        case "info":
          child.info(fields, message);
          break;
        default:
          child.debug(fields, message);
      }
    };
  });
}

function pickMeta(meta: Record<string, unknown> | undefined): Record<string, unknown> {
  if (!meta) return {};
  const fields: Record<string, unknown> = {};
  // pino serialises `err` with message and stack.
  const err = meta.error ?? meta.fatalError;
  if (err !== undefined) fields.err = err;
  const job = meta.job as { id?: unknown; task_identifier?: unknown; attempts?: unknown } | undefined;
  if (job && typeof job === "object") {
    fields.jobId = job.id;
    fields.task = job.task_identifier;
    fields.attempt = job.attempts;
  }
  if (typeof meta.duration === "number") fields.durationMs = Math.round(meta.duration * 100) / 100;
  return fields;
}
