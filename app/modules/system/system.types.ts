import { z } from "zod";

export const ZWorkerSummary = z.object({
  id: z.uuid(),
  startedAt: z.date(),
  heartbeatAt: z.date(),
  concurrency: z.number().int(),
});

/**
 * How commands (workflow command steps, the agent's tools) run on this server, as people see it: the
 * mode and a short sentence, never a path or a probe's output.
 */
export const ZSandboxView = z.object({
  /** "bwrap": isolated; "unsafe": no isolation (the operator allowed it); "unavailable": commands are refused. */
  mode: z.enum(["bwrap", "unsafe", "unavailable"]),
  summary: z.string(),
  /** e.g. "0.8.0", when a bwrap binary answered. */
  bwrapVersion: z.string().nullable(),
  /** Memory and process limits are enforced by a cgroup on the whole command (else per process, weaker). */
  cgroupLimits: z.boolean(),
});
export type TSandboxView = z.infer<typeof ZSandboxView>;

export const ZSystemStatus = z.object({
  version: z.string(),
  database: z.object({ serverVersion: z.string(), latencyMs: z.number() }),
  workers: z.object({
    alive: z.number().int(),
    /** Workers whose heartbeat is older than the liveness window: presumed dead. */
    stale: z.number().int(),
    list: z.array(ZWorkerSummary),
  }),
  queue: z.object({ pending: z.number().int(), running: z.number().int() }),
  /** How commands run here (null: this process does not know). */
  sandbox: ZSandboxView.nullable(),
});
export type TSystemStatus = z.infer<typeof ZSystemStatus>;

export const ZWorkerProbe = z.object({
  id: z.uuid(),
  status: z.enum(["queued", "running", "completed"]),
  requestedAt: z.date(),
  startedAt: z.date().nullable(),
  completedAt: z.date().nullable(),
  /** Enqueue to completion, in milliseconds, once completed. */
  roundTripMs: z.number().nullable(),
});
export type TWorkerProbe = z.infer<typeof ZWorkerProbe>;

export const ZGetWorkerProbeInput = z.object({ id: z.uuid({ message: "id must be a UUID" }) });
