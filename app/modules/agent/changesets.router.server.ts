/** Change sets over tRPC and REST: what a run's agent changed, for review (`runs:read`). */
import { z } from "zod";
import { ZRunIdInput } from "#app/modules/runs/runs.types.ts";
import { router, scopedProcedure } from "#app/trpc/init.server.ts";
import { listRunChangeSets } from "./changesets.server.ts";
import { ZChangeSetView } from "./changesets.types.ts";

export const changeSetsRouter = router({
  listForRun: scopedProcedure("runs:read")
    .meta({
      openapi: {
        method: "GET",
        path: "/runs/{id}/changes",
        tags: ["runs"],
        summary: "The change sets a run's agent produced: per file (status, +/−, unified diff) and per hunk",
      },
    })
    .input(ZRunIdInput)
    .output(z.array(ZChangeSetView))
    .query(({ ctx, input }) =>
      listRunChangeSets({ userId: ctx.auth.userId, runId: input.id }, { db: ctx.db }),
    ),
});
