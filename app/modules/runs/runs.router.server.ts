/**
 * Runs over tRPC and REST (`POST /api/v1/workflows/{id}/runs`, `/api/v1/runs/...`). Procedures parse,
 * delegate and return; reads need `runs:read`, writes `runs:write`. (The event stream,
 * `GET /api/v1/runs/{id}/events`, is served by events.http.server.ts.)
 */
import { z } from "zod";
import { router, scopedProcedure, type TrpcContext } from "#app/trpc/init.server.ts";
import { cancelRun, createRun, getRun, listRuns, type RunsDeps, restartRun } from "./runs.server.ts";
import {
  ZCreateRunInput,
  ZListRunsInput,
  ZRestartRunOutput,
  ZRunIdInput,
  ZRunPage,
  ZRunView,
} from "./runs.types.ts";

const read = scopedProcedure("runs:read");
const write = scopedProcedure("runs:write");
const tags = ["runs"];
const deps = (ctx: TrpcContext): RunsDeps => ({ db: ctx.db });

/** Retry and re-run: the same procedure but for the mode (see restartRun). */
function restart(mode: "retry" | "rerun", path: `/${string}`, summary: string) {
  return write
    .meta({ openapi: { method: "POST", path, tags, summary } })
    .input(ZRunIdInput)
    .output(ZRestartRunOutput)
    .mutation(async ({ ctx, input }) => {
      const started = await restartRun(
        { userId: ctx.auth.userId, runId: input.id, mode, apiKeyId: ctx.auth.apiKeyId },
        deps(ctx),
      );
      ctx.response.setStatus(202);
      return started;
    });
}

export const runsRouter = router({
  create: write
    .meta({
      openapi: {
        method: "POST",
        path: "/workflows/{id}/runs",
        tags,
        summary:
          "Start a run of a workflow (latest version unless `version`): 202 {runId}; 400 with error.details.issues for a bad input",
      },
    })
    .input(ZCreateRunInput)
    .output(z.object({ runId: z.string() }))
    .mutation(async ({ ctx, input }) => {
      const created = await createRun(
        {
          userId: ctx.auth.userId,
          workflowId: input.id,
          version: input.version,
          input: input.input,
          budgetUsd: input.budgetUsd,
          apiKeyId: ctx.auth.apiKeyId,
        },
        deps(ctx),
      );
      ctx.response.setStatus(202);
      return created;
    }),

  get: read
    .meta({
      openapi: {
        method: "GET",
        path: "/runs/{id}",
        tags,
        summary: "A run with its steps, output, totals and error (poll it, or stream /runs/{id}/events)",
      },
    })
    .input(ZRunIdInput)
    .output(ZRunView)
    .query(({ ctx, input }) => getRun({ userId: ctx.auth.userId, runId: input.id }, deps(ctx))),

  list: read
    .meta({
      openapi: {
        method: "GET",
        path: "/runs",
        tags,
        summary: "Your runs, newest first (?projectId, ?workflowId, ?status, ?limit, ?cursor=nextCursor)",
      },
    })
    .input(ZListRunsInput)
    .output(ZRunPage)
    .query(({ ctx, input }) => listRuns({ userId: ctx.auth.userId, ...input }, deps(ctx))),

  cancel: write
    .meta({
      openapi: {
        method: "POST",
        path: "/runs/{id}/cancel",
        tags,
        summary:
          "Cancel a run: a queued one at once, a running one within a second (its model call is aborted); 409 when finished",
      },
    })
    .input(ZRunIdInput)
    .output(ZRunView)
    .mutation(({ ctx, input }) => cancelRun({ userId: ctx.auth.userId, runId: input.id }, deps(ctx))),

  retry: restart(
    "retry",
    "/runs/{id}/retry",
    "Retry a failed, cancelled or dead run from its failed step: a new run (same version and input) reusing the steps that succeeded; 202 {runId, reusedSteps}",
  ),
  rerun: restart(
    "rerun",
    "/runs/{id}/rerun",
    "Run a finished run again from the start with the same version and input: 202 {runId}; 409 while it runs",
  ),
});
