import clsx from "clsx";
import { type DragEvent, useId, useRef, useState } from "react";
import { StrokeIcon } from "#app/components/ui/stroke-icon.tsx";
import { errorMessage, type ImportResult, uploadZip } from "./api.ts";
import { filesFromInput, filterPicked, type PickedFile, readDrop, type Skip } from "./folder-zip.ts";
import { plural } from "./format.ts";

type Phase =
  | { kind: "idle" }
  | { kind: "working"; label: string }
  | { kind: "done"; result: ImportResult }
  | { kind: "failed"; message: string };

/** Whether a drag carries files (not text or a link being dragged across the page). */
function carriesFiles(event: DragEvent): boolean {
  return Array.from(event.dataTransfer.types).includes("Files");
}

const folderInputProps = { webkitdirectory: "", directory: "" } as Record<string, string>;

/**
 * Bring code in: drop a folder or a .zip, or pick one. A folder is zipped in the browser (ignored
 * folders left out) and sent like an archive. Shows what the server created, updated and skipped.
 */
export function ImportPanel({
  projectId,
  onImported,
  compact = false,
}: {
  projectId: string;
  onImported: (result: ImportResult) => void;
  /** Inside a dialog: less padding, no heading. */
  compact?: boolean;
}) {
  const [phase, setPhase] = useState<Phase>({ kind: "idle" });
  const [dragging, setDragging] = useState(false);
  const zipInput = useRef<HTMLInputElement>(null);
  const folderInput = useRef<HTMLInputElement>(null);
  const id = useId();
  const busy = phase.kind === "working";

  async function send(body: Blob, localSkips: Skip[]) {
    setPhase({ kind: "working", label: "Uploading and importing…" });
    try {
      const result = await uploadZip(projectId, body);
      const merged = { ...result, skipped: [...localSkips, ...result.skipped] };
      setPhase({ kind: "done", result: merged });
      onImported(merged);
    } catch (error) {
      setPhase({ kind: "failed", message: errorMessage(error) });
    }
  }

  async function sendFiles(files: PickedFile[], alreadySkipped: Skip[] = []) {
    const { keep, skipped } = filterPicked(files);
    setPhase({ kind: "working", label: `Packing ${plural(keep.length, "file")}…` });
    try {
      const { zipFiles } = await import("./zip-files.ts");
      const zip = await zipFiles(keep);
      await send(zip, [...alreadySkipped, ...skipped]);
    } catch (error) {
      setPhase({ kind: "failed", message: errorMessage(error) });
    }
  }

  function onDrop(event: DragEvent<HTMLDivElement>) {
    event.preventDefault();
    setDragging(false);
    if (busy) return;
    // Read synchronously: the browser empties the DataTransfer once this handler returns.
    const dropped = readDrop(event.dataTransfer);
    setPhase({ kind: "working", label: "Reading what you dropped…" });
    dropped
      .then((what) => ("zip" in what ? send(what.zip, []) : sendFiles(what.files, what.skipped)))
      .catch((error: unknown) => setPhase({ kind: "failed", message: errorMessage(error) }));
  }

  return (
    <div className="space-y-4">
      {/* biome-ignore lint/a11y/noStaticElementInteractions: the drop zone is a pointer convenience; the two buttons inside do the same from the keyboard */}
      <div
        onDragEnter={(event) => {
          if (carriesFiles(event)) {
            event.preventDefault();
            setDragging(true);
          }
        }}
        onDragOver={(event) => {
          if (carriesFiles(event)) {
            event.preventDefault();
            event.dataTransfer.dropEffect = "copy";
          }
        }}
        onDragLeave={(event) => {
          if (!event.currentTarget.contains(event.relatedTarget as Node | null)) setDragging(false);
        }}
        onDrop={onDrop}
        className={clsx(
          "rounded-lg border-2 border-dashed text-center transition-colors",
          compact ? "px-4 py-8" : "px-6 py-12",
          dragging
            ? "border-brand-500 bg-brand-50 dark:bg-brand-700/15"
            : "border-zinc-300 dark:border-zinc-700",
        )}
        data-testid="import-dropzone"
      >
        <StrokeIcon size={32} strokeWidth={1.5} className="mx-auto text-zinc-400">
          <path d="M12 15V3m0 0-4 4m4-4 4 4" />
          <path d="M4 15v3a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2v-3" />
        </StrokeIcon>
        <p className="mt-2 text-sm font-medium">Drop a folder or a .zip here</p>
        <p className="mt-1 text-xs text-zinc-500 dark:text-zinc-400">
          node_modules, .git and build output are skipped. Up to 5,000 files, 2 MB per text file, 50 MB per
          archive.
        </p>
        <div className="mt-4 flex flex-wrap justify-center gap-2">
          <label
            htmlFor={`${id}-zip`}
            className={clsx(
              "inline-flex h-9 cursor-pointer items-center rounded-md bg-brand-600 px-4 text-sm font-medium text-white hover:bg-brand-700 has-[:focus-visible]:outline-2 has-[:focus-visible]:outline-offset-2 has-[:focus-visible]:outline-brand-500",
              busy && "pointer-events-none opacity-60",
            )}
          >
            Upload a .zip
            <input
              ref={zipInput}
              id={`${id}-zip`}
              type="file"
              accept=".zip,application/zip"
              className="sr-only"
              disabled={busy}
              onChange={(event) => {
                const file = event.target.files?.[0];
                event.target.value = "";
                if (file) void send(file, []);
              }}
            />
          </label>
          <label
            htmlFor={`${id}-folder`}
            className={clsx(
              "inline-flex h-9 cursor-pointer items-center rounded-md border border-zinc-300 bg-white px-4 text-sm font-medium text-zinc-900 hover:bg-zinc-50 has-[:focus-visible]:outline-2 has-[:focus-visible]:outline-offset-2 has-[:focus-visible]:outline-brand-500 dark:border-zinc-700 dark:bg-zinc-900 dark:text-zinc-100 dark:hover:bg-zinc-800",
              busy && "pointer-events-none opacity-60",
            )}
          >
            Choose a folder
            <input
              ref={folderInput}
              id={`${id}-folder`}
              type="file"
              multiple
              className="sr-only"
              disabled={busy}
              {...folderInputProps}
              onChange={(event) => {
                const files = event.target.files ? filesFromInput(event.target.files) : [];
                event.target.value = "";
                if (files.length > 0) void sendFiles(files);
              }}
            />
          </label>
        </div>
      </div>
      <ImportStatus phase={phase} />
    </div>
  );
}

function ImportStatus({ phase }: { phase: Phase }) {
  if (phase.kind === "idle") return null;
  if (phase.kind === "working") {
    return (
      <p role="status" className="flex items-center gap-2 text-sm text-zinc-600 dark:text-zinc-400">
        <span
          aria-hidden="true"
          className="h-3.5 w-3.5 animate-spin rounded-full border-2 border-zinc-300 border-t-brand-600"
        />
        {phase.label}
      </p>
    );
  }
  if (phase.kind === "failed") {
    return (
      <div
        role="alert"
        className="rounded-md bg-red-50 px-3 py-2 text-sm text-red-800 dark:bg-red-950/50 dark:text-red-200"
      >
        <p className="font-medium">Nothing was imported</p>
        <p className="mt-0.5">{phase.message}</p>
      </div>
    );
  }
  return <ImportSummary result={phase.result} />;
}

/** What an import did, including each skipped entry and why. */
export function ImportSummary({ result }: { result: ImportResult }) {
  const [showAll, setShowAll] = useState(false);
  const shown = showAll ? result.skipped : result.skipped.slice(0, 20);
  return (
    <div
      role="status"
      className="rounded-md border border-emerald-200 bg-emerald-50/60 px-3 py-2.5 text-sm dark:border-emerald-900 dark:bg-emerald-950/30"
      data-testid="import-result"
    >
      <p className="font-medium text-emerald-900 dark:text-emerald-100">
        Import finished: {result.created} created · {result.updated} updated
        {result.unchanged ? ` · ${result.unchanged} unchanged` : ""} · {result.skipped.length} skipped
      </p>
      {result.skipped.length > 0 ? (
        <>
          <ul className="mt-2 max-h-48 space-y-0.5 overflow-y-auto text-xs text-zinc-700 dark:text-zinc-300">
            {shown.map((skip) => (
              <li key={`${skip.path}:${skip.reason}`} className="flex gap-2">
                <span className="truncate font-mono">{skip.path}</span>
                <span className="shrink-0 text-zinc-500">— {skip.reason}</span>
              </li>
            ))}
          </ul>
          {result.skipped.length > shown.length ? (
            <button
              type="button"
              className="mt-1 text-xs font-medium text-brand-700 hover:underline dark:text-brand-100"
              onClick={() => setShowAll(true)}
            >
              Show all {result.skipped.length} skipped entries
            </button>
          ) : null}
        </>
      ) : null}
    </div>
  );
}
