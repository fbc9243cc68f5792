/**
 * Change sets over tRPC and REST: what a run's agent changed (`runs:read`), and the review that applies it
 * to the project's files hunk by hunk (`projects:write`: applying writes files).
 */
import { z } from "zod";
import { ZRunIdInput } from "#app/modules/runs/runs.types.ts";
import { ZModelIdInput } from "#app/modules/workflows/workflows.types.ts";
import { router, scopedProcedure } from "#app/trpc/init.server.ts";
import { agentTaskDeps, agentTaskProcedure } from "./agent-task.router.server.ts";
import { ZStartAgentTaskOutput } from "./agent-task.types.ts";
import { followUpChangeSet } from "./changeset-follow-up.server.ts";
import { applyChangeSet, rejectChangeSet, reviewChangeSet } from "./changeset-review.server.ts";
import { listRunChangeSets } from "./changesets.server.ts";
import {
  ZApplyChangeSetInput,
  ZApplyChangeSetOutput,
  ZChangeSetIdInput,
  ZChangeSetView,
  ZReviewChangeSetInput,
} from "./changesets.types.ts";

const tags = ["runs"];
const write = scopedProcedure("projects:write");
const actor = (auth: { userId: string; apiKeyId?: string | null }) => ({
  userId: auth.userId,
  apiKeyId: auth.apiKeyId ?? null,
});

export const changeSetsRouter = router({
  listForRun: scopedProcedure("runs:read")
    .meta({
      openapi: {
        method: "GET",
        path: "/runs/{id}/changes",
        tags,
        summary: "The change sets a run's agent produced: per file (status, +/−, unified diff) and per hunk",
      },
    })
    .input(ZRunIdInput)
    .output(z.array(ZChangeSetView))
    .query(({ ctx, input }) =>
      listRunChangeSets({ userId: ctx.auth.userId, runId: input.id }, { db: ctx.db }),
    ),

  review: write
    .meta({
      openapi: {
        method: "PATCH",
        path: "/changes/{id}",
        tags,
        summary:
          "Record review decisions on a pending change set: per hunk (or per file without `hunk`) accepted, rejected or pending, with a comment",
      },
    })
    .input(ZReviewChangeSetInput)
    .output(ZChangeSetView)
    .mutation(({ ctx, input }) =>
      reviewChangeSet(
        { ...actor(ctx.auth), changeSetId: input.id, decisions: input.decisions },
        { db: ctx.db },
      ),
    ),

  applyToProject: write
    .meta({
      openapi: {
        method: "POST",
        path: "/changes/{id}/apply",
        tags,
        summary:
          "Apply the accepted hunks to the project's files, all or nothing (409 with error.details.conflicts when a file changed where a hunk applies); pending hunks count as rejected",
      },
    })
    .input(ZApplyChangeSetInput)
    .output(ZApplyChangeSetOutput)
    .mutation(({ ctx, input }) =>
      applyChangeSet(
        { ...actor(ctx.auth), changeSetId: input.id, decisions: input.decisions },
        { db: ctx.db },
      ),
    ),

  reject: write
    .meta({
      openapi: {
        method: "POST",
        path: "/changes/{id}/reject",
        tags,
        summary: "Reject a pending change set: nothing is applied",
      },
    })
    .input(ZChangeSetIdInput)
    .output(ZChangeSetView)
    .mutation(({ ctx, input }) =>
      rejectChangeSet({ ...actor(ctx.auth), changeSetId: input.id }, { db: ctx.db }),
    ),

  followUp: agentTaskProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/changes/{id}/follow-up",
        tags,
        summary:
          "Start a follow-up agent run from a decided change set's rejected hunks and their comments: 202 {runId, workflowId}",
      },
    })
    .input(ZChangeSetIdInput.extend({ model: ZModelIdInput.optional() }))
    .output(ZStartAgentTaskOutput)
    .mutation(async ({ ctx, input }) => {
      const started = await followUpChangeSet(
        { ...actor(ctx.auth), changeSetId: input.id, model: input.model },
        agentTaskDeps(ctx),
      );
      ctx.response.setStatus(202);
      return started;
    }),
});
