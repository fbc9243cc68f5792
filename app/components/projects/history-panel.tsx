import clsx from "clsx";
import { LazyCodeDiff } from "#app/components/editor/lazy.tsx";
import { Button } from "#app/components/ui/button.tsx";
import { Skeleton } from "#app/components/ui/card.tsx";
import { DateTime } from "#app/components/ui/section.tsx";
import { StrokeIcon } from "#app/components/ui/stroke-icon.tsx";
import { errorMessage, useFileVersionContent, useFileVersions } from "./api.ts";
import { formatBytes } from "./format.ts";

const SOURCE_LABEL: Record<string, string> = {
  create: "Created",
  edit: "Edited",
  import: "Imported",
  restore: "Restored",
  agent: "Agent",
};

export type Comparison = { from: number; to: number };

/**
 * The versions of the open file, newest first. "Changes" shows what a version changed (against the one
 * before it) in the diff view, where any two versions can then be picked; "Restore" makes an old
 * version's content the newest version.
 */
export function HistoryPanel({
  projectId,
  path,
  currentVersion,
  dirty,
  comparing,
  onCompare,
  onRestore,
  restoring,
  onClose,
}: {
  projectId: string;
  path: string;
  currentVersion: number | null;
  dirty: boolean;
  comparing: Comparison | null;
  onCompare: (comparison: Comparison) => void;
  onRestore: (version: number) => void;
  /** The version being restored, while it is. */
  restoring: number | null;
  onClose: () => void;
}) {
  const versions = useFileVersions(projectId, path, true);
  return (
    <aside
      aria-labelledby="history-title"
      className="flex w-72 shrink-0 flex-col border-l border-zinc-200 dark:border-zinc-800"
      data-testid="history-panel"
    >
      <div className="flex h-10 items-center justify-between border-b border-zinc-200 px-3 dark:border-zinc-800">
        <h2 id="history-title" className="text-xs font-semibold uppercase tracking-wide text-zinc-500">
          History
        </h2>
        <button
          type="button"
          onClick={onClose}
          aria-label="Close history"
          className="inline-flex h-7 w-7 items-center justify-center rounded text-zinc-500 hover:bg-zinc-100 dark:hover:bg-zinc-800"
        >
          <StrokeIcon size={14}>
            <path d="M6 6l12 12M18 6 6 18" />
          </StrokeIcon>
        </button>
      </div>
      {dirty ? (
        <p className="border-b border-zinc-200 bg-amber-50 px-3 py-2 text-xs text-amber-900 dark:border-zinc-800 dark:bg-amber-950/40 dark:text-amber-200">
          Save or discard your edits before restoring a version.
        </p>
      ) : null}
      <div className="min-h-0 flex-1 overflow-y-auto">
        {versions.isPending ? (
          <div className="space-y-3 p-3" role="status" aria-label="Loading history">
            {[0, 1, 2].map((i) => (
              <Skeleton key={i} className="h-10 w-full" />
            ))}
          </div>
        ) : versions.isError ? (
          <p role="alert" className="p-3 text-sm text-red-600 dark:text-red-400">
            Could not load the history: {errorMessage(versions.error)}
          </p>
        ) : versions.data.length === 0 ? (
          <p className="p-3 text-sm text-zinc-500">No versions yet.</p>
        ) : (
          <ol className="divide-y divide-zinc-100 dark:divide-zinc-800" aria-label={`Versions of ${path}`}>
            {versions.data.map((v, index) => {
              const previous = versions.data[index + 1]?.version ?? v.version;
              const isCurrent = v.version === currentVersion;
              const shown = comparing?.to === v.version;
              return (
                <li
                  key={v.version}
                  className={clsx("px-3 py-2.5", shown && "bg-brand-50/70 dark:bg-brand-700/15")}
                  data-testid="history-version"
                >
                  <div className="flex items-baseline justify-between gap-2">
                    <span className="text-sm font-medium">
                      Version {v.version}
                      {isCurrent ? (
                        <span className="ml-1.5 rounded-full bg-emerald-50 px-1.5 py-0.5 text-[11px] font-medium text-emerald-800 dark:bg-emerald-950/60 dark:text-emerald-200">
                          current
                        </span>
                      ) : null}
                    </span>
                    <span className="text-xs text-zinc-500">{SOURCE_LABEL[v.source] ?? v.source}</span>
                  </div>
                  <p className="mt-0.5 text-xs text-zinc-500">
                    <DateTime value={v.createdAt} /> · {formatBytes(v.size)}
                    {v.path !== path ? <span className="block truncate">as {v.path}</span> : null}
                  </p>
                  <div className="mt-1.5 flex gap-1.5">
                    <Button
                      variant="secondary"
                      className="h-7 px-2.5 text-xs"
                      onClick={() => onCompare({ from: previous, to: v.version })}
                      aria-label={`Show the changes of version ${v.version}`}
                    >
                      Changes
                    </Button>
                    {!isCurrent ? (
                      <Button
                        variant="secondary"
                        className="h-7 px-2.5 text-xs"
                        disabled={dirty || restoring !== null}
                        onClick={() => onRestore(v.version)}
                        aria-label={`Restore version ${v.version}`}
                      >
                        {restoring === v.version ? "Restoring…" : "Restore"}
                      </Button>
                    ) : null}
                  </div>
                </li>
              );
            })}
          </ol>
        )}
      </div>
    </aside>
  );
}

/** Two versions of a file side by side, either of them selectable. */
export function VersionDiff({
  projectId,
  path,
  language,
  dark,
  comparison,
  versions,
  onChange,
  onClose,
}: {
  projectId: string;
  path: string;
  language: string;
  dark: boolean;
  comparison: Comparison;
  /** The version numbers to offer, newest first. */
  versions: number[];
  onChange: (comparison: Comparison) => void;
  onClose: () => void;
}) {
  const from = useFileVersionContent(projectId, path, comparison.from);
  const to = useFileVersionContent(projectId, path, comparison.to);
  const select =
    "h-7 rounded-md border border-zinc-300 bg-white px-1.5 text-xs dark:border-zinc-700 dark:bg-zinc-900";
  const binary = from.data?.isBinary || to.data?.isBinary;
  return (
    <div className="flex h-full min-h-0 flex-col" data-testid="version-diff">
      <div className="flex flex-wrap items-center gap-2 border-b border-zinc-200 px-3 py-1.5 text-xs dark:border-zinc-800">
        <span className="font-medium">Compare</span>
        <label className="flex items-center gap-1">
          <span className="sr-only">From version</span>
          <select
            className={select}
            value={comparison.from}
            onChange={(event) => onChange({ ...comparison, from: Number(event.target.value) })}
          >
            {versions.map((v) => (
              <option key={v} value={v}>
                Version {v}
              </option>
            ))}
          </select>
        </label>
        <span aria-hidden="true">→</span>
        <label className="flex items-center gap-1">
          <span className="sr-only">To version</span>
          <select
            className={select}
            value={comparison.to}
            onChange={(event) => onChange({ ...comparison, to: Number(event.target.value) })}
          >
            {versions.map((v) => (
              <option key={v} value={v}>
                Version {v}
              </option>
            ))}
          </select>
        </label>
        <Button variant="ghost" className="ml-auto h-7 px-2.5 text-xs" onClick={onClose}>
          Back to the editor
        </Button>
      </div>
      <div className="min-h-0 flex-1">
        {from.isError || to.isError ? (
          <p role="alert" className="p-4 text-sm text-red-600 dark:text-red-400">
            Could not load the versions: {errorMessage(from.error ?? to.error)}
          </p>
        ) : binary ? (
          <p className="p-4 text-sm text-zinc-600 dark:text-zinc-400">
            Binary files are kept as metadata only; their versions cannot be compared.
          </p>
        ) : from.data && to.data ? (
          <LazyCodeDiff
            original={from.data.content}
            modified={to.data.content}
            language={language}
            dark={dark}
          />
        ) : (
          <p role="status" className="p-4 text-sm text-zinc-500">
            Loading the versions…
          </p>
        )}
      </div>
    </div>
  );
}
