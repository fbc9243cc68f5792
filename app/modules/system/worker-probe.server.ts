import type { Db } from "#app/db/client.server.ts";
import { AppError } from "#app/lib/app-error.ts";
import { enqueue } from "#worker/index.ts";
import type { TWorkerProbe } from "./system.types.ts";

const probeSelect = { id: true, requestedAt: true, startedAt: true, completedAt: true } as const;

function toProbe(row: {
  id: string;
  requestedAt: Date;
  startedAt: Date | null;
  completedAt: Date | null;
}): TWorkerProbe {
  return {
    ...row,
    status: row.completedAt ? "completed" : row.startedAt ? "running" : "queued",
    roundTripMs: row.completedAt ? row.completedAt.getTime() - row.requestedAt.getTime() : null,
  };
}

/**
 * Ask a worker to prove it is alive: the probe row and its job commit in one
 * transaction, so a probe never exists without its job or the other way round.
 */
export async function createWorkerProbe(db: Db): Promise<TWorkerProbe> {
  const row = await db.$transaction(async (tx) => {
    const probe = await tx.workerProbe.create({ data: {}, select: probeSelect });
    await enqueue(tx, "worker.probe", { probeId: probe.id }, { jobKey: `probe:${probe.id}`, maxAttempts: 3 });
    return probe;
  });
  return toProbe(row);
}

export async function getWorkerProbe({ id }: { id: string }, db: Db): Promise<TWorkerProbe> {
  const row = await db.workerProbe.findUnique({ where: { id }, select: probeSelect });
  if (!row) throw new AppError("NOT_FOUND", "No worker probe with this id");
  return toProbe(row);
}
