import type { LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { useLoaderData } from "@remix-run/react";
import { useMutation, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Button } from "#app/components/ui/button.tsx";
import { Card, CardTitle, Skeleton, Stat } from "#app/components/ui/card.tsx";
import { requireUser } from "#app/modules/auth/web.server.ts";
import { getDatabaseInfo } from "#app/modules/system/get-database-info.server.ts";
import { sandboxView } from "#app/modules/system/sandbox-view.server.ts";
import { useTRPC } from "#app/trpc/client.ts";

export const meta: MetaFunction = () => [{ title: "System status · Agentry" }];

export async function loader({ context, request }: LoaderFunctionArgs) {
  requireUser(context, request);
  const [info, sandbox] = await Promise.all([
    getDatabaseInfo(context.db),
    context.sandbox?.().catch(() => null) ?? null,
  ]);
  return { ...info, sandbox: sandbox ? sandboxView(sandbox) : null };
}

function formatAge(date: Date, now: number) {
  const seconds = Math.max(0, Math.round((now - date.getTime()) / 1000));
  return seconds < 60 ? `${seconds}s ago` : `${Math.round(seconds / 60)}m ago`;
}

function DatabaseCard() {
  const info = useLoaderData<typeof loader>();
  return (
    <Card aria-labelledby="db-title">
      <CardTitle>
        <span id="db-title">Database</span>
      </CardTitle>
      <dl className="grid grid-cols-2 gap-4 sm:grid-cols-3">
        <Stat label="PostgreSQL" value={info.serverVersion} testId="db-version" />
        <Stat label="Migrations applied" value={info.migrationsApplied} testId="db-migrations" />
        <Stat label="Database" value={<span className="font-mono text-base">{info.database}</span>} />
      </dl>
    </Card>
  );
}

const SANDBOX_MODE_LABEL = {
  bwrap: "Isolated (bubblewrap)",
  unsafe: "UNSAFE: no isolation",
  unavailable: "Unavailable: commands refused",
} as const;

function SandboxCard() {
  const { sandbox } = useLoaderData<typeof loader>();
  return (
    <Card aria-labelledby="sandbox-title">
      <CardTitle>
        <span id="sandbox-title">Sandbox</span>
      </CardTitle>
      {sandbox ? (
        <>
          <dl className="grid grid-cols-2 gap-4 sm:grid-cols-3">
            <Stat
              label="Mode"
              value={
                <span
                  className={
                    sandbox.mode === "bwrap"
                      ? "text-emerald-700 dark:text-emerald-400"
                      : sandbox.mode === "unsafe"
                        ? "text-red-700 dark:text-red-400"
                        : "text-amber-700 dark:text-amber-400"
                  }
                >
                  {SANDBOX_MODE_LABEL[sandbox.mode]}
                </span>
              }
              testId="sandbox-mode"
            />
            <Stat label="bubblewrap" value={sandbox.bwrapVersion ?? "—"} testId="sandbox-bwrap" />
            <Stat
              label="cgroup limits"
              value={sandbox.cgroupLimits ? "On" : "Off (per-process limits)"}
              testId="sandbox-cgroups"
            />
          </dl>
          <p className="mt-4 text-sm text-zinc-600 dark:text-zinc-400">{sandbox.summary}</p>
        </>
      ) : (
        <p className="text-sm text-zinc-600 dark:text-zinc-400">
          This web process does not know how commands run (no sandbox was detected here).
        </p>
      )}
    </Card>
  );
}

function WorkersCard() {
  const trpc = useTRPC();
  const status = useQuery(trpc.system.status.queryOptions(undefined, { refetchInterval: 5000 }));
  const now = Date.now();
  return (
    <Card aria-labelledby="workers-title" aria-busy={status.isPending}>
      <CardTitle
        aside={
          status.isFetching && !status.isPending ? (
            <span className="text-xs text-zinc-500">Refreshing…</span>
          ) : null
        }
      >
        <span id="workers-title">Workers and queue</span>
      </CardTitle>
      {status.isPending ? (
        <div className="grid grid-cols-2 gap-4 sm:grid-cols-4" role="status" aria-label="Loading">
          {[0, 1, 2, 3].map((i) => (
            <Skeleton key={i} className="h-10 w-24" />
          ))}
        </div>
      ) : status.isError ? (
        <p role="alert" className="text-sm text-red-600 dark:text-red-400">
          Could not load the status: {status.error.message}
        </p>
      ) : (
        <>
          <dl className="grid grid-cols-2 gap-4 sm:grid-cols-4">
            <Stat label="Workers alive" value={status.data.workers.alive} testId="workers-alive" />
            <Stat label="Presumed dead" value={status.data.workers.stale} />
            <Stat label="Jobs waiting" value={status.data.queue.pending} testId="jobs-waiting" />
            <Stat label="Jobs running" value={status.data.queue.running} />
          </dl>
          {status.data.workers.list.length === 0 ? (
            <p className="mt-4 rounded-md bg-amber-50 px-3 py-2 text-sm text-amber-900 dark:bg-amber-950/40 dark:text-amber-200">
              No worker is running, so queued runs will wait. Start one with <code>npm start</code>{" "}
              (all-in-one) or <code>AGENTRY_ROLE=worker</code>.
            </p>
          ) : (
            <ul className="mt-4 divide-y divide-zinc-100 text-sm dark:divide-zinc-800">
              {status.data.workers.list.map((w) => (
                <li key={w.id} className="flex items-center justify-between py-2">
                  <span className="font-mono text-xs text-zinc-600 dark:text-zinc-400">
                    {w.id.slice(0, 8)}
                  </span>
                  <span className="text-zinc-600 dark:text-zinc-400">
                    concurrency {w.concurrency} · heartbeat {formatAge(w.heartbeatAt, now)}
                  </span>
                </li>
              ))}
            </ul>
          )}
        </>
      )}
    </Card>
  );
}

function ProbeCard() {
  const trpc = useTRPC();
  const [probeId, setProbeId] = useState<string | null>(null);
  const create = useMutation(trpc.system.createProbe.mutationOptions({ onSuccess: (p) => setProbeId(p.id) }));
  const probe = useQuery(
    trpc.system.probe.queryOptions(
      { id: probeId ?? "" },
      {
        enabled: probeId !== null,
        refetchInterval: (q) => (q.state.data?.status === "completed" ? false : 250),
      },
    ),
  );
  const state = probe.data?.status ?? (create.isPending ? "sending" : null);
  return (
    <Card aria-labelledby="probe-title">
      <CardTitle>
        <span id="probe-title">Queue round trip</span>
      </CardTitle>
      <p className="text-sm text-zinc-600 dark:text-zinc-400">
        Enqueue a probe job and watch a worker pick it up. It proves the web process, the queue and a worker
        are connected.
      </p>
      <div className="mt-4 flex flex-wrap items-center gap-4">
        <Button
          onClick={() => create.mutate()}
          disabled={create.isPending || (state !== null && state !== "completed")}
          data-testid="probe-button"
        >
          {create.isPending ? "Enqueuing…" : "Ping a worker"}
        </Button>
        <output aria-live="polite" className="text-sm" data-testid="probe-result">
          {create.isError ? (
            <span className="text-red-600 dark:text-red-400">Could not enqueue: {create.error.message}</span>
          ) : state === "completed" && probe.data?.roundTripMs != null ? (
            <span className="font-medium text-emerald-700 dark:text-emerald-400">
              Completed by a worker in {probe.data.roundTripMs} ms
            </span>
          ) : state === "queued" ? (
            <span className="text-zinc-600 dark:text-zinc-400">Queued, waiting for a worker…</span>
          ) : state === "running" ? (
            <span className="text-zinc-600 dark:text-zinc-400">A worker is on it…</span>
          ) : null}
        </output>
      </div>
    </Card>
  );
}

export default function StatusPage() {
  return (
    <div className="space-y-6">
      <div>
        <h1 className="text-2xl font-semibold tracking-tight">System status</h1>
        <p className="mt-1 text-sm text-zinc-600 dark:text-zinc-400">
          The database, the workers that execute runs, the queue between them, and the sandbox commands run
          in.
        </p>
      </div>
      <DatabaseCard />
      <WorkersCard />
      <div id="sandbox" className="scroll-mt-20">
        <SandboxCard />
      </div>
      <ProbeCard />
    </div>
  );
}
