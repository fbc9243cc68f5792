import { z } from "zod";
import { APP_VERSION } from "#app/lib/version.server.ts";
import { router, userProcedure } from "#app/trpc/init.server.ts";
import { getSystemStatus } from "./get-system-status.server.ts";
import { ZGetWorkerProbeInput, ZSystemStatus, ZWorkerProbe } from "./system.types.ts";
import { createWorkerProbe, getWorkerProbe } from "./worker-probe.server.ts";

export const systemRouter = router({
  status: userProcedure
    .meta({
      openapi: {
        method: "GET",
        path: "/system/status",
        tags: ["system"],
        summary: "Database, workers, queue and sandbox mode",
      },
    })
    .input(z.void())
    .output(ZSystemStatus)
    .query(async ({ ctx }) =>
      getSystemStatus({ version: APP_VERSION, sandbox: (await ctx.sandbox?.()) ?? null }, ctx.db),
    ),

  createProbe: userProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/system/probes",
        tags: ["system"],
        summary: "Enqueue a worker round-trip probe",
      },
    })
    .input(z.void())
    .output(ZWorkerProbe)
    .mutation(({ ctx }) => createWorkerProbe(ctx.db)),

  probe: userProcedure
    .meta({
      openapi: { method: "GET", path: "/system/probes/{id}", tags: ["system"], summary: "A worker probe" },
    })
    .input(ZGetWorkerProbeInput)
    .output(ZWorkerProbe)
    .query(({ ctx, input }) => getWorkerProbe(input, ctx.db)),
});
