import { type FormEvent, useState } from "react";
import { Button } from "#app/components/ui/button.tsx";
import { Field, FormAlert } from "#app/components/ui/field.tsx";
import { isAppError } from "#app/lib/app-error.ts";
import { normalizeProjectPath } from "#app/modules/projects/paths.ts";
import { errorMessage } from "./api.ts";
import { DangerButton, Modal, ModalActions } from "./dialog.tsx";
import { plural } from "./format.ts";

/** The normalised path, or the reason it is refused (same rules as the server). */
export function checkPath(input: string): { path: string } | { error: string } {
  try {
    return { path: normalizeProjectPath(input.trim()) };
  } catch (error) {
    return { error: isAppError(error) ? error.message : "That path is not valid" };
  }
}

/**
 * A one-field dialog that asks for a path: new file, new folder, rename/move. `onSubmit` does the work
 * and throws to show an error; the dialog stays open until it succeeds.
 */
export function PathDialog({
  open,
  title,
  description,
  label,
  initial,
  submitLabel,
  onSubmit,
  onClose,
}: {
  open: boolean;
  title: string;
  description?: string;
  label: string;
  initial: string;
  submitLabel: string;
  onSubmit: (path: string) => Promise<void> | void;
  onClose: () => void;
}) {
  const [value, setValue] = useState(initial);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [lastInitial, setLastInitial] = useState(initial);
  if (initial !== lastInitial) {
    setLastInitial(initial);
    setValue(initial);
    setError(null);
  }

  async function submit(event: FormEvent) {
    event.preventDefault();
    const checked = checkPath(value);
    if ("error" in checked) {
      setError(checked.error);
      return;
    }
    setBusy(true);
    try {
      await onSubmit(checked.path);
      setError(null);
    } catch (failure) {
      setError(errorMessage(failure));
    } finally {
      setBusy(false);
    }
  }

  return (
    <Modal
      open={open}
      onOpenChange={(next) => (next ? undefined : onClose())}
      title={title}
      description={description}
    >
      <form onSubmit={submit} className="space-y-4" noValidate>
        <Field
          label={label}
          value={value}
          onChange={(event) => {
            setValue(event.target.value);
            setError(null);
          }}
          error={error}
          autoComplete="off"
          spellCheck={false}
          autoFocus
          onFocus={(event) => {
            // Put the caret where typing is expected: after the folder prefix, before the extension.
            const input = event.currentTarget;
            const slash = input.value.lastIndexOf("/") + 1;
            const dot = input.value.lastIndexOf(".");
            input.setSelectionRange(slash, dot > slash ? dot : input.value.length);
          }}
        />
        <ModalActions>
          <Button variant="secondary" onClick={onClose}>
            Cancel
          </Button>
          <Button type="submit" disabled={busy}>
            {busy ? "Working…" : submitLabel}
          </Button>
        </ModalActions>
      </form>
    </Modal>
  );
}

/** Confirm deleting a file, or a folder and the files in it. */
export function DeleteNodeDialog({
  target,
  onConfirm,
  onClose,
}: {
  target: { path: string; kind: "file" | "folder"; fileCount: number } | null;
  onConfirm: () => Promise<void>;
  onClose: () => void;
}) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const description = !target
    ? undefined
    : target.kind === "file"
      ? `Delete ${target.path} and its history? This cannot be undone.`
      : target.fileCount === 0
        ? `The folder ${target.path} is empty.`
        : `Delete the folder ${target.path} with its ${plural(target.fileCount, "file")} and their history? This cannot be undone.`;
  return (
    <Modal
      open={target !== null}
      onOpenChange={(next) => {
        if (!next) {
          setError(null);
          onClose();
        }
      }}
      title={target?.kind === "folder" ? "Delete folder" : "Delete file"}
      description={description}
    >
      {error ? <FormAlert>{error}</FormAlert> : null}
      <ModalActions>
        <Button variant="secondary" onClick={onClose}>
          Cancel
        </Button>
        <DangerButton
          disabled={busy}
          onClick={async () => {
            setBusy(true);
            try {
              await onConfirm();
              setError(null);
            } catch (failure) {
              setError(errorMessage(failure));
            } finally {
              setBusy(false);
            }
          }}
          autoFocus
        >
          {busy ? "Deleting…" : "Delete"}
        </DangerButton>
      </ModalActions>
    </Modal>
  );
}
