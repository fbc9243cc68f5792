import { LazyCodeDiff } from "#app/components/editor/lazy.tsx";
import { Button } from "#app/components/ui/button.tsx";

export type Conflict = {
  path: string;
  /** The content on the server now, or null when the file was deleted elsewhere. */
  theirs: string | null;
  /** Its version, or null when deleted. */
  theirsVersion: number | null;
};

/**
 * A save refused because the file changed elsewhere since it was opened: the two contents side by side,
 * and an explicit choice. Nothing is overwritten silently.
 */
export function ConflictPanel({
  conflict,
  mine,
  language,
  dark,
  busy,
  onKeepMine,
  onTakeTheirs,
}: {
  conflict: Conflict;
  mine: string;
  language: string;
  dark: boolean;
  busy: boolean;
  onKeepMine: () => void;
  onTakeTheirs: () => void;
}) {
  const deleted = conflict.theirsVersion === null;
  return (
    <div className="flex h-full min-h-0 flex-col" data-testid="conflict-panel">
      <div
        role="alert"
        className="border-b border-amber-300 bg-amber-50 px-4 py-3 text-sm text-amber-950 dark:border-amber-900 dark:bg-amber-950/40 dark:text-amber-100"
      >
        <p className="font-semibold">
          {deleted ? "This file was deleted elsewhere" : "This file changed elsewhere"}
        </p>
        <p className="mt-0.5">
          {deleted
            ? "Someone (or an agent) deleted it after you opened it. Your edits are still here."
            : `Since you opened it, someone (or an agent) saved version ${conflict.theirsVersion}. Below, their text is the original and yours the change. Choose which one to keep.`}
        </p>
        <div className="mt-3 flex flex-wrap gap-2">
          <Button onClick={onKeepMine} disabled={busy}>
            {deleted
              ? "Keep mine (create it again)"
              : `Keep mine (save over version ${conflict.theirsVersion})`}
          </Button>
          <Button variant="secondary" onClick={onTakeTheirs} disabled={busy}>
            {deleted ? "Discard my edits" : "Take theirs (discard my edits)"}
          </Button>
        </div>
      </div>
      <div className="min-h-0 flex-1">
        <LazyCodeDiff original={conflict.theirs ?? ""} modified={mine} language={language} dark={dark} />
      </div>
    </div>
  );
}
