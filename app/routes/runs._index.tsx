import type { LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { Await, Form, Link, useLoaderData, useNavigation, useRevalidator, useSubmit } from "@remix-run/react";
import clsx from "clsx";
import { Suspense, useEffect, useId, useRef, useState } from "react";
import { formatCount } from "#app/components/charts/format.ts";
import { formatElapsed } from "#app/components/runs/format.ts";
import { RunStatusBadge } from "#app/components/runs/run-status.tsx";
import { Button } from "#app/components/ui/button.tsx";
import { EmptyState } from "#app/components/ui/empty-state.tsx";
import { FormAlert } from "#app/components/ui/field.tsx";
import { PageHeader } from "#app/components/ui/page-header.tsx";
import { DateTime } from "#app/components/ui/section.tsx";
import { Table, TableSkeleton, TBody, Td, THead, Th } from "#app/components/ui/table.tsx";
import { isAppError } from "#app/lib/app-error.ts";
import { isUuid } from "#app/lib/use-case.ts";
import { formatMicros } from "#app/modules/ai/ai.types.ts";
import { requireUser } from "#app/modules/auth/web.server.ts";
import { listProjects } from "#app/modules/projects/index.server.ts";
import { listRuns } from "#app/modules/runs/index.server.ts";
import { isTerminalStatus, RUN_STATUSES, type RunStatusValue } from "#app/modules/runs/run-events.types.ts";
import type { RunPage } from "#app/modules/runs/runs.types.ts";
import { getWorkflow, listWorkflows } from "#app/modules/workflows/index.server.ts";
import { useTRPCClient } from "#app/trpc/client.ts";

export const meta: MetaFunction = () => [{ title: "Runs · Agentry" }];

const PAGE_SIZE = 25;
/** While a listed run is queued or running, the list refreshes this often. */
const REFRESH_MS = 4_000;

type Filters = { projectId: string | null; workflowId: string | null; status: RunStatusValue | null };

export async function loader({ context, request }: LoaderFunctionArgs) {
  const auth = requireUser(context, request);
  const deps = { db: context.db };
  const params = new URL(request.url).searchParams;
  const notices: string[] = [];
  const pick = (name: string) => {
    const value = params.get(name)?.trim() || null;
    if (value !== null && !isUuid(value)) {
      notices.push(`Ignored the ${name} filter: "${String(value).slice(0, 60)}" is not an id.`);
      return null;
    }
    return value;
  };
  let projectId = pick("projectId");
  let workflowId = pick("workflowId");
  const rawStatus = params.get("status");
  const status = (RUN_STATUSES as readonly string[]).includes(rawStatus ?? "")
    ? (rawStatus as RunStatusValue)
    : null;
  if (rawStatus && !status)
    notices.push(`Ignored the status filter: "${rawStatus.slice(0, 30)}" is not a status.`);

  // A workflow belongs to one project: /runs?workflowId=… alone selects that project too.
  if (workflowId) {
    const workflow = await getWorkflow({ userId: auth.userId, workflowId }, deps).catch(() => null);
    if (!workflow || (projectId && workflow.projectId !== projectId)) {
      notices.push("Ignored the workflow filter: that workflow was not found in your projects.");
      workflowId = null;
    } else projectId = workflow.projectId;
  }
  const projects = (await listProjects({ userId: auth.userId, includeArchived: true }, deps)).map((p) => ({
    id: p.id,
    name: p.name,
  }));
  if (projectId && !projects.some((p) => p.id === projectId)) {
    notices.push("Ignored the project filter: that project was not found.");
    projectId = null;
    workflowId = null;
  }
  const workflows = projectId
    ? (await listWorkflows({ userId: auth.userId, projectId, includeArchived: true }, deps)).map((w) => ({
        id: w.id,
        name: w.name,
      }))
    : [];
  const filters: Filters = { projectId, workflowId, status };
  // Not awaited: the filters paint at once and the table streams in.
  const page = listRuns(
    {
      userId: auth.userId,
      ...(projectId ? { projectId } : {}),
      ...(workflowId ? { workflowId } : {}),
      ...(status ? { status } : {}),
      limit: PAGE_SIZE,
    },
    deps,
  ).catch((error: unknown) => {
    if (isAppError(error)) return { items: [], nextCursor: null, error: error.message };
    throw error;
  });
  page.catch(() => undefined);
  return { filters, projects, workflows, notices, page };
}

type Data = ReturnType<typeof useLoaderData<typeof loader>>;
type Row = Omit<RunPage["items"][number], "createdAt" | "startedAt" | "finishedAt"> & {
  createdAt: Date | string;
  startedAt: Date | string | null;
  finishedAt: Date | string | null;
};

const selectClass =
  "block h-9 w-full rounded-md border border-zinc-300 bg-white px-3 text-sm text-zinc-900 shadow-xs disabled:bg-zinc-50 disabled:text-zinc-500 dark:border-zinc-700 dark:bg-zinc-900 dark:text-zinc-100 dark:disabled:bg-zinc-800";

function FilterBar({ filters, projects, workflows }: Pick<Data, "filters" | "projects" | "workflows">) {
  const submit = useSubmit();
  const id = useId();
  const form = useRef<HTMLFormElement>(null);
  const active = Boolean(filters.projectId || filters.workflowId || filters.status);
  // Empty selects are left out of the URL: /runs?status=failed, not /runs?projectId=&workflowId=&status=failed.
  const apply = (change?: (data: FormData) => void) => {
    if (!form.current) return;
    const data = new FormData(form.current);
    change?.(data);
    for (const [key, value] of [...data.entries()]) if (value === "") data.delete(key);
    submit(data, { method: "get", action: "/runs", preventScrollReset: true });
  };
  return (
    <Form
      ref={form}
      method="get"
      action="/runs"
      className="flex flex-wrap items-end gap-3"
      aria-label="Filter runs"
      onSubmit={(event) => {
        event.preventDefault();
        apply();
      }}
    >
      <div className="w-56 space-y-1.5">
        <label
          htmlFor={`${id}-project`}
          className="block text-sm font-medium text-zinc-800 dark:text-zinc-200"
        >
          Project
        </label>
        <select
          id={`${id}-project`}
          name="projectId"
          className={selectClass}
          defaultValue={filters.projectId ?? ""}
          // The workflow list belongs to the old project.
          onChange={() => apply((data) => data.delete("workflowId"))}
        >
          <option value="">All projects</option>
          {projects.map((project) => (
            <option key={project.id} value={project.id}>
              {project.name}
            </option>
          ))}
        </select>
      </div>
      <div className="w-56 space-y-1.5">
        <label
          htmlFor={`${id}-workflow`}
          className="block text-sm font-medium text-zinc-800 dark:text-zinc-200"
        >
          Workflow
        </label>
        <select
          id={`${id}-workflow`}
          name="workflowId"
          className={selectClass}
          defaultValue={filters.workflowId ?? ""}
          disabled={!filters.projectId}
          onChange={() => apply()}
        >
          <option value="">{filters.projectId ? "All workflows" : "Choose a project first"}</option>
          {workflows.map((workflow) => (
            <option key={workflow.id} value={workflow.id}>
              {workflow.name}
            </option>
          ))}
        </select>
      </div>
      <div className="w-44 space-y-1.5">
        <label
          htmlFor={`${id}-status`}
          className="block text-sm font-medium text-zinc-800 dark:text-zinc-200"
        >
          Status
        </label>
        <select
          id={`${id}-status`}
          name="status"
          className={selectClass}
          defaultValue={filters.status ?? ""}
          onChange={() => apply()}
        >
          <option value="">Any status</option>
          {RUN_STATUSES.map((status) => (
            <option key={status} value={status}>
              {`${status.charAt(0).toUpperCase()}${status.slice(1)}`}
            </option>
          ))}
        </select>
      </div>
      {/* Without JavaScript the selects do not submit themselves. */}
      <noscript>
        <Button type="submit" variant="secondary">
          Apply
        </Button>
      </noscript>
      {active ? (
        <Button variant="ghost" asChild>
          <Link to="/runs" preventScrollReset>
            Clear filters
          </Link>
        </Button>
      ) : null}
    </Form>
  );
}

function RunTableSkeleton() {
  return (
    <TableSkeleton
      label="Loading runs"
      rows={4}
      cells={["h-5 w-20", "h-4 w-44", "h-4 w-28", "h-4 w-36", "ml-auto h-4 w-14", "h-4 w-12"]}
    />
  );
}

function EmptyRuns({ filtered }: { filtered: boolean }) {
  return filtered ? (
    <EmptyState
      testId="runs-empty"
      padding="py-12"
      icon={
        <>
          <circle cx="11" cy="11" r="6" />
          <path d="m20 20-4.5-4.5" />
        </>
      }
      title="No runs match these filters"
      actions={
        <Button variant="secondary" className="mt-5" asChild>
          <Link to="/runs">Clear filters</Link>
        </Button>
      }
    >
      Try another status, or all the workflows of the project.
    </EmptyState>
  ) : (
    <EmptyState
      testId="runs-empty"
      icon={<path d="M5 4v16l14-8z" />}
      title="No runs yet"
      actions={
        <Button className="mt-5" asChild>
          <Link to="/projects">Open a project</Link>
        </Button>
      }
    >
      A run executes one version of a workflow: its steps, streamed live, with their output, tokens and cost.
      Start one from a workflow in one of your projects; every run lands here.
    </EmptyState>
  );
}

function RunTable({
  first,
  filters,
  projectNames,
}: {
  first: RunPage & { error?: string };
  filters: Filters;
  projectNames: Map<string, string>;
}) {
  const client = useTRPCClient();
  const revalidator = useRevalidator();
  // Pages after the first, loaded with "Load more"; the first page comes (and refreshes) from the loader.
  const [more, setMore] = useState<{ items: Row[]; nextCursor: string | null } | null>(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const seen = new Set<string>();
  const rows: Row[] = [];
  for (const row of [...(first.items as Row[]), ...(more?.items ?? [])]) {
    if (seen.has(row.id)) continue;
    seen.add(row.id);
    rows.push(row);
  }
  const nextCursor = more ? more.nextCursor : first.nextCursor;

  // Runs in flight: refresh the first page now and then so their status and totals move.
  const active = first.items.some((row) => !isTerminalStatus(row.status));
  const revalidate = useRef(revalidator);
  revalidate.current = revalidator;
  const navigation = useNavigation();
  const navigating = useRef(navigation.state);
  navigating.current = navigation.state;
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => {
      // Never on top of another load: a second one aborts the first.
      if (document.visibilityState !== "visible") return;
      if (revalidate.current.state !== "idle" || navigating.current !== "idle") return;
      revalidate.current.revalidate();
    }, REFRESH_MS);
    return () => clearInterval(timer);
  }, [active]);

  async function loadMore() {
    if (!nextCursor) return;
    setLoading(true);
    setError(null);
    try {
      const page = await client.runs.list.query({
        ...(filters.projectId ? { projectId: filters.projectId } : {}),
        ...(filters.workflowId ? { workflowId: filters.workflowId } : {}),
        ...(filters.status ? { status: filters.status } : {}),
        limit: PAGE_SIZE,
        cursor: nextCursor,
      });
      setMore((current) => ({
        items: [...(current?.items ?? []), ...page.items],
        nextCursor: page.nextCursor,
      }));
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : "The next runs could not be loaded.");
    } finally {
      setLoading(false);
    }
  }

  if (first.error) return <FormAlert>{first.error}</FormAlert>;
  if (rows.length === 0) {
    return <EmptyRuns filtered={Boolean(filters.projectId || filters.workflowId || filters.status)} />;
  }
  return (
    <div className="space-y-4">
      <Table aria-label="Runs">
        <THead>
          <Th>Status</Th>
          <Th>Workflow</Th>
          <Th>Project</Th>
          <Th>Started</Th>
          <Th align="right">Duration</Th>
          <Th align="right">Tokens</Th>
          <Th align="right">Cost</Th>
        </THead>
        <TBody>
          {rows.map((run) => (
            <tr
              key={run.id}
              className="bg-white hover:bg-zinc-50 dark:bg-zinc-950 dark:hover:bg-zinc-900/60"
              data-testid="run-row"
              data-status={run.status}
            >
              <Td>
                <RunStatusBadge status={run.status} />
              </Td>
              <Td>
                <Link
                  to={`/runs/${run.id}`}
                  className="font-medium text-zinc-900 hover:text-brand-700 hover:underline dark:text-zinc-100 dark:hover:text-brand-100"
                >
                  {run.workflowName}
                </Link>{" "}
                <span className="text-xs text-zinc-500">v{run.versionNumber}</span>
              </Td>
              <Td muted>
                <Link to={`/runs?projectId=${run.projectId}`} className="hover:underline">
                  {projectNames.get(run.projectId) ?? "Project"}
                </Link>
              </Td>
              <Td muted nowrap>
                <DateTime value={run.startedAt ?? run.createdAt} />
              </Td>
              <Td numeric muted nowrap>
                {run.status === "queued"
                  ? "queued"
                  : run.status === "running"
                    ? "running…"
                    : formatElapsed(run.durationMs)}
              </Td>
              <Td numeric muted>
                {formatCount(run.tokensIn + run.tokensOut)}
              </Td>
              <Td numeric nowrap>
                {formatMicros(run.costMicros)}
              </Td>
            </tr>
          ))}
        </TBody>
      </Table>
      {error ? <FormAlert>{error}</FormAlert> : null}
      <div className="flex items-center justify-between gap-4 text-sm text-zinc-500">
        <span aria-live="polite">
          {formatCount(rows.length)} run{rows.length === 1 ? "" : "s"} shown
        </span>
        {nextCursor ? (
          <Button variant="secondary" onClick={loadMore} disabled={loading}>
            {loading ? "Loading…" : "Load more"}
          </Button>
        ) : rows.length > PAGE_SIZE ? (
          <span>That is all of them.</span>
        ) : null}
      </div>
    </div>
  );
}

export default function RunsPage() {
  const { filters, projects, workflows, notices, page } = useLoaderData<typeof loader>();
  const navigation = useNavigation();
  const switching = navigation.state === "loading" && navigation.location.pathname === "/runs";
  const projectNames = new Map(projects.map((p) => [p.id, p.name]));
  const key = `${filters.projectId}|${filters.workflowId}|${filters.status}`;
  return (
    <div className="space-y-6">
      <PageHeader
        title="Runs"
        description="Every workflow run, newest first: its status, duration, tokens and cost."
      />
      {/* Keyed by the filters: the selects show what the URL says after back/forward too. */}
      <FilterBar key={key} filters={filters} projects={projects} workflows={workflows} />
      {notices.map((notice) => (
        <FormAlert key={notice}>{notice}</FormAlert>
      ))}
      <div aria-busy={switching} className={clsx("transition-opacity", switching && "opacity-60")}>
        {switching ? (
          <span role="status" className="sr-only">
            Loading runs
          </span>
        ) : null}
        <Suspense fallback={<RunTableSkeleton />}>
          <Await
            resolve={page}
            errorElement={<FormAlert>The runs could not be loaded. Reload the page to try again.</FormAlert>}
          >
            {(first) => <RunTable key={key} first={first} filters={filters} projectNames={projectNames} />}
          </Await>
        </Suspense>
      </div>
    </div>
  );
}
