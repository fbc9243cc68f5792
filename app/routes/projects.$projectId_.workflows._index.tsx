import type { LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { Link, useLoaderData, useRevalidator } from "@remix-run/react";
import { useMutation } from "@tanstack/react-query";
import clsx from "clsx";
import { useState } from "react";
import { errorMessage } from "#app/components/projects/api.ts";
import { Breadcrumb } from "#app/components/ui/breadcrumb.tsx";
import { Button } from "#app/components/ui/button.tsx";
import { EmptyState } from "#app/components/ui/empty-state.tsx";
import { FormAlert } from "#app/components/ui/field.tsx";
import { NotFoundBoundary } from "#app/components/ui/not-found-boundary.tsx";
import { DateTime } from "#app/components/ui/section.tsx";
import { Table, TBody, Td, THead, Th } from "#app/components/ui/table.tsx";
import { isStepType, STEP_TYPE_LABEL } from "#app/components/workflows/builder-model.ts";
import { StepTypeIcon } from "#app/components/workflows/fields.tsx";
import { NewWorkflowDialog } from "#app/components/workflows/new-workflow-dialog.tsx";
import { or404 } from "#app/lib/not-found.server.ts";
import { requireUser } from "#app/modules/auth/web.server.ts";
import { getProject } from "#app/modules/projects/index.server.ts";
import { listWorkflows, listWorkflowTemplates } from "#app/modules/workflows/index.server.ts";
import type { WorkflowSummary } from "#app/modules/workflows/workflows.types.ts";
import { useTRPC } from "#app/trpc/client.ts";

export const meta: MetaFunction<typeof loader> = ({ data }) => [
  { title: data ? `Workflows · ${data.project.name} · Agentry` : "Workflows · Agentry" },
];

export async function loader({ context, request, params }: LoaderFunctionArgs) {
  const auth = requireUser(context, request);
  const projectId = params.projectId ?? "";
  const deps = { db: context.db };
  const project = await or404(getProject({ userId: auth.userId, projectId }, deps), "Project not found");
  const workflows = await listWorkflows({ userId: auth.userId, projectId, includeArchived: true }, deps);
  return {
    project: { id: project.id, name: project.name, archivedAt: project.archivedAt },
    workflows,
    templates: listWorkflowTemplates(),
  };
}

type Summary = Pick<
  WorkflowSummary,
  "id" | "name" | "description" | "latestVersion" | "updatedAt" | "stepTypes" | "lastRun" | "archivedAt"
>;

const RUN_TONE: Record<string, string> = {
  succeeded: "bg-emerald-50 text-emerald-800 dark:bg-emerald-950/60 dark:text-emerald-200",
  failed: "bg-red-50 text-red-800 dark:bg-red-950/60 dark:text-red-200",
  dead: "bg-red-50 text-red-800 dark:bg-red-950/60 dark:text-red-200",
  running: "bg-brand-50 text-brand-700 dark:bg-brand-700/25 dark:text-brand-100",
  queued: "bg-zinc-100 text-zinc-700 dark:bg-zinc-800 dark:text-zinc-300",
  cancelled: "bg-zinc-100 text-zinc-700 dark:bg-zinc-800 dark:text-zinc-300",
};

function StepStrip({ types }: { types: string[] }) {
  const counts = new Map<string, number>();
  for (const type of types) counts.set(type, (counts.get(type) ?? 0) + 1);
  return (
    <span className="flex items-center gap-1.5" title={types.join(" → ")}>
      <span className="flex items-center text-zinc-500" aria-hidden="true">
        {types.slice(0, 6).map((type, index) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: a fixed list of types, in order
          <span key={index} className="flex items-center">
            {index > 0 ? <span className="mx-0.5 text-zinc-300 dark:text-zinc-600">›</span> : null}
            <StepTypeIcon type={isStepType(type) ? type : null} className="h-3.5 w-3.5" />
          </span>
        ))}
        {types.length > 6 ? <span className="ml-1 text-xs">+{types.length - 6}</span> : null}
      </span>
      <span className="text-xs text-zinc-600 tabular-nums dark:text-zinc-400">
        {types.length === 1 ? "1 step" : `${types.length} steps`}
        <span className="sr-only">
          :{" "}
          {[...counts]
            .map(([type, n]) => `${n} ${isStepType(type) ? STEP_TYPE_LABEL[type] : type}`)
            .join(", ")}
        </span>
      </span>
    </span>
  );
}

function WorkflowTable({
  projectId,
  workflows,
  label,
  onUnarchive,
  unarchiving,
}: {
  projectId: string;
  workflows: Summary[];
  label: string;
  onUnarchive?: (id: string) => void;
  unarchiving?: string | null;
}) {
  return (
    <Table aria-label={label}>
      <THead>
        <Th>Name</Th>
        <Th>Steps</Th>
        <Th align="right">Version</Th>
        <Th>Last run</Th>
        <Th>Updated</Th>
        {onUnarchive ? (
          <Th>
            <span className="sr-only">Actions</span>
          </Th>
        ) : null}
      </THead>
      <TBody>
        {workflows.map((workflow) => (
          <tr
            key={workflow.id}
            className="bg-white hover:bg-zinc-50 dark:bg-zinc-950 dark:hover:bg-zinc-900/60"
            data-testid="workflow-row"
          >
            <Td className="max-w-md">
              <Link
                to={`/projects/${projectId}/workflows/${workflow.id}`}
                className="font-medium text-zinc-900 hover:text-brand-700 hover:underline dark:text-zinc-100 dark:hover:text-brand-100"
              >
                {workflow.name}
              </Link>
              {workflow.description ? (
                <p className="mt-0.5 line-clamp-2 text-xs text-zinc-600 dark:text-zinc-400">
                  {workflow.description}
                </p>
              ) : null}
            </Td>
            <Td nowrap>
              <StepStrip types={workflow.stepTypes} />
            </Td>
            <Td numeric muted>
              v{workflow.latestVersion}
            </Td>
            <Td nowrap>
              {workflow.lastRun ? (
                <Link
                  to={`/runs/${workflow.lastRun.id}`}
                  className={clsx(
                    "rounded-full px-2 py-0.5 text-xs font-medium hover:underline",
                    RUN_TONE[workflow.lastRun.status],
                  )}
                >
                  {workflow.lastRun.status}
                </Link>
              ) : (
                <span className="text-xs text-zinc-400">Never run</span>
              )}
            </Td>
            <Td nowrap muted>
              <DateTime value={workflow.updatedAt} />
            </Td>
            {onUnarchive ? (
              <Td className="text-right">
                <Button
                  variant="secondary"
                  className="h-7 px-2.5 text-xs"
                  disabled={unarchiving === workflow.id}
                  onClick={() => onUnarchive(workflow.id)}
                  aria-label={`Unarchive ${workflow.name}`}
                >
                  {unarchiving === workflow.id ? "Unarchiving…" : "Unarchive"}
                </Button>
              </Td>
            ) : null}
          </tr>
        ))}
      </TBody>
    </Table>
  );
}

export default function WorkflowsPage() {
  const { project, workflows, templates } = useLoaderData<typeof loader>();
  const trpc = useTRPC();
  const revalidator = useRevalidator();
  const [creating, setCreating] = useState(false);
  const [showArchived, setShowArchived] = useState(false);
  const unarchive = useMutation(
    trpc.workflows.update.mutationOptions({ onSuccess: () => revalidator.revalidate() }),
  );
  const live = workflows.filter((workflow) => workflow.archivedAt === null);
  const archived = workflows.filter((workflow) => workflow.archivedAt !== null);
  return (
    <div className="space-y-6">
      <div className="flex flex-wrap items-end justify-between gap-4">
        <div className="min-w-0">
          <Breadcrumb
            items={[
              { to: "/projects", label: "Projects" },
              { to: `/projects/${project.id}`, label: project.name, truncate: "max-w-64" },
            ]}
          />
          <h1 className="mt-0.5 text-2xl font-semibold tracking-tight">Workflows</h1>
          <p className="mt-1 text-sm text-zinc-600 dark:text-zinc-400">
            Chains of model calls, templates, commands and the coding agent, run on this project. Every save
            is a version.
          </p>
        </div>
        {live.length > 0 || archived.length > 0 ? (
          <Button onClick={() => setCreating(true)}>New workflow</Button>
        ) : null}
      </div>

      {unarchive.error ? <FormAlert>{errorMessage(unarchive.error)}</FormAlert> : null}

      {live.length === 0 ? (
        <EmptyState
          testId="workflows-empty"
          icon={
            <>
              <rect x="3" y="4" width="6" height="5" rx="1" />
              <rect x="15" y="15" width="6" height="5" rx="1" />
              <path d="M6 9v4a2 2 0 0 0 2 2h7" />
              <path d="M13 13l2 2-2 2" />
            </>
          }
          title={archived.length > 0 ? "No active workflows" : "Automate your first task"}
          actions={
            <Button className="mt-5" onClick={() => setCreating(true)}>
              New workflow
            </Button>
          }
        >
          A workflow is a list of steps: a model call that plans, a command that runs the tests, the agent
          that changes the code. Steps pass their outputs to the next with{" "}
          <code className="rounded bg-zinc-100 px-1 font-mono text-[13px] dark:bg-zinc-800">
            {"{{steps.plan.output}}"}
          </code>
          . Start from a template or from scratch.
        </EmptyState>
      ) : (
        <WorkflowTable projectId={project.id} workflows={live} label="Workflows" />
      )}

      {archived.length > 0 ? (
        <section className="space-y-3">
          <button
            type="button"
            aria-expanded={showArchived}
            onClick={() => setShowArchived(!showArchived)}
            className="text-sm font-medium text-zinc-600 hover:text-zinc-900 hover:underline dark:text-zinc-400 dark:hover:text-zinc-100"
          >
            {showArchived ? "Hide" : "Show"} archived ({archived.length})
          </button>
          {showArchived ? (
            <WorkflowTable
              projectId={project.id}
              workflows={archived}
              label="Archived workflows"
              onUnarchive={(id) => unarchive.mutate({ id, archived: false })}
              unarchiving={unarchive.isPending ? (unarchive.variables?.id ?? null) : null}
            />
          ) : null}
        </section>
      ) : null}

      <NewWorkflowDialog
        open={creating}
        onOpenChange={setCreating}
        projectId={project.id}
        templates={templates}
      />
    </div>
  );
}

export function ErrorBoundary() {
  return (
    <NotFoundBoundary
      notFound="Project not found"
      failed="The workflows could not be loaded"
      back={{ to: "/projects", label: "All projects" }}
    />
  );
}
