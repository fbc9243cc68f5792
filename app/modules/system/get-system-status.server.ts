import type { Db } from "#app/db/client.server.ts";
import type { SandboxStatus } from "#app/modules/sandbox/index.server.ts";
import { sandboxView } from "./sandbox-view.server.ts";
import type { TSystemStatus } from "./system.types.ts";

/** A worker that has not written its heartbeat for this long is presumed dead. */
export const WORKER_LIVENESS_WINDOW_MS = 30_000;

/**
 * What an operator wants to know at a glance: is the database there, are
 * workers alive, is the queue moving, do commands run in a sandbox.
 */
export async function getSystemStatus(
  {
    version,
    now = new Date(),
    sandbox = null,
  }: { version: string; now?: Date; sandbox?: SandboxStatus | null },
  db: Db,
): Promise<TSystemStatus> {
  const started = performance.now();
  const [{ server_version }] = await db.$queryRaw<[{ server_version: string }]>`SHOW server_version`;
  const latencyMs = Math.round((performance.now() - started) * 10) / 10;

  const since = new Date(now.getTime() - WORKER_LIVENESS_WINDOW_MS);
  const [alive, stale] = await Promise.all([
    db.workerProcess.findMany({
      where: { stoppedAt: null, heartbeatAt: { gte: since } },
      select: { id: true, startedAt: true, heartbeatAt: true, concurrency: true },
      orderBy: { startedAt: "asc" },
      take: 50,
    }),
    db.workerProcess.count({ where: { stoppedAt: null, heartbeatAt: { lt: since } } }),
  ]);

  // graphile-worker's public view; locked jobs are running, the rest are waiting.
  const [queue] = await db.$queryRaw<[{ pending: bigint; running: bigint }]>`
    SELECT count(*) FILTER (WHERE locked_at IS NULL) AS pending,
           count(*) FILTER (WHERE locked_at IS NOT NULL) AS running
    FROM graphile_worker.jobs`;

  return {
    version,
    database: { serverVersion: server_version, latencyMs },
    workers: { alive: alive.length, stale, list: alive },
    queue: { pending: Number(queue.pending), running: Number(queue.running) },
    sandbox: sandbox ? sandboxView(sandbox) : null,
  };
}
