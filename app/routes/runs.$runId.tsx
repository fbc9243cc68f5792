import type { LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { Link, useLoaderData, useNavigate, useNavigation, useRevalidator } from "@remix-run/react";
import { useMutation } from "@tanstack/react-query";
import { type ReactNode, useEffect, useMemo, useRef, useState } from "react";
import { formatCount } from "#app/components/charts/format.ts";
import { formatElapsed } from "#app/components/runs/format.ts";
import { RunResults } from "#app/components/runs/run-results.tsx";
import { mergeRun, type PlannedStep, type RunSnapshot } from "#app/components/runs/run-state.ts";
import { ConnectionIndicator, RunStatusBadge } from "#app/components/runs/run-status.tsx";
import { useRunEvents } from "#app/components/runs/use-run-events.ts";
import { Button } from "#app/components/ui/button.tsx";
import { Card } from "#app/components/ui/card.tsx";
import { FormAlert } from "#app/components/ui/field.tsx";
import { NotFoundBoundary } from "#app/components/ui/not-found-boundary.tsx";
import { DateTime } from "#app/components/ui/section.tsx";
import { or404 } from "#app/lib/not-found.server.ts";
import { formatMicros } from "#app/modules/ai/ai.types.ts";
import { requireUser } from "#app/modules/auth/web.server.ts";
import { getProject } from "#app/modules/projects/index.server.ts";
import { getRun } from "#app/modules/runs/index.server.ts";
import { isTerminalStatus } from "#app/modules/runs/run-events.types.ts";
import { getVersion } from "#app/modules/workflows/index.server.ts";
import { useTRPC } from "#app/trpc/client.ts";

export const meta: MetaFunction<typeof loader> = ({ data }) => [
  { title: data ? `${data.run.workflowName} run · Runs · Agentry` : "Run · Agentry" },
];

export async function loader({ context, request, params }: LoaderFunctionArgs) {
  const auth = requireUser(context, request);
  const deps = { db: context.db };
  const run = await or404(getRun({ userId: auth.userId, runId: params.runId ?? "" }, deps), "Run not found");
  // The pinned version lists every step (pending ones too) with its name; the project gives the breadcrumb.
  const [version, project] = await Promise.all([
    getVersion({ userId: auth.userId, workflowId: run.workflowId, number: run.versionNumber }, deps).catch(
      () => null,
    ),
    getProject({ userId: auth.userId, projectId: run.projectId }, deps).catch(() => null),
  ]);
  const plan: PlannedStep[] = (version?.definition.steps ?? []).map((step) => ({
    id: step.id,
    type: step.type,
    ...(step.name ? { name: step.name } : {}),
    ...("model" in step ? { model: step.model } : {}),
  }));
  return { run, plan, project: project ? { id: project.id, name: project.name } : null };
}

type Data = ReturnType<typeof useLoaderData<typeof loader>>;

const RETRYABLE = new Set(["failed", "cancelled", "dead"]);

/** The clock, ticking every `ms` while `active`; null until mounted (the server has no "now" to agree on). */
function useNow(active: boolean, ms = 1000) {
  const [now, setNow] = useState<number | null>(null);
  useEffect(() => {
    setNow(Date.now());
    if (!active) return;
    const timer = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(timer);
  }, [active, ms]);
  return now;
}

function Stat({ label, children, testId }: { label: string; children: ReactNode; testId?: string }) {
  return (
    <div className="min-w-0">
      <dt className="text-xs font-medium uppercase tracking-wide text-zinc-500">{label}</dt>
      <dd className="mt-1 truncate text-lg font-semibold tabular-nums" data-testid={testId}>
        {children}
      </dd>
    </div>
  );
}

function RunView({ run, plan, project }: Data) {
  const trpc = useTRPC();
  const navigate = useNavigate();
  const revalidator = useRevalidator();
  const { state: live, connection, error: connectionError } = useRunEvents(run.id);
  const snapshot: RunSnapshot = run;
  const view = useMemo(() => mergeRun(snapshot, live, plan), [snapshot, live, plan]);
  const terminal = isTerminalStatus(view.status);
  const now = useNow(view.status === "running");

  // Steps that started or finished, usage and the end: read the run again for what events do not carry
  // (rendered inputs, per-step usage, final totals). Debounced: a burst of events costs one read.
  const behind = live.structureSeq > run.lastEventSeq;
  const revalidate = useRef(revalidator.revalidate);
  revalidate.current = revalidator.revalidate;
  const navigation = useNavigation();
  // biome-ignore lint/correctness/useExhaustiveDependencies: structureSeq restarts the debounce
  useEffect(() => {
    // Never on top of another load: a second one aborts the first.
    if (!behind || revalidator.state !== "idle" || navigation.state !== "idle") return;
    const timer = setTimeout(() => revalidate.current(), 250);
    return () => clearTimeout(timer);
  }, [behind, live.structureSeq, revalidator.state, navigation.state]);

  // No revalidate here: the cancelled status arrives as an event, which reads the run again (a second
  // revalidation on top of that one would abort it).
  const cancel = useMutation(trpc.runs.cancel.mutationOptions());
  const retry = useMutation(
    trpc.runs.retry.mutationOptions({ onSuccess: ({ runId }) => navigate(`/runs/${runId}`) }),
  );
  const rerun = useMutation(
    trpc.runs.rerun.mutationOptions({ onSuccess: ({ runId }) => navigate(`/runs/${runId}`) }),
  );
  const busy = cancel.isPending || retry.isPending || rerun.isPending;
  const actionError = cancel.error ?? retry.error ?? rerun.error;
  const cancelling = !terminal && (run.cancelRequestedAt !== null || cancel.isSuccess);

  const elapsed =
    view.durationMs ??
    (view.status === "running" && view.startedAt && now !== null
      ? now - new Date(view.startedAt).getTime()
      : null);
  const current = view.steps.find((step) => step.stepId === view.currentStepId);
  // A model reports usage when its call ends; until then, estimate what is streaming (~4 characters a token).
  const streamingTokens = view.steps
    .filter(
      (step) =>
        (step.type === "llm" || step.type === "agent") &&
        step.status === "running" &&
        step.usage.tokensOut === 0 &&
        step.text !== "",
    )
    .reduce((sum, step) => sum + Math.ceil(step.text.length / 4), 0);
  const workflowUrl = `/projects/${run.projectId}/workflows/${run.workflowId}`;

  return (
    <div className="space-y-6">
      <div className="flex flex-wrap items-start justify-between gap-4">
        <div className="min-w-0">
          <nav aria-label="Breadcrumb" className="text-sm text-zinc-500">
            <Link to="/runs" className="hover:text-zinc-900 hover:underline dark:hover:text-zinc-100">
              Runs
            </Link>
            {project ? (
              <>
                <span aria-hidden="true"> / </span>
                <Link
                  to={`/runs?projectId=${project.id}`}
                  className="hover:text-zinc-900 hover:underline dark:hover:text-zinc-100"
                >
                  {project.name}
                </Link>
              </>
            ) : null}
            <span aria-hidden="true"> /</span>
          </nav>
          <div className="mt-0.5 flex flex-wrap items-center gap-x-3 gap-y-1">
            <h1 className="min-w-0 truncate text-2xl font-semibold tracking-tight">
              <Link to={workflowUrl} className="hover:underline" data-testid="workflow-link">
                {run.workflowName}
              </Link>{" "}
              <span className="text-lg font-medium text-zinc-500">v{run.versionNumber}</span>
            </h1>
            <RunStatusBadge status={view.status} size="md" testId="run-status" />
            <ConnectionIndicator state={connection} error={connectionError} />
          </div>
          <p className="mt-1 text-sm text-zinc-600 dark:text-zinc-400">
            Queued <DateTime value={run.createdAt} />
            {run.attempt > 1 ? <> · attempt {run.attempt}</> : null}
            {run.retryOfRunId ? (
              <>
                {" "}
                · retry of{" "}
                <Link
                  to={`/runs/${run.retryOfRunId}`}
                  className="underline hover:text-zinc-900 dark:hover:text-zinc-100"
                >
                  an earlier run
                </Link>
              </>
            ) : null}
          </p>
        </div>
        <div className="flex shrink-0 flex-wrap items-center gap-2">
          {!terminal ? (
            <Button
              variant="secondary"
              disabled={busy || cancelling}
              onClick={() => cancel.mutate({ id: run.id })}
            >
              {cancelling ? "Cancelling…" : cancel.isPending ? "Cancelling…" : "Cancel"}
            </Button>
          ) : null}
          {terminal && RETRYABLE.has(view.status) ? (
            <Button disabled={busy} onClick={() => retry.mutate({ id: run.id })}>
              {retry.isPending ? "Retrying…" : "Retry from failed step"}
            </Button>
          ) : null}
          {terminal ? (
            <Button
              variant={RETRYABLE.has(view.status) ? "secondary" : "primary"}
              disabled={busy}
              onClick={() => rerun.mutate({ id: run.id })}
            >
              {rerun.isPending ? "Starting…" : "Re-run"}
            </Button>
          ) : null}
        </div>
      </div>

      {actionError ? <FormAlert>{actionError.message}</FormAlert> : null}

      {view.error ? (
        <div
          role="alert"
          className="rounded-lg border border-red-200 bg-red-50 px-4 py-3 text-sm text-red-900 dark:border-red-900/60 dark:bg-red-950/40 dark:text-red-100"
          data-testid="run-error"
        >
          <p className="font-semibold">
            {view.status === "dead" ? "The run died" : "The run failed"}
            {view.error.stepId ? <> at step {view.error.stepId}</> : null}
            <span className="ml-2 rounded bg-red-100 px-1.5 py-0.5 font-mono text-xs font-medium dark:bg-red-900/50">
              {view.error.code}
            </span>
          </p>
          <p className="mt-1 break-words">{view.error.message}</p>
        </div>
      ) : null}

      <Card>
        <dl className="grid grid-cols-2 gap-4 sm:grid-cols-4">
          <Stat label={view.status === "running" ? "Elapsed" : "Duration"} testId="run-elapsed">
            {view.status === "queued" ? "Queued" : formatElapsed(elapsed)}
          </Stat>
          <Stat label="Steps" testId="run-progress">
            {view.progress.done}/{view.progress.total}
            {current ? (
              <span className="ml-2 truncate text-sm font-normal text-zinc-500">now: {current.name}</span>
            ) : null}
          </Stat>
          <Stat label="Tokens" testId="run-tokens">
            {streamingTokens > 0 ? "~" : ""}
            {formatCount(view.usage.tokensIn + view.usage.tokensOut + streamingTokens)}
            <span className="ml-2 text-sm font-normal text-zinc-500">
              {streamingTokens > 0
                ? `incl. ~${formatCount(streamingTokens)} streaming`
                : `${formatCount(view.usage.tokensIn)} in · ${formatCount(view.usage.tokensOut)} out`}
            </span>
          </Stat>
          <Stat label="Cost" testId="run-cost">
            {formatMicros(view.usage.costMicros)}
          </Stat>
        </dl>
      </Card>

      <RunResults
        runId={run.id}
        projectId={run.projectId}
        run={view}
        logs={live.logs}
        droppedLogs={live.droppedLogs}
      />
    </div>
  );
}

export default function RunPage() {
  const data = useLoaderData<typeof loader>();
  // Another run is another page: a fresh stream and state.
  return <RunView key={data.run.id} {...data} />;
}

export function ErrorBoundary() {
  return (
    <NotFoundBoundary
      notFound="Run not found"
      failed="This run could not be opened"
      back={{ to: "/runs", label: "All runs" }}
    />
  );
}
