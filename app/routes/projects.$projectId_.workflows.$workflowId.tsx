import type { LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { isRouteErrorResponse, Link, useLoaderData, useParams, useRouteError } from "@remix-run/react";
import { Button } from "#app/components/ui/button.tsx";
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
  const error = useRouteError();
  const { projectId } = useParams();
  const missing = isRouteErrorResponse(error) && error.status === 404;
  return (
    <div className="mx-auto max-w-md py-16 text-center" role="alert">
      <h1 className="text-2xl font-semibold tracking-tight">
        {missing ? "Workflow not found" : "This workflow could not be opened"}
      </h1>
      <p className="mt-2 text-sm text-zinc-600 dark:text-zinc-400">
        {missing
          ? "It does not exist, or it belongs to another account."
          : "An unexpected error occurred. The details are in the server log."}
      </p>
      <Button asChild className="mt-6">
        <Link to={projectId ? `/projects/${projectId}/workflows` : "/projects"}>
          {projectId ? "The project's workflows" : "All projects"}
        </Link>
      </Button>
    </div>
  );
}
