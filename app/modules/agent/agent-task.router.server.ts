/**
 * The one-click agent task over tRPC and REST (`POST /api/v1/projects/{id}/agent-task`). It may create or
 * change a workflow and starts a run, so an API key needs both `runs:write` and `workflows:write`.
 */
import { AppError } from "#app/lib/app-error.ts";
import { hasScope } from "#app/modules/auth/authenticate.server.ts";
import { defaultTemplateModel, isKnownModelIn } from "#app/modules/workflows/index.server.ts";
import { router, scopedProcedure, type TrpcContext } from "#app/trpc/init.server.ts";
import { type AgentTaskDeps, startAgentTask } from "./agent-task.server.ts";
import { ZStartAgentTaskInput, ZStartAgentTaskOutput } from "./agent-task.types.ts";

/**
 * runs:write (the declared rule) and workflows:write on top: the task may save a workflow version. For
 * every procedure that starts an agent task (the review's follow-up run too).
 */
export const agentTaskProcedure = scopedProcedure("runs:write").use(({ ctx, next }) => {
  if (!hasScope(ctx.auth, "workflows:write")) {
    throw new AppError("FORBIDDEN", "This API key lacks the `workflows:write` scope");
  }
  return next();
});

/** What startAgentTask needs from a request: the database, the model checks, the sandbox. */
export function agentTaskDeps(ctx: TrpcContext): AgentTaskDeps {
  return {
    db: ctx.db,
    isKnownModel: isKnownModelIn(ctx),
    listModels: (userId) => ctx.ai.service.listModels(userId),
    sandbox: ctx.sandbox,
  };
}

export const agentTaskRouter = router({
  start: agentTaskProcedure
    .meta({
      openapi: {
        method: "POST",
        path: "/projects/{id}/agent-task",
        tags: ["runs"],
        summary:
          'Start an agent task on a project: kind "fix-tests" (run the tests, fix, re-run) or "custom" (`task`), reusing the project\'s workflow for it: 202 {runId, workflowId}',
      },
    })
    .input(ZStartAgentTaskInput)
    .output(ZStartAgentTaskOutput)
    .mutation(async ({ ctx, input }) => {
      const userId = ctx.auth.userId;
      const { id, ...fields } = input;
      const started = await startAgentTask(
        {
          userId,
          projectId: id,
          ...fields,
          model: fields.model ?? (await defaultTemplateModel(ctx, userId)),
          apiKeyId: ctx.auth.apiKeyId,
        },
        agentTaskDeps(ctx),
      );
      ctx.response.setStatus(202);
      return started;
    }),
});
