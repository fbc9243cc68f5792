import type { LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { useLoaderData, useParams } from "@remix-run/react";
import { NotFoundBoundary } from "#app/components/ui/not-found-boundary.tsx";
import { WorkflowBuilder } from "#app/components/workflows/workflow-builder.tsx";
import { or404 } from "#app/lib/not-found.server.ts";
import { requireUser } from "#app/modules/auth/web.server.ts";
import { getProject } from "#app/modules/projects/index.server.ts";
import { getWorkflow, isKnownModelIn } from "#app/modules/workflows/index.server.ts";

export const meta: MetaFunction<typeof loader> = ({ data }) => [
  { title: data ? `${data.workflow.name} · Workflows · Agentry` : "Workflow · Agentry" },
];

export async function loader({ context, request, params }: LoaderFunctionArgs) {
  const auth = requireUser(context, request);
  const projectId = params.projectId ?? "";
  const deps = { db: context.db, isKnownModel: isKnownModelIn({ ai: context.ai }) };
  // Someone else's project or workflow and a missing one look the same.
  const [project, workflow] = await Promise.all([
    or404(getProject({ userId: auth.userId, projectId }, deps), "Project not found"),
    or404(
      getWorkflow({ userId: auth.userId, workflowId: params.workflowId ?? "" }, deps),
      "Workflow not found",
    ),
  ]);
  if (workflow.projectId !== project.id) throw new Response("Workflow not found", { status: 404 });
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
