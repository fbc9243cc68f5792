import type { DbOrTx, Prisma } from "#app/db/client.server.ts";
import { definitionHash } from "#app/modules/workflows/workflows.server.ts";

/** A one-step definition; the workflow engine's schema decides what is valid, this is only data. */
export const SAMPLE_DEFINITION = {
  inputs: { task: { type: "string" } },
  steps: [{ id: "plan", type: "llm", model: "openai:gpt-4.1-mini", prompt: "Plan: {{inputs.task}}" }],
} satisfies Prisma.InputJsonValue;

/** A workflow with its version 1. */
export async function createWorkflow(
  db: DbOrTx,
  {
    userId,
    projectId,
    definition = SAMPLE_DEFINITION,
    ...overrides
  }: { userId: string; projectId: string; definition?: Prisma.InputJsonValue } & Partial<
    Omit<Prisma.AIWorkflowUncheckedCreateInput, "userId" | "projectId">
  >,
) {
  const workflow = await db.aIWorkflow.create({
    data: { userId, projectId, name: "Test workflow", latestVersion: 1, ...overrides },
  });
  const version = await db.workflowVersion.create({
    data: {
      userId,
      workflowId: workflow.id,
      number: 1,
      definition,
      hash: definitionHash(definition),
    },
  });
  return { workflow, version };
}

/** A run of a workflow version, queued unless overridden. */
export function createRun(
  db: DbOrTx,
  {
    userId,
    projectId,
    workflowId,
    workflowVersionId,
    ...overrides
  }: {
    userId: string;
    projectId: string;
    workflowId: string;
    workflowVersionId: string;
  } & Partial<
    Omit<Prisma.WorkflowRunUncheckedCreateInput, "userId" | "projectId" | "workflowId" | "workflowVersionId">
  >,
) {
  return db.workflowRun.create({
    data: { userId, projectId, workflowId, workflowVersionId, input: { task: "test" }, ...overrides },
  });
}
