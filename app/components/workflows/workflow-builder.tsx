import * as Tabs from "@radix-ui/react-tabs";
import { useBlocker, useNavigate } from "@remix-run/react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { TRPCClientError } from "@trpc/client";
import clsx from "clsx";
import { type FormEvent, useCallback, useEffect, useId, useMemo, useReducer, useRef, useState } from "react";
import { defaultModel } from "#app/components/ai/model-select.tsx";
import { errorCode, errorMessage } from "#app/components/projects/api.ts";
import { DangerButton, Modal, ModalActions, TextArea } from "#app/components/projects/dialog.tsx";
import { ActionsMenu, ActionsMenuItem, ActionsMenuSeparator } from "#app/components/ui/actions-menu.tsx";
import { Breadcrumb } from "#app/components/ui/breadcrumb.tsx";
import { Button } from "#app/components/ui/button.tsx";
import { Field, FormAlert } from "#app/components/ui/field.tsx";
import { DateTime } from "#app/components/ui/section.tsx";
import type { InputSpec } from "#app/modules/workflows/definition.ts";
import { validateWorkflow } from "#app/modules/workflows/validate.ts";
import type { WorkflowView } from "#app/modules/workflows/workflows.types.ts";
import { useTRPC } from "#app/trpc/client.ts";
import {
  type BuilderAction,
  type BuilderIssue,
  builderIssues,
  builderReducer,
  completionItems,
  describeTarget,
  type IssueTarget,
  initialState,
  isDirty,
  readersOf,
  runErrorsFromIssues,
  STEP_TYPE_LABEL,
  stableJson,
  stepId,
  toDefinition,
} from "./builder-model.ts";
import { fieldId } from "./fields.tsx";
import { JsonView } from "./json-view.tsx";
import { RunDialog } from "./run-dialog.tsx";
import { InputConfig, StepConfig } from "./step-config.tsx";
import { focusStepButton, StepList } from "./step-list.tsx";
import { VersionsPanel } from "./versions-panel.tsx";

type Notice = { text: string; tone: "success" | "error" };
type TabName = "builder" | "json" | "versions";
type Removal = { kind: "step" | "input"; key: string };

/** Files offered by `{{project.files["…"]}}` completion (a huge project lists the first ones). */
const MAX_FILE_COMPLETIONS = 500;

const tabClass =
  "border-b-2 border-transparent px-3 py-1.5 text-sm font-medium text-zinc-600 data-[state=active]:border-brand-600 data-[state=active]:text-zinc-900 dark:text-zinc-400 dark:data-[state=active]:text-zinc-100";

/** The details a server refusal carries (`error.data.details.issues` for a bad run input). */
function refusalIssues(error: unknown): unknown {
  if (!(error instanceof TRPCClientError)) return undefined;
  return (error.data as { details?: { issues?: unknown } } | undefined)?.details?.issues;
}

/**
 * The workflow builder: steps and inputs on the left, the selected one's settings on the right, the JSON
 * view and the version history in tabs. Everything is validated as it changes (the same validator the
 * server runs); Save makes a new version, Run starts a run of the saved version (saving first if needed).
 */
export function WorkflowBuilder({
  project,
  workflow: initial,
}: {
  project: { id: string; name: string };
  workflow: WorkflowView;
}) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const [saved, setSaved] = useState(initial);
  const [state, dispatchRaw] = useReducer(builderReducer, initial.definition, initialState);
  const [tab, setTab] = useState<TabName>("builder");
  const [notice, setNotice] = useState<Notice | null>(null);
  const [note, setNote] = useState("");
  const [conflict, setConflict] = useState<string | null>(null);
  const [removal, setRemoval] = useState<Removal | null>(null);
  const [runOpen, setRunOpen] = useState(false);
  const [detailsOpen, setDetailsOpen] = useState(false);
  const [deleteOpen, setDeleteOpen] = useState(false);
  const [announcement, setAnnouncement] = useState("");
  /** An edit makes "Saved as version N" stale: it goes (errors stay until the next attempt). */
  const dispatch = useCallback((action: BuilderAction) => {
    dispatchRaw(action);
    if (action.type !== "select") setNotice((current) => (current?.tone === "success" ? null : current));
  }, []);
  /** Set when the page leaves on purpose (a run started, the workflow deleted): no unsaved-changes prompt. */
  const leaving = useRef(false);

  const models = useQuery({ ...trpc.ai.models.queryOptions(), staleTime: 30_000 });
  const files = useQuery({ ...trpc.projects.listFiles.queryOptions({ id: project.id }), staleTime: 60_000 });
  const modelList = models.data?.items;
  const isKnownModel = useMemo(
    () =>
      modelList
        ? (id: string) => id.startsWith("compat:") || modelList.some((model) => model.id === id)
        : undefined,
    [modelList],
  );
  const newStepModel = modelList ? defaultModel(modelList) : undefined;

  const draft = useMemo(() => toDefinition(state), [state]);
  const draftRef = useRef(draft);
  draftRef.current = draft;
  const validation = useMemo(() => validateWorkflow(draft, { isKnownModel }), [draft, isKnownModel]);
  const issues = useMemo(() => builderIssues(state, validation), [state, validation]);
  const errors = issues.filter((issue) => issue.severity === "error");
  const warnings = issues.filter((issue) => issue.severity === "warning");
  const dirty = useMemo(
    () => isDirty(draft, validation, saved.definition),
    [draft, validation, saved.definition],
  );
  const valid = validation.ok && errors.length === 0;

  const update = useMutation(trpc.workflows.update.mutationOptions());
  const createRun = useMutation(trpc.runs.create.mutationOptions());
  const remove = useMutation(trpc.workflows.delete.mutationOptions());
  const versionsKey = trpc.workflows.listVersions.queryKey({ id: saved.id });

  /** Take the server's view as the saved state; the draft follows unless it changed since `sent`. */
  const adopt = useCallback((view: WorkflowView, sent?: unknown) => {
    setSaved(view);
    if (sent === undefined || stableJson(draftRef.current) === stableJson(sent)) {
      dispatchRaw({ type: "replace", definition: view.definition });
    }
  }, []);

  async function save({ force = false } = {}): Promise<WorkflowView | null> {
    if (!valid) return null;
    const sent = draft;
    const before = saved.latestVersion;
    setNotice(null);
    try {
      const view = await update.mutateAsync({
        id: saved.id,
        definition: sent,
        note: note.trim() || undefined,
        baseVersion: force ? undefined : before,
      });
      adopt(view, sent);
      setConflict(null);
      setNote("");
      setNotice(
        view.latestVersion > before
          ? { text: `Saved as version ${view.latestVersion}`, tone: "success" }
          : { text: `No changes: still version ${view.latestVersion}`, tone: "success" },
      );
      void queryClient.invalidateQueries({ queryKey: versionsKey });
      return view;
    } catch (error) {
      if (errorCode(error) === "CONFLICT") setConflict(errorMessage(error));
      else setNotice({ text: errorMessage(error), tone: "error" });
      return null;
    }
  }

  async function loadLatest() {
    try {
      const view = await queryClient.fetchQuery({
        ...trpc.workflows.get.queryOptions({ id: saved.id }),
        staleTime: 0,
      });
      adopt(view);
      setConflict(null);
      setNotice({ text: `Loaded version ${view.latestVersion}`, tone: "success" });
      void queryClient.invalidateQueries({ queryKey: versionsKey });
    } catch (error) {
      setNotice({ text: errorMessage(error), tone: "error" });
    }
  }

  async function startRun(input: Record<string, unknown>): Promise<Record<string, string> | null> {
    let version = saved.latestVersion;
    if (dirty) {
      const view = await save();
      if (!view)
        return {
          "": "The changes could not be saved, so the run did not start. See the message on the page.",
        };
      version = view.latestVersion;
    }
    try {
      const { runId } = await createRun.mutateAsync({ id: saved.id, input, version });
      leaving.current = true;
      navigate(`/runs/${runId}`);
      return null;
    } catch (error) {
      const byField = runErrorsFromIssues(refusalIssues(error));
      return Object.keys(byField).length > 0 ? byField : { "": errorMessage(error) };
    }
  }

  // Ctrl/Cmd+S saves.
  const saveRef = useRef(save);
  saveRef.current = save;
  const canSave = dirty && valid && !update.isPending;
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "s") {
        event.preventDefault();
        if (canSave) void saveRef.current();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [canSave]);

  // Leaving with unsaved changes asks first: closing the tab (beforeunload) and links inside the app.
  useEffect(() => {
    if (!dirty) return;
    const warn = (event: BeforeUnloadEvent) => {
      if (leaving.current) return;
      event.preventDefault();
      event.returnValue = "";
    };
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [dirty]);
  const blocker = useBlocker(
    ({ currentLocation, nextLocation }) =>
      dirty && !leaving.current && currentLocation.pathname !== nextLocation.pathname,
  );

  const selectedStepIndex =
    state.selection?.kind === "step" ? state.steps.findIndex((row) => row.key === state.selection?.key) : -1;
  const selectedStep = state.steps[selectedStepIndex];
  const selectedInput =
    state.selection?.kind === "input"
      ? state.inputs.find((row) => row.key === state.selection?.key)
      : undefined;
  const filePaths = useMemo(
    () =>
      (files.data?.files ?? [])
        .filter((file) => !file.isBinary)
        .slice(0, MAX_FILE_COMPLETIONS)
        .map((file) => file.path),
    [files.data],
  );
  const completions = useMemo(
    () =>
      completionItems({
        inputs: state.inputs,
        steps: state.steps,
        stepIndex: selectedStepIndex,
        files: filePaths,
      }),
    [state.inputs, state.steps, selectedStepIndex, filePaths],
  );

  function move(key: string, to: number) {
    const row = state.steps.find((r) => r.key === key);
    dispatch({ type: "moveStep", key, to });
    setAnnouncement(
      `Moved ${stepId(row?.step ?? {}) || "the step"} to position ${to + 1} of ${state.steps.length}`,
    );
    focusStepButton(key);
  }

  function reveal(target: IssueTarget) {
    if (target.kind === "workflow") return;
    setTab("builder");
    dispatch({ type: "select", selection: { kind: target.kind, key: target.key } });
    const field = target.field ?? (target.kind === "step" ? "id" : "name");
    // After the tab and the panel have rendered.
    requestAnimationFrame(() =>
      requestAnimationFrame(() => document.getElementById(fieldId(target.key, field))?.focus()),
    );
  }

  function confirmRemoval() {
    if (!removal) return;
    if (removal.kind === "step") {
      const index = state.steps.findIndex((row) => row.key === removal.key);
      const id = stepId(state.steps[index]?.step ?? {});
      dispatch({ type: "removeStep", key: removal.key });
      setAnnouncement(`Removed step ${id}`);
      const next = state.steps[index + 1] ?? state.steps[index - 1];
      if (next) focusStepButton(next.key);
    } else {
      const name = state.inputs.find((row) => row.key === removal.key)?.name;
      dispatch({ type: "removeInput", key: removal.key });
      setAnnouncement(`Removed input ${name ?? ""}`);
    }
    setRemoval(null);
  }

  const runInputs = (validation.ok ? validation.definition.inputs : saved.definition.inputs) as Record<
    string,
    InputSpec
  >;
  const saveReason = !dirty
    ? "No unsaved changes"
    : !valid
      ? `Fix ${errors.length} problem${errors.length === 1 ? "" : "s"} to save`
      : null;
  const runReason = !valid ? `Fix ${errors.length} problem${errors.length === 1 ? "" : "s"} to run` : null;
  const archived = saved.archivedAt !== null;

  return (
    <div className="space-y-5">
      <div className="flex flex-wrap items-start justify-between gap-4">
        <div className="min-w-0">
          <Breadcrumb
            items={[
              { to: "/projects", label: "Projects" },
              { to: `/projects/${project.id}`, label: project.name, truncate: "max-w-48" },
              { to: `/projects/${project.id}/workflows`, label: "Workflows" },
            ]}
          />
          <div className="mt-0.5 flex flex-wrap items-center gap-2">
            <h1 className="truncate text-2xl font-semibold tracking-tight">{saved.name}</h1>
            {archived ? (
              <span className="rounded-full border border-zinc-300 px-2 py-0.5 text-xs font-medium text-zinc-500 dark:border-zinc-700">
                Archived
              </span>
            ) : null}
            {dirty ? (
              <span
                className="rounded-full bg-amber-50 px-2 py-0.5 text-xs font-medium text-amber-900 dark:bg-amber-950/60 dark:text-amber-200"
                data-testid="unsaved-indicator"
              >
                Unsaved changes
              </span>
            ) : null}
          </div>
          <p className="mt-1 text-sm text-zinc-600 dark:text-zinc-400">
            <span data-testid="workflow-version">Version {saved.latestVersion}</span> · saved{" "}
            <DateTime value={saved.version.createdAt} />
            {saved.description ? <span className="block max-w-3xl">{saved.description}</span> : null}
          </p>
        </div>
        <div className="flex shrink-0 flex-col items-end gap-1.5">
          <div className="flex flex-wrap items-center justify-end gap-2">
            {dirty ? (
              <label className="sr-only" htmlFor="wf-version-note">
                Version note
              </label>
            ) : null}
            {dirty ? (
              <input
                id="wf-version-note"
                value={note}
                onChange={(event) => setNote(event.target.value)}
                maxLength={500}
                placeholder="What changed? (optional)"
                className="h-9 w-56 rounded-md border border-zinc-300 bg-white px-3 text-sm shadow-xs placeholder:text-zinc-400 dark:border-zinc-700 dark:bg-zinc-900"
              />
            ) : null}
            <Button
              variant="secondary"
              onClick={() => void save()}
              disabled={!canSave}
              className="disabled:opacity-60"
              aria-describedby="wf-save-reason"
              aria-keyshortcuts="Control+S"
            >
              {update.isPending ? "Saving…" : "Save"}
            </Button>
            <Button
              onClick={() => setRunOpen(true)}
              disabled={!valid || update.isPending}
              aria-describedby="wf-save-reason"
            >
              <svg width="14" height="14" viewBox="0 0 24 24" fill="currentColor" aria-hidden="true">
                <path d="M7 4.5v15l13-7.5z" />
              </svg>
              {dirty ? "Save and run" : "Run"}
            </Button>
            <WorkflowMenu
              archived={archived}
              onEdit={() => setDetailsOpen(true)}
              onArchive={async () => {
                try {
                  const view = await update.mutateAsync({ id: saved.id, archived: !archived });
                  setSaved(view);
                  setNotice({
                    text: archived
                      ? "Restored from the archive"
                      : "Archived: hidden from the project's list; its versions and runs stay",
                    tone: "success",
                  });
                } catch (error) {
                  setNotice({ text: errorMessage(error), tone: "error" });
                }
              }}
              onDelete={() => setDeleteOpen(true)}
            />
          </div>
          <p id="wf-save-reason" className="text-xs text-zinc-500" data-testid="save-reason">
            {runReason ?? (saveReason && dirty ? saveReason : dirty ? "Ctrl+S saves" : "All changes saved")}
          </p>
        </div>
      </div>

      <div aria-live="polite" role="status" className="empty:hidden">
        {notice ? <FormAlert tone={notice.tone}>{notice.text}</FormAlert> : null}
      </div>
      {conflict ? (
        <div
          role="alert"
          className="flex flex-wrap items-center justify-between gap-3 rounded-md bg-amber-50 px-3 py-2 text-sm text-amber-900 dark:bg-amber-950/50 dark:text-amber-100"
        >
          <span>{conflict}</span>
          <span className="flex gap-2">
            <Button variant="secondary" className="h-8 px-2.5 text-xs" onClick={() => void loadLatest()}>
              Load the latest (discard mine)
            </Button>
            <Button className="h-8 px-2.5 text-xs" onClick={() => void save({ force: true })}>
              Save mine as a new version
            </Button>
          </span>
        </div>
      ) : null}

      <Tabs.Root value={tab} onValueChange={(value) => setTab(value as TabName)}>
        <Tabs.List className="flex gap-1 border-b border-zinc-200 dark:border-zinc-800" aria-label="View">
          <Tabs.Trigger value="builder" className={tabClass}>
            Builder
          </Tabs.Trigger>
          <Tabs.Trigger value="json" className={tabClass}>
            JSON
          </Tabs.Trigger>
          <Tabs.Trigger value="versions" className={tabClass}>
            Versions
            <span className="ml-1.5 rounded-full bg-zinc-100 px-1.5 py-0.5 text-[11px] tabular-nums dark:bg-zinc-800">
              {saved.latestVersion}
            </span>
          </Tabs.Trigger>
        </Tabs.List>
        <Tabs.Content value="builder" className="pt-5">
          <div className="grid gap-6 lg:grid-cols-[18rem_minmax(0,1fr)]">
            <div className="min-w-0 lg:sticky lg:top-20 lg:max-h-[calc(100vh-6rem)] lg:self-start lg:overflow-y-auto">
              <StepList
                state={state}
                issues={issues}
                onSelect={(selection) => dispatch({ type: "select", selection })}
                onAdd={(type) => {
                  dispatch({
                    type: "addStep",
                    stepType: type,
                    model: newStepModel,
                    after: state.selection?.kind === "step" ? state.selection.key : null,
                  });
                  setAnnouncement(`Added a ${STEP_TYPE_LABEL[type].toLowerCase()} step`);
                }}
                onMove={move}
                onRemove={(key) => setRemoval({ kind: "step", key })}
                onAddInput={() => dispatch({ type: "addInput" })}
              />
              {/* Beside the editor, not above it: problems coming and going while typing move nothing. */}
              <ProblemList errors={errors} warnings={warnings} state={state} onReveal={reveal} />
            </div>
            <div className="min-w-0">
              {selectedStep ? (
                <StepConfig
                  key={selectedStep.key}
                  rowKey={selectedStep.key}
                  step={selectedStep.step}
                  index={selectedStepIndex}
                  count={state.steps.length}
                  issues={issues}
                  dispatch={dispatch}
                  models={modelList}
                  modelsLoading={models.isPending}
                  defaultModel={newStepModel}
                  completions={completions}
                  onRemove={() => setRemoval({ kind: "step", key: selectedStep.key })}
                />
              ) : selectedInput ? (
                <InputConfig
                  key={selectedInput.key}
                  rowKey={selectedInput.key}
                  name={selectedInput.name}
                  spec={selectedInput.spec}
                  issues={issues}
                  dispatch={dispatch}
                  onRemove={() => setRemoval({ kind: "input", key: selectedInput.key })}
                />
              ) : (
                <div className="rounded-lg border border-dashed border-zinc-300 px-6 py-14 text-center text-sm text-zinc-600 dark:border-zinc-700 dark:text-zinc-400">
                  {state.steps.length === 0
                    ? "Add a step to begin: a model call, a transform, a command or the agent."
                    : "Select a step or an input to edit it."}
                </div>
              )}
            </div>
          </div>
        </Tabs.Content>
        <Tabs.Content value="json" className="pt-5">
          <JsonView
            draft={draft}
            issues={issues}
            onApply={(definition) => dispatch({ type: "replace", definition })}
          />
        </Tabs.Content>
        <Tabs.Content value="versions" className="pt-5">
          <VersionsPanel
            workflowId={saved.id}
            latestVersion={saved.latestVersion}
            dirty={dirty}
            onRestored={(view, from) => {
              const changed = view.latestVersion > saved.latestVersion;
              adopt(view);
              setNotice({
                text: changed
                  ? `Restored version ${from} as version ${view.latestVersion}`
                  : `Version ${from} has the current definition: nothing to restore`,
                tone: "success",
              });
            }}
          />
        </Tabs.Content>
      </Tabs.Root>

      <p className="sr-only" aria-live="polite">
        {announcement}
      </p>

      <RunDialog
        open={runOpen}
        onOpenChange={setRunOpen}
        workflowName={saved.name}
        inputs={runInputs}
        saveFirst={dirty}
        version={saved.latestVersion}
        onRun={startRun}
      />
      <RemovalDialog
        removal={removal}
        state={state}
        onCancel={() => setRemoval(null)}
        onConfirm={confirmRemoval}
      />
      <DetailsDialog
        open={detailsOpen}
        workflow={saved}
        onClose={() => setDetailsOpen(false)}
        onSaved={(view) => {
          setSaved(view);
          setDetailsOpen(false);
          setNotice({ text: "Details saved", tone: "success" });
        }}
      />
      <Modal
        open={deleteOpen}
        onOpenChange={(open) => (remove.isPending ? undefined : setDeleteOpen(open))}
        title="Delete workflow"
        description={
          <>
            This deletes <strong className="font-semibold">{saved.name}</strong>, its{" "}
            {saved.latestVersion === 1 ? "only version" : `${saved.latestVersion} versions`} and its finished
            runs. It cannot be undone. Archive it instead to keep its history.
          </>
        }
      >
        {remove.error ? <FormAlert>{errorMessage(remove.error)}</FormAlert> : null}
        <ModalActions>
          <Button variant="secondary" onClick={() => setDeleteOpen(false)}>
            Cancel
          </Button>
          <DangerButton
            disabled={remove.isPending}
            onClick={() =>
              remove.mutate(
                { id: saved.id },
                {
                  onSuccess: () => {
                    leaving.current = true;
                    navigate(`/projects/${project.id}/workflows`);
                  },
                },
              )
            }
          >
            {remove.isPending ? "Deleting…" : "Delete workflow"}
          </DangerButton>
        </ModalActions>
      </Modal>
      <Modal
        open={blocker.state === "blocked"}
        onOpenChange={(next) => (next ? undefined : blocker.reset?.())}
        title="Leave with unsaved changes?"
        description="This workflow has changes that are not saved as a version. Leaving discards them."
      >
        <ModalActions>
          <Button variant="secondary" onClick={() => blocker.reset?.()} autoFocus>
            Stay
          </Button>
          <DangerButton onClick={() => blocker.proceed?.()}>Leave and discard</DangerButton>
        </ModalActions>
      </Modal>
    </div>
  );
}

/** Every problem, each a button that opens the step or input it is about and focuses the field. */
function ProblemList({
  errors,
  warnings,
  state,
  onReveal,
}: {
  errors: readonly BuilderIssue[];
  warnings: readonly BuilderIssue[];
  state: Parameters<typeof describeTarget>[1];
  onReveal: (target: IssueTarget) => void;
}) {
  const id = useId();
  const [expanded, setExpanded] = useState(true);
  const list = errors.length > 0 ? errors : warnings;
  if (list.length === 0) return null;
  const isError = errors.length > 0;
  const shown = expanded ? list : [];
  return (
    <section
      aria-labelledby={id}
      className={clsx(
        "mt-4 rounded-lg border px-4 py-3",
        isError
          ? "border-red-200 bg-red-50/60 dark:border-red-900/60 dark:bg-red-950/30"
          : "border-amber-200 bg-amber-50/60 dark:border-amber-900/60 dark:bg-amber-950/30",
      )}
      data-testid={isError ? "workflow-problems" : "workflow-warnings"}
    >
      <div className="flex items-center justify-between gap-2">
        <h2
          id={id}
          className={clsx(
            "text-sm font-semibold",
            isError ? "text-red-800 dark:text-red-200" : "text-amber-900 dark:text-amber-100",
          )}
        >
          {isError
            ? `${list.length} problem${list.length === 1 ? "" : "s"} to fix`
            : `${list.length} warning${list.length === 1 ? "" : "s"}`}
        </h2>
        <button
          type="button"
          className="text-xs font-medium text-zinc-600 hover:underline dark:text-zinc-400"
          aria-expanded={expanded}
          onClick={() => setExpanded(!expanded)}
        >
          {expanded ? "Hide" : "Show"}
        </button>
      </div>
      {shown.length > 0 ? (
        <ul className="mt-2 space-y-2 text-xs">
          {shown.slice(0, 30).map((issue, index) => (
            <li
              // Issues are recomputed on every change and have no identity beyond their position.
              // biome-ignore lint/suspicious/noArrayIndexKey: see above
              key={index}
              className="flex flex-col"
            >
              {issue.target.kind === "workflow" ? (
                <span className="font-medium text-zinc-800 dark:text-zinc-200">Workflow</span>
              ) : (
                <button
                  type="button"
                  onClick={() => onReveal(issue.target)}
                  className="self-start text-left font-medium text-zinc-900 underline decoration-zinc-400 underline-offset-2 hover:decoration-zinc-900 dark:text-zinc-100 dark:hover:decoration-zinc-100"
                >
                  {describeTarget(issue.target, state)}
                </button>
              )}
              <span
                className={isError ? "text-red-800 dark:text-red-200" : "text-amber-900 dark:text-amber-100"}
              >
                {issue.message}
              </span>
            </li>
          ))}
          {list.length > 30 ? <li className="text-zinc-500">…and {list.length - 30} more</li> : null}
        </ul>
      ) : null}
    </section>
  );
}

function WorkflowMenu({
  archived,
  onEdit,
  onArchive,
  onDelete,
}: {
  archived: boolean;
  onEdit: () => void;
  onArchive: () => void;
  onDelete: () => void;
}) {
  return (
    <ActionsMenu label="More workflow actions">
      <ActionsMenuItem onSelect={onEdit}>Edit details…</ActionsMenuItem>
      <ActionsMenuItem onSelect={onArchive}>{archived ? "Unarchive" : "Archive"}</ActionsMenuItem>
      <ActionsMenuSeparator />
      <ActionsMenuItem danger onSelect={onDelete}>
        Delete…
      </ActionsMenuItem>
    </ActionsMenu>
  );
}

function RemovalDialog({
  removal,
  state,
  onCancel,
  onConfirm,
}: {
  removal: Removal | null;
  state: Parameters<typeof readersOf>[0] & { inputs: Array<{ key: string; name: string }> };
  onCancel: () => void;
  onConfirm: () => void;
}) {
  const step = removal?.kind === "step" ? state.steps.find((row) => row.key === removal.key) : undefined;
  const input = removal?.kind === "input" ? state.inputs.find((row) => row.key === removal.key) : undefined;
  const name = step ? stepId(step.step) || "this step" : input ? input.name || "this input" : "";
  const readers = step && removal ? readersOf(state, removal.key) : [];
  return (
    <Modal
      open={removal !== null}
      onOpenChange={(open) => (open ? undefined : onCancel())}
      title={removal?.kind === "input" ? "Remove input" : "Remove step"}
      description={
        <>
          Remove <strong className="font-mono font-semibold">{name}</strong> from the workflow?
          {readers.length > 0
            ? ` ${readers.length === 1 ? "Step" : "Steps"} ${readers.join(", ")} ${readers.length === 1 ? "reads" : "read"} its output: ${readers.length === 1 ? "its template" : "their templates"} will show an error until you change ${readers.length === 1 ? "it" : "them"}.`
            : ""}{" "}
          Nothing is lost until you save.
        </>
      }
    >
      <ModalActions>
        <Button variant="secondary" onClick={onCancel} autoFocus>
          Cancel
        </Button>
        <DangerButton onClick={onConfirm}>
          {removal?.kind === "input" ? "Remove input" : "Remove step"}
        </DangerButton>
      </ModalActions>
    </Modal>
  );
}

function DetailsDialog({
  open,
  workflow,
  onClose,
  onSaved,
}: {
  open: boolean;
  workflow: WorkflowView;
  onClose: () => void;
  onSaved: (view: WorkflowView) => void;
}) {
  const trpc = useTRPC();
  const id = useId();
  const update = useMutation(trpc.workflows.update.mutationOptions());
  // biome-ignore lint/correctness/useExhaustiveDependencies: a fresh form each time it opens
  useEffect(() => {
    if (open) update.reset();
  }, [open]);
  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    update.mutate(
      {
        id: workflow.id,
        name: String(form.get("name") ?? ""),
        description: String(form.get("description") ?? "").trim() || null,
      },
      { onSuccess: onSaved },
    );
  }
  return (
    <Modal open={open} onOpenChange={(next) => (next ? undefined : onClose())} title="Workflow details">
      <form onSubmit={submit} className="space-y-4">
        {update.error && errorCode(update.error) !== "CONFLICT" ? (
          <FormAlert>{errorMessage(update.error)}</FormAlert>
        ) : null}
        <Field
          label="Name"
          name="name"
          required
          maxLength={100}
          defaultValue={workflow.name}
          autoComplete="off"
          error={update.error && errorCode(update.error) === "CONFLICT" ? errorMessage(update.error) : null}
          autoFocus
        />
        <TextArea
          id={`${id}-description`}
          label="Description"
          name="description"
          maxLength={2000}
          defaultValue={workflow.description ?? ""}
        />
        <ModalActions>
          <Button variant="secondary" onClick={onClose}>
            Cancel
          </Button>
          <Button type="submit" disabled={update.isPending}>
            {update.isPending ? "Saving…" : "Save details"}
          </Button>
        </ModalActions>
      </form>
    </Modal>
  );
}
