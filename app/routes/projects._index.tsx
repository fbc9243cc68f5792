import {
  type ActionFunctionArgs,
  data,
  type LoaderFunctionArgs,
  type MetaFunction,
  redirect,
} from "@remix-run/node";
import { Await, Link, useLoaderData } from "@remix-run/react";
import { Suspense, useState } from "react";
import { z } from "zod";
import { CreateProjectDialog } from "#app/components/projects/project-dialogs.tsx";
import { ProjectTable, ProjectTableSkeleton } from "#app/components/projects/project-list.tsx";
import { Button } from "#app/components/ui/button.tsx";
import { EmptyState } from "#app/components/ui/empty-state.tsx";
import { FormAlert } from "#app/components/ui/field.tsx";
import { PageHeader } from "#app/components/ui/page-header.tsx";
import { fieldErrors } from "#app/lib/forms.ts";
import { formFailure, requireUser } from "#app/modules/auth/web.server.ts";
import {
  createProject,
  deleteProject,
  getProject,
  listProjects,
  updateProject,
  ZCreateProjectInput,
  ZUpdateProjectInput,
} from "#app/modules/projects/index.server.ts";

export const meta: MetaFunction = () => [{ title: "Projects · Agentry" }];

export async function loader({ context, request }: LoaderFunctionArgs) {
  const auth = requireUser(context, request);
  const showArchived = new URL(request.url).searchParams.get("archived") === "1";
  // Not awaited: the page paints at once and the list (with its cost and run statistics) streams in.
  const projects = listProjects({ userId: auth.userId, includeArchived: showArchived }, { db: context.db });
  // Mark the rejection handled now; <Await> still receives it. Otherwise a failure before Remix attaches
  // its own handler would be an unhandled rejection in the server process.
  projects.catch(() => undefined);
  return { showArchived, projects };
}

const ZIntent = z.discriminatedUnion("intent", [
  z.object({ intent: z.literal("create"), name: z.string(), description: z.string().optional() }),
  z.object({ intent: z.literal("update"), id: z.uuid(), name: z.string(), description: z.string() }),
  z.object({ intent: z.literal("archive"), id: z.uuid() }),
  z.object({ intent: z.literal("unarchive"), id: z.uuid() }),
  z.object({
    intent: z.literal("delete"),
    id: z.uuid(),
    confirmName: z.string(),
    redirectTo: z.literal("/projects").optional(),
  }),
]);

type Result = {
  ok: boolean;
  intent: string;
  error?: string | null;
  errors?: Record<string, string | undefined>;
};

/**
 * Every project change the UI makes: create (then open it), edit details, archive, unarchive, delete.
 * Dialogs elsewhere (the project page) post here too.
 */
export async function action({ context, request }: ActionFunctionArgs) {
  const auth = requireUser(context, request);
  const parsed = ZIntent.safeParse(Object.fromEntries(await request.formData()));
  if (!parsed.success) return data<Result>({ ok: false, intent: "unknown", error: "Unknown request" }, 400);
  const input = parsed.data;
  const deps = { db: context.db };
  const invalid = (error: z.ZodError) =>
    data<Result>({ ok: false, intent: input.intent, errors: fieldErrors(error) }, 400);
  try {
    switch (input.intent) {
      case "create": {
        const fields = ZCreateProjectInput.safeParse({
          name: input.name,
          description: input.description?.trim() ? input.description : undefined,
        });
        if (!fields.success) return invalid(fields.error);
        const project = await createProject({ userId: auth.userId, ...fields.data }, deps);
        return redirect(`/projects/${project.id}`);
      }
      case "update": {
        const fields = ZUpdateProjectInput.safeParse({
          id: input.id,
          name: input.name,
          description: input.description.trim() ? input.description : null,
        });
        if (!fields.success) return invalid(fields.error);
        await updateProject({ userId: auth.userId, ...fields.data }, deps);
        return data<Result>({ ok: true, intent: input.intent });
      }
      case "archive":
      case "unarchive":
        await updateProject(
          { userId: auth.userId, id: input.id, archived: input.intent === "archive" },
          deps,
        );
        return data<Result>({ ok: true, intent: input.intent });
      case "delete": {
        // The typed name is checked here as well: the dialog's disabled button is a convenience, not a guard.
        const project = await getProject({ userId: auth.userId, projectId: input.id }, deps);
        if (input.confirmName !== project.name) {
          return data<Result>(
            {
              ok: false,
              intent: input.intent,
              errors: { confirmName: "The name does not match" },
              error: "Type the project's exact name to delete it.",
            },
            400,
          );
        }
        await deleteProject({ userId: auth.userId, projectId: input.id }, deps);
        if (input.redirectTo) return redirect(input.redirectTo);
        return data<Result>({ ok: true, intent: input.intent });
      }
    }
  } catch (error) {
    const { message, status } = formFailure(error);
    return data<Result>({ ok: false, intent: input.intent, error: message }, status);
  }
}

/** No project to list: say what a project is for and what to do next. */
function EmptyProjects({ archivedHidden, onCreate }: { archivedHidden: boolean; onCreate: () => void }) {
  return (
    <EmptyState
      testId="projects-empty"
      icon={
        <>
          <path d="M3 7a2 2 0 0 1 2-2h4l2 2h8a2 2 0 0 1 2 2v8a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2z" />
          <path d="M12 11v5M9.5 13.5h5" />
        </>
      }
      title="Bring your first project"
      textWidth="max-w-md"
      actions={
        <>
          <Button className="mt-5" onClick={onCreate}>
            New project
          </Button>
          {archivedHidden ? (
            <p className="mt-4 text-xs text-zinc-500">
              Archived projects are hidden.{" "}
              <Link
                to="/projects?archived=1"
                className="font-medium text-brand-700 hover:underline dark:text-brand-100"
              >
                Show them
              </Link>
            </p>
          ) : null}
        </>
      }
    >
      Create a project, then import a .zip of your code or drop a folder into it. You can read and edit every
      file in the browser, and every save is kept as a version.
    </EmptyState>
  );
}

function ListError() {
  return (
    <FormAlert>
      The project list could not be loaded. Reload the page to try again; if it keeps failing, the server log
      has the details.
    </FormAlert>
  );
}

export default function ProjectsPage() {
  const { projects, showArchived } = useLoaderData<typeof loader>();
  const [creating, setCreating] = useState(false);
  return (
    <div className="space-y-6">
      <PageHeader
        title="Projects"
        description="The codebases your agents work on: their files, runs and spending."
        actions={
          <div className="flex items-center gap-2">
            <Button variant="ghost" asChild>
              <Link to={showArchived ? "/projects" : "/projects?archived=1"} preventScrollReset>
                {showArchived ? "Hide archived" : "Show archived"}
              </Link>
            </Button>
            <Button onClick={() => setCreating(true)}>New project</Button>
          </div>
        }
      />
      <Suspense fallback={<ProjectTableSkeleton />}>
        <Await resolve={projects} errorElement={<ListError />}>
          {(list) =>
            list.length === 0 ? (
              <EmptyProjects archivedHidden={!showArchived} onCreate={() => setCreating(true)} />
            ) : (
              <ProjectTable projects={list} />
            )
          }
        </Await>
      </Suspense>
      <CreateProjectDialog open={creating} onOpenChange={setCreating} />
    </div>
  );
}
