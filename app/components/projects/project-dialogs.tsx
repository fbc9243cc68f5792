import { useFetcher } from "@remix-run/react";
import { useEffect, useId, useState } from "react";
import { Button } from "#app/components/ui/button.tsx";
import { Field, FormAlert } from "#app/components/ui/field.tsx";
import { DangerButton, Modal, ModalActions, TextArea } from "./dialog.tsx";

/** What the /projects action answers to a dialog's form. */
export type ProjectActionResult = {
  ok: boolean;
  intent: string;
  error?: string | null;
  errors?: Record<string, string | undefined>;
};

/** Closes the dialog once its form succeeded (the action answered ok; loaders have revalidated). */
function useCloseOnSuccess(fetcher: ReturnType<typeof useFetcher>, onDone: () => void) {
  const data = fetcher.data as ProjectActionResult | undefined;
  useEffect(() => {
    if (fetcher.state === "idle" && data?.ok) onDone();
  }, [fetcher.state, data, onDone]);
  return data;
}

/**
 * "New project": name and description. The action redirects to the new project's page, where the next
 * step (import files) waits.
 */
export function CreateProjectDialog({
  open,
  onOpenChange,
}: {
  open: boolean;
  onOpenChange: (open: boolean) => void;
}) {
  const fetcher = useFetcher<ProjectActionResult>();
  const data = fetcher.data;
  const busy = fetcher.state !== "idle";
  const id = useId();
  return (
    <Modal
      open={open}
      onOpenChange={onOpenChange}
      title="New project"
      description="A project holds the code your agents work on. You can import files right after."
    >
      <fetcher.Form method="post" action="/projects?index" className="space-y-4">
        <input type="hidden" name="intent" value="create" />
        {data?.error ? <FormAlert>{data.error}</FormAlert> : null}
        <Field
          label="Name"
          name="name"
          required
          maxLength={100}
          autoComplete="off"
          placeholder="my-service"
          error={data?.errors?.name}
          autoFocus
        />
        <TextArea
          id={`${id}-description`}
          label="Description (optional)"
          name="description"
          maxLength={2000}
          hint="What the code is, so you and your agents know."
          error={data?.errors?.description}
        />
        <ModalActions>
          <Button variant="secondary" onClick={() => onOpenChange(false)}>
            Cancel
          </Button>
          <Button type="submit" disabled={busy}>
            {busy ? "Creating…" : "Create project"}
          </Button>
        </ModalActions>
      </fetcher.Form>
    </Modal>
  );
}

/** Rename and describe. */
export function EditProjectDialog({
  project,
  onClose,
}: {
  project: { id: string; name: string; description: string | null } | null;
  onClose: () => void;
}) {
  const fetcher = useFetcher<ProjectActionResult>();
  const data = useCloseOnSuccess(fetcher, onClose);
  const busy = fetcher.state !== "idle";
  const id = useId();
  return (
    <Modal
      open={project !== null}
      onOpenChange={(open) => (open ? undefined : onClose())}
      title="Edit project details"
    >
      {project ? (
        <fetcher.Form method="post" action="/projects?index" className="space-y-4" key={project.id}>
          <input type="hidden" name="intent" value="update" />
          <input type="hidden" name="id" value={project.id} />
          {data?.error && !data.ok ? <FormAlert>{data.error}</FormAlert> : null}
          <Field
            label="Name"
            name="name"
            required
            maxLength={100}
            defaultValue={project.name}
            autoComplete="off"
            error={data?.ok ? null : data?.errors?.name}
          />
          <TextArea
            id={`${id}-description`}
            label="Description"
            name="description"
            maxLength={2000}
            defaultValue={project.description ?? ""}
            error={data?.ok ? null : data?.errors?.description}
          />
          <ModalActions>
            <Button variant="secondary" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" disabled={busy}>
              {busy ? "Saving…" : "Save"}
            </Button>
          </ModalActions>
        </fetcher.Form>
      ) : null}
    </Modal>
  );
}

/**
 * Delete for good, after typing the project's name: a deliberate act, not a slipped click. The server
 * checks the typed name too.
 */
export function DeleteProjectDialog({
  project,
  onClose,
  redirectTo,
}: {
  project: { id: string; name: string; fileCount?: number } | null;
  onClose: () => void;
  /** Where to go afterwards (from the project's own page: back to the list). */
  redirectTo?: string;
}) {
  const fetcher = useFetcher<ProjectActionResult>();
  const data = useCloseOnSuccess(fetcher, onClose);
  const [typed, setTyped] = useState("");
  const busy = fetcher.state !== "idle";
  useEffect(() => {
    if (project) setTyped("");
  }, [project]);
  const matches = project !== null && typed === project.name;
  return (
    <Modal
      open={project !== null}
      onOpenChange={(open) => (open ? undefined : onClose())}
      title="Delete project"
      description={
        project ? (
          <>
            This permanently deletes <strong className="font-semibold">{project.name}</strong>
            {project.fileCount !== undefined
              ? `, its ${project.fileCount.toLocaleString("en-US")} files`
              : ""}{" "}
            and every file version. It cannot be undone. To keep it out of sight instead, archive it.
          </>
        ) : null
      }
    >
      {project ? (
        <fetcher.Form method="post" action="/projects?index" className="space-y-4">
          <input type="hidden" name="intent" value="delete" />
          <input type="hidden" name="id" value={project.id} />
          {redirectTo ? <input type="hidden" name="redirectTo" value={redirectTo} /> : null}
          {data?.error && !data.ok ? <FormAlert>{data.error}</FormAlert> : null}
          <Field
            label={`Type the project name to confirm`}
            name="confirmName"
            autoComplete="off"
            value={typed}
            onChange={(event) => setTyped(event.target.value)}
            placeholder={project.name}
            hint={
              <>
                Type <span className="font-mono">{project.name}</span>
              </>
            }
          />
          <ModalActions>
            <Button variant="secondary" onClick={onClose}>
              Cancel
            </Button>
            <DangerButton type="submit" disabled={!matches || busy}>
              {busy ? "Deleting…" : "Delete project"}
            </DangerButton>
          </ModalActions>
        </fetcher.Form>
      ) : null}
    </Modal>
  );
}
