import type { LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { Await, Link, useFetcher, useLoaderData } from "@remix-run/react";
import { Suspense, useEffect, useRef, useState } from "react";
import { QuickTaskPanel } from "#app/components/ai/quick-task.tsx";
import { AgentTaskDialog } from "#app/components/projects/agent-task-dialog.tsx";
import { exportUrl } from "#app/components/projects/api.ts";
import { DeleteProjectDialog, EditProjectDialog } from "#app/components/projects/project-dialogs.tsx";
import { Workspace } from "#app/components/projects/workspace.tsx";
import { ActionsMenu, ActionsMenuItem, ActionsMenuSeparator } from "#app/components/ui/actions-menu.tsx";
import { Button } from "#app/components/ui/button.tsx";
import { Skeleton } from "#app/components/ui/card.tsx";
import { FormAlert } from "#app/components/ui/field.tsx";
import { NotFoundBoundary } from "#app/components/ui/not-found-boundary.tsx";
import { or404 } from "#app/lib/not-found.server.ts";
import { requireUser } from "#app/modules/auth/web.server.ts";
import { getProject, listFiles } from "#app/modules/projects/index.server.ts";

export const meta: MetaFunction<typeof loader> = ({ data }) => [
  { title: data ? `${data.project.name} · Projects · Agentry` : "Project · Agentry" },
];

export async function loader({ context, request, params }: LoaderFunctionArgs) {
  const auth = requireUser(context, request);
  const projectId = params.projectId ?? "";
  const deps = { db: context.db };
  const project = await or404(getProject({ userId: auth.userId, projectId }, deps), "Project not found");
  // The tree streams in after the header (a big project's list is the slow part).
  const files = listFiles({ userId: auth.userId, projectId }, deps);
  files.catch(() => undefined);
  return {
    project: {
      id: project.id,
      name: project.name,
      description: project.description,
      archivedAt: project.archivedAt,
      fileCount: project.fileCount,
    },
    files,
    initialPath: new URL(request.url).searchParams.get("file"),
  };
}

function WorkspaceSkeleton() {
  return (
    <div
      className="flex h-[calc(100vh-14rem)] min-h-[30rem] overflow-hidden rounded-lg border border-zinc-200 dark:border-zinc-800"
      role="status"
      aria-label="Loading files"
    >
      <div className="w-64 space-y-2.5 border-r border-zinc-200 p-3 dark:border-zinc-800">
        {["w-40", "w-28", "w-36", "w-24", "w-32", "w-20"].map((w) => (
          <Skeleton key={w} className={`block h-4 ${w}`} />
        ))}
      </div>
      <div className="flex-1" />
    </div>
  );
}

function ProjectMenu({
  project,
  onEdit,
  onDelete,
}: {
  project: { id: string; name: string; archivedAt: Date | string | null };
  onEdit: () => void;
  onDelete: () => void;
}) {
  const fetcher = useFetcher();
  const archived = Boolean(project.archivedAt);
  return (
    <ActionsMenu label="More project actions">
      <ActionsMenuItem onSelect={onEdit}>Edit details…</ActionsMenuItem>
      <ActionsMenuItem
        onSelect={() =>
          fetcher.submit(
            { intent: archived ? "unarchive" : "archive", id: project.id },
            { method: "post", action: "/projects?index" },
          )
        }
      >
        {archived ? "Unarchive" : "Archive"}
      </ActionsMenuItem>
      <ActionsMenuSeparator />
      <ActionsMenuItem danger onSelect={onDelete}>
        Delete…
      </ActionsMenuItem>
    </ActionsMenu>
  );
}

function ProjectView({ project, files, initialPath }: ReturnType<typeof useLoaderData<typeof loader>>) {
  // The first streamed list seeds the workspace; after that the tree refreshes itself. Revalidations
  // (after editing the details) bring a new promise that must not suspend the editor again.
  const firstFiles = useRef(files).current;
  const [importOpen, setImportOpen] = useState(false);
  const [editing, setEditing] = useState(false);
  const [deleting, setDeleting] = useState(false);
  // Mounted on first use only: its queries must not re-render this page while the workspace hydrates.
  const [quickTask, setQuickTask] = useState<{ open: boolean; files: string[] } | null>(null);
  // Mounted on first use too (it loads the model list).
  const [agentTask, setAgentTask] = useState<boolean | null>(null);
  const openQuickTask = () => {
    // The workspace writes the open file into ?file= as it changes.
    const current = new URL(window.location.href).searchParams.get("file");
    setQuickTask({ open: true, files: current ? [current] : [] });
  };
  // Links elsewhere (the usage page's empty state) open the quick task with #quick-task.
  // biome-ignore lint/correctness/useExhaustiveDependencies: once, on arrival
  useEffect(() => {
    if (window.location.hash === "#quick-task") openQuickTask();
  }, []);
  return (
    <div className="space-y-4">
      <div className="flex flex-wrap items-start justify-between gap-4">
        <div className="min-w-0">
          <nav aria-label="Breadcrumb" className="text-sm text-zinc-500">
            <Link to="/projects" className="hover:text-zinc-900 hover:underline dark:hover:text-zinc-100">
              Projects
            </Link>
            <span aria-hidden="true"> /</span>
          </nav>
          <div className="mt-0.5 flex items-center gap-2">
            <h1 className="truncate text-2xl font-semibold tracking-tight">{project.name}</h1>
            {project.archivedAt ? (
              <span className="rounded-full border border-zinc-300 px-2 py-0.5 text-xs font-medium text-zinc-500 dark:border-zinc-700">
                Archived
              </span>
            ) : null}
          </div>
          {project.description ? (
            <p className="mt-1 max-w-3xl text-sm text-zinc-600 dark:text-zinc-400">{project.description}</p>
          ) : null}
        </div>
        <div className="flex shrink-0 items-center gap-2">
          <Button onClick={() => setAgentTask(true)} aria-haspopup="dialog">
            Agent task
          </Button>
          <Button variant="secondary" onClick={openQuickTask}>
            Quick task
          </Button>
          <Button variant="secondary" asChild>
            <Link to={`/projects/${project.id}/workflows`}>Workflows</Link>
          </Button>
          <Button variant="secondary" onClick={() => setImportOpen(true)}>
            Import
          </Button>
          <Button variant="secondary" asChild>
            <a href={exportUrl(project.id)} download>
              Export .zip
            </a>
          </Button>
          <ProjectMenu project={project} onEdit={() => setEditing(true)} onDelete={() => setDeleting(true)} />
        </div>
      </div>
      <Suspense fallback={<WorkspaceSkeleton />}>
        <Await
          resolve={firstFiles}
          errorElement={<FormAlert>The files could not be loaded. Reload the page to try again.</FormAlert>}
        >
          {(list) => (
            <Workspace
              projectId={project.id}
              initialFiles={list}
              initialPath={initialPath}
              importOpen={importOpen}
              onImportOpenChange={setImportOpen}
            />
          )}
        </Await>
      </Suspense>
      {quickTask ? (
        <QuickTaskPanel
          projectId={project.id}
          open={quickTask.open}
          onOpenChange={(open) => setQuickTask((current) => current && { ...current, open })}
          initialFiles={quickTask.files}
        />
      ) : null}
      {agentTask !== null ? (
        <AgentTaskDialog projectId={project.id} open={agentTask} onOpenChange={setAgentTask} />
      ) : null}
      <EditProjectDialog project={editing ? project : null} onClose={() => setEditing(false)} />
      <DeleteProjectDialog
        project={deleting ? project : null}
        onClose={() => setDeleting(false)}
        redirectTo="/projects"
      />
    </div>
  );
}

export default function ProjectPage() {
  const data = useLoaderData<typeof loader>();
  // A different project is a different page: fresh state, drafts and tree.
  return <ProjectView key={data.project.id} {...data} />;
}

export function ErrorBoundary() {
  return (
    <NotFoundBoundary
      notFound="Project not found"
      failed="This project could not be opened"
      back={{ to: "/projects", label: "All projects" }}
    />
  );
}
