import { z } from "zod";

export const ZWorkerSummary = z.object({
  id: z.uuid(),
  startedAt: z.date(),
  heartbeatAt: z.date(),
  concurrency: z.number().int(),
});

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
