import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import clsx from "clsx";
import { useEffect, useId, useState } from "react";
import { errorMessage } from "#app/components/projects/api.ts";
import { Button } from "#app/components/ui/button.tsx";
import { Skeleton } from "#app/components/ui/card.tsx";
import { DiffLine } from "#app/components/ui/diff-line.tsx";
import { FormAlert } from "#app/components/ui/field.tsx";
import { Panel } from "#app/components/ui/panel.tsx";
import { DateTime } from "#app/components/ui/section.tsx";
import type { WorkflowDiff, WorkflowView } from "#app/modules/workflows/workflows.types.ts";
import { useTRPC } from "#app/trpc/client.ts";
import { patchLines } from "./builder-model.ts";

const selectClass =
  "h-8 rounded-md border border-zinc-300 bg-white px-2 text-sm dark:border-zinc-700 dark:bg-zinc-900";

/** A labelled choice of one of the versions (by number), for the diff's ends. */
function VersionSelect({
  label,
  value,
  onChange,
  versions,
}: {
  label: string;
  value: number;
  onChange: (number: number) => void;
  versions: ReadonlyArray<{ id: string; number: number }>;
}) {
  return (
    <label className="flex items-center gap-1.5">
      <span className="text-zinc-500">{label}</span>
      <select
        className={selectClass}
        value={value}
        onChange={(event) => onChange(Number(event.target.value))}
      >
        {versions.map((v) => (
          <option key={v.id} value={v.number}>
            v{v.number}
          </option>
        ))}
      </select>
    </label>
  );
}

/**
 * The workflow's versions, newest first: compare any two (the server's unified diff of the definitions and
 * a summary by step), and restore an old one (which saves it as the newest version).
 */
export function VersionsPanel({
  workflowId,
  latestVersion,
  dirty,
  onRestored,
}: {
  workflowId: string;
  latestVersion: number;
  dirty: boolean;
  onRestored: (view: WorkflowView, from: number) => void;
}) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const titleId = useId();
  const diffTitleId = useId();
  const versions = useQuery(trpc.workflows.listVersions.queryOptions({ id: workflowId }));
  const [from, setFrom] = useState(Math.max(latestVersion - 1, 1));
  const [to, setTo] = useState(latestVersion);
  // A new version (saved, restored) becomes the right-hand side of the comparison.
  useEffect(() => {
    setTo(latestVersion);
    setFrom((current) => (current >= latestVersion ? Math.max(latestVersion - 1, 1) : current));
  }, [latestVersion]);
  const restore = useMutation(
    trpc.workflows.restoreVersion.mutationOptions({
      onSuccess: (view, input) => {
        void queryClient.invalidateQueries({
          queryKey: trpc.workflows.listVersions.queryKey({ id: workflowId }),
        });
        onRestored(view, input.number);
      },
    }),
  );
  const items = versions.data?.items ?? [];
  return (
    <div className="grid gap-6 lg:grid-cols-[20rem_minmax(0,1fr)]">
      <Panel titleId={titleId} title="Versions" className="self-start">
        {dirty ? (
          <p className="border-b border-zinc-200 bg-amber-50 px-4 py-2 text-xs text-amber-900 dark:border-zinc-800 dark:bg-amber-950/40 dark:text-amber-200">
            Save or discard your edits before restoring a version.
          </p>
        ) : null}
        {restore.error ? (
          <div className="p-3">
            <FormAlert>{errorMessage(restore.error)}</FormAlert>
          </div>
        ) : null}
        {versions.isPending ? (
          <div className="space-y-3 p-4" role="status" aria-label="Loading versions">
            <Skeleton className="block h-4 w-32" />
            <Skeleton className="block h-4 w-48" />
            <Skeleton className="block h-4 w-40" />
          </div>
        ) : versions.error ? (
          <div className="p-3">
            <FormAlert>The versions could not be loaded: {errorMessage(versions.error)}</FormAlert>
          </div>
        ) : (
          <ol
            className="max-h-[36rem] divide-y divide-zinc-100 overflow-y-auto dark:divide-zinc-800"
            aria-label="Versions, newest first"
          >
            {items.map((version) => {
              const current = version.number === latestVersion;
              const restoring = restore.isPending && restore.variables?.number === version.number;
              return (
                <li key={version.id} className="px-4 py-3" data-testid="version-item">
                  <div className="flex items-baseline justify-between gap-2">
                    <span className="text-sm font-medium">
                      Version {version.number}
                      {current ? (
                        <span className="ml-1.5 rounded-full bg-emerald-50 px-1.5 py-0.5 text-[11px] font-medium text-emerald-800 dark:bg-emerald-950/60 dark:text-emerald-200">
                          current
                        </span>
                      ) : null}
                    </span>
                    <span className="text-xs text-zinc-500 tabular-nums">
                      {version.runCount === 1 ? "1 run" : `${version.runCount} runs`}
                    </span>
                  </div>
                  <p className="mt-0.5 text-xs text-zinc-500">
                    <DateTime value={version.createdAt} /> ·{" "}
                    {version.stepCount === 1 ? "1 step" : `${version.stepCount} steps`}
                  </p>
                  {version.note ? (
                    <p className="mt-1 text-xs text-zinc-700 dark:text-zinc-300">{version.note}</p>
                  ) : null}
                  <div className="mt-2 flex gap-1.5">
                    {!current ? (
                      <Button
                        variant="secondary"
                        className="h-7 px-2.5 text-xs"
                        onClick={() => {
                          setFrom(version.number);
                          setTo(latestVersion);
                        }}
                        aria-label={`Compare version ${version.number} with the current version`}
                      >
                        Compare
                      </Button>
                    ) : null}
                    {!current ? (
                      <Button
                        variant="secondary"
                        className="h-7 px-2.5 text-xs"
                        disabled={dirty || restore.isPending}
                        title={dirty ? "Save or discard your edits first" : undefined}
                        onClick={() => restore.mutate({ id: workflowId, number: version.number })}
                        aria-label={`Restore version ${version.number}`}
                      >
                        {restoring ? "Restoring…" : "Restore"}
                      </Button>
                    ) : null}
                  </div>
                </li>
              );
            })}
          </ol>
        )}
      </Panel>

      <Panel
        titleId={diffTitleId}
        title="Changes"
        className="min-w-0 self-start"
        aside={
          latestVersion > 1 ? (
            <div className="flex items-center gap-2 text-sm">
              <VersionSelect label="From" value={from} onChange={setFrom} versions={items} />
              <VersionSelect label="to" value={to} onChange={setTo} versions={items} />
            </div>
          ) : null
        }
      >
        <div className="p-4">
          {latestVersion === 1 ? (
            <p className="text-sm text-zinc-500">
              There is only one version so far. Every save that changes the definition adds one.
            </p>
          ) : from === to ? (
            <p className="text-sm text-zinc-500">Choose two different versions to compare.</p>
          ) : (
            <DiffView workflowId={workflowId} from={from} to={to} />
          )}
        </div>
      </Panel>
    </div>
  );
}

function DiffView({ workflowId, from, to }: { workflowId: string; from: number; to: number }) {
  const trpc = useTRPC();
  const diff = useQuery(trpc.workflows.diff.queryOptions({ id: workflowId, from, to }));
  if (diff.isPending) {
    return (
      <div className="space-y-2" role="status" aria-label="Loading the changes">
        <Skeleton className="block h-4 w-2/3" />
        <Skeleton className="block h-4 w-1/2" />
      </div>
    );
  }
  if (diff.error) return <FormAlert>{errorMessage(diff.error)}</FormAlert>;
  const lines = patchLines(diff.data.patch);
  return (
    <div className="space-y-3">
      <DiffSummary summary={diff.data.summary} />
      {lines.length === 0 ? (
        <p className="text-sm text-zinc-500">These two versions have the same definition.</p>
      ) : (
        <div
          className="max-h-[60vh] overflow-auto rounded-md border border-zinc-200 font-mono text-[13px] leading-5 dark:border-zinc-800"
          data-testid="workflow-diff"
        >
          {lines.map((line, index) => (
            // The patch is fixed for this pair of versions: its line positions are stable keys.
            // biome-ignore lint/suspicious/noArrayIndexKey: see above
            <DiffLine key={index} kind={line.kind === "context" ? "same" : line.kind} text={line.text} />
          ))}
        </div>
      )}
    </div>
  );
}

function DiffSummary({ summary }: { summary: WorkflowDiff["summary"] }) {
  const parts: Array<{ label: string; ids: string[]; tone: string }> = [
    { label: "Added", ids: summary.added, tone: "text-emerald-700 dark:text-emerald-300" },
    { label: "Removed", ids: summary.removed, tone: "text-red-700 dark:text-red-300" },
    { label: "Changed", ids: summary.changed, tone: "text-amber-700 dark:text-amber-300" },
  ].filter((part) => part.ids.length > 0);
  if (parts.length === 0 && !summary.inputsChanged && !summary.reordered) return null;
  return (
    <ul className="flex flex-wrap gap-x-4 gap-y-1 text-sm" aria-label="Summary of the changes">
      {parts.map((part) => (
        <li key={part.label}>
          <span className={clsx("font-medium", part.tone)}>{part.label}:</span>{" "}
          <span className="font-mono text-[13px]">{part.ids.join(", ")}</span>
        </li>
      ))}
      {summary.reordered ? <li className="text-zinc-600 dark:text-zinc-400">Steps reordered</li> : null}
      {summary.inputsChanged ? <li className="text-zinc-600 dark:text-zinc-400">Inputs changed</li> : null}
    </ul>
  );
}
