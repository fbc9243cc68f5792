import type { LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { useLoaderData, useParams } from "@remix-run/react";
import { NotFoundBoundary } from "#app/components/ui/not-found-boundary.tsx";
import { WorkflowBuilder } from "#app/components/workflows/workflow-builder.tsx";
import { isAppError } from "#app/lib/app-error.ts";
import { requireUser } from "#app/modules/auth/web.server.ts";
import { getProject } from "#app/modules/projects/index.server.ts";
import { getWorkflow, isKnownModelIn } from "#app/modules/workflows/index.server.ts";

export const meta: MetaFunction<typeof loader> = ({ data }) => [
  { title: data ? `${data.workflow.name} · Workflows · Agentry` : "Workflow · Agentry" },
];

const notFound = (what: string) => new Response(`${what} not found`, { status: 404 });

export async function loader({ context, request, params }: LoaderFunctionArgs) {
  const auth = requireUser(context, request);
  const projectId = params.projectId ?? "";
  const deps = { db: context.db, isKnownModel: isKnownModelIn({ ai: context.ai }) };
  // Someone else's project or workflow and a missing one look the same.
  const [project, workflow] = await Promise.all([
    getProject({ userId: auth.userId, projectId }, deps).catch((error: unknown) => {
      if (isAppError(error) && error.code === "NOT_FOUND") throw notFound("Project");
      throw error;
    }),
    getWorkflow({ userId: auth.userId, workflowId: params.workflowId ?? "" }, deps).catch(
      (error: unknown) => {
        if (isAppError(error) && error.code === "NOT_FOUND") throw notFound("Workflow");
        throw error;
      },
    ),
  ]);
  if (workflow.projectId !== project.id) throw notFound("Workflow");
  return { project: { id: project.id, name: project.name }, workflow };
}

export default function WorkflowPage() {
  const { project, workflow } = useLoaderData<typeof loader>();
  // Another workflow is another page: a fresh draft, selection and dialogs.
  return <WorkflowBuilder key={workflow.id} project={project} workflow={workflow} />;
}

export function ErrorBoundary() {
  const { projectId } = useParams();
  return (
    <NotFoundBoundary
      notFound="Workflow not found"
      failed="This workflow could not be opened"
      back={
        projectId
          ? { to: `/projects/${projectId}/workflows`, label: "The project's workflows" }
          : { to: "/projects", label: "All projects" }
      }
    />
  );
}
