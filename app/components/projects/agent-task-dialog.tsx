import { useNavigate } from "@remix-run/react";
import { useMutation, useQuery } from "@tanstack/react-query";
import { TRPCClientError } from "@trpc/client";
import clsx from "clsx";
import { type FormEvent, useEffect, useId, useState } from "react";
import { Modal, ModalActions } from "#app/components/projects/dialog.tsx";
import { Button } from "#app/components/ui/button.tsx";
import { FormAlert } from "#app/components/ui/field.tsx";
import { TextAreaField, TextField } from "#app/components/workflows/fields.tsx";
import { ModelPicker } from "#app/components/workflows/model-picker.tsx";
import {
  type AgentTaskKind,
  DEFAULT_TEST_COMMAND,
  MAX_AGENT_TASK_CHARS,
  MAX_TEST_COMMAND_CHARS,
  ZAgentTaskFields,
} from "#app/modules/agent/agent-task.types.ts";
import type { ModelOption } from "#app/modules/ai/ai.types.ts";
import { useTRPC } from "#app/trpc/client.ts";
import { errorMessage } from "./api.ts";

type Errors = Partial<Record<"kind" | "task" | "testCommand" | "model" | "", string>>;

/** The model the server would pick: the first available one that is not the demo, else the demo. */
function defaultModel(models: ModelOption[]): string {
  return (
    models.find((model) => model.available && !model.demo)?.id ??
    models.find((model) => model.available && model.demo)?.id ??
    ""
  );
}

/** The server's refusal by field (details.issues), with the message for the form when none names a field. */
function errorsOf(error: unknown): Errors {
  const issues =
    error instanceof TRPCClientError
      ? (error.data as { details?: { issues?: Array<{ path?: unknown[]; message?: string }> } } | undefined)
          ?.details?.issues
      : undefined;
  const byField: Errors = {};
  for (const issue of issues ?? []) {
    const field = issue.path?.[0];
    if ((field === "task" || field === "testCommand" || field === "model") && issue.message) {
      byField[field] ??= issue.message;
    }
  }
  return { ...byField, "": errorMessage(error) };
}

const KINDS: Array<{ kind: AgentTaskKind; label: string; hint: string }> = [
  {
    kind: "fix-tests",
    label: "Fix failing tests",
    hint: "Runs the tests, lets the agent fix what fails, then runs them again.",
  },
  {
    kind: "custom",
    label: "Describe a task",
    hint: "The agent does what you describe; the tests run afterwards when a command is given.",
  },
];

/**
 * Start an agent on the project in one step: fix the failing tests, or a task in your own words. It reuses
 * the project's workflow for that task (made on first use), then opens the run.
 */
export function AgentTaskDialog({
  projectId,
  open,
  onOpenChange,
}: {
  projectId: string;
  open: boolean;
  onOpenChange: (open: boolean) => void;
}) {
  const formId = useId();
  const trpc = useTRPC();
  const navigate = useNavigate();
  const models = useQuery({ ...trpc.ai.models.queryOptions(), staleTime: 30_000, enabled: open });
  const start = useMutation(trpc.agentTask.start.mutationOptions());
  const [kind, setKind] = useState<AgentTaskKind>("fix-tests");
  const [task, setTask] = useState("");
  const [testCommand, setTestCommand] = useState(DEFAULT_TEST_COMMAND);
  const [model, setModel] = useState("");
  const [errors, setErrors] = useState<Errors>({});
  const busy = start.isPending;

  // The first time the models arrive, preselect the one the server would choose.
  useEffect(() => {
    if (model === "" && models.data) setModel(defaultModel(models.data.items));
  }, [model, models.data]);
  // biome-ignore lint/correctness/useExhaustiveDependencies: a fresh form at each opening, model kept
  useEffect(() => {
    if (open) {
      setErrors({});
      start.reset();
    }
  }, [open]);

  const available = models.data?.items.filter((option) => option.available) ?? [];
  const noModel = models.isSuccess && available.length === 0;

  async function submit(event: FormEvent) {
    event.preventDefault();
    const fields = {
      kind,
      task: kind === "custom" ? task : undefined,
      testCommand,
      model: model || undefined,
    };
    const checked = ZAgentTaskFields.safeParse(fields);
    if (!checked.success) {
      const byField: Errors = {};
      for (const issue of checked.error.issues) {
        const field = issue.path[0];
        if (field === "task" || field === "testCommand" || field === "model" || field === "kind") {
          byField[field] ??= issue.message;
        }
      }
      setErrors(byField);
      const first = (["task", "testCommand", "model"] as const).find((field) => byField[field]);
      if (first) document.getElementById(`${formId}-${first}`)?.focus();
      return;
    }
    setErrors({});
    try {
      const { runId } = await start.mutateAsync({ id: projectId, ...fields });
      onOpenChange(false);
      navigate(`/runs/${runId}`);
    } catch (error) {
      setErrors(errorsOf(error));
    }
  }

  const message = (field: keyof Errors) => (errors[field] ? [errors[field]] : []);
  return (
    <Modal
      open={open}
      onOpenChange={(next) => (busy ? undefined : onOpenChange(next))}
      title="Agent task"
      description="An agent works on a copy of the project; you review its changes before they are applied."
      wide
    >
      <form onSubmit={submit} noValidate className="space-y-4" data-testid="agent-task-form" aria-busy={busy}>
        {errors[""] ? <FormAlert>{errors[""]}</FormAlert> : null}
        {noModel ? (
          <FormAlert>
            No model is available yet.{" "}
            <a href="/settings/providers" className="font-medium underline underline-offset-2">
              Add an API key in Settings → Providers
            </a>{" "}
            to start an agent.
          </FormAlert>
        ) : null}
        <fieldset className="space-y-2">
          <legend className="text-sm font-medium text-zinc-800 dark:text-zinc-200">What should it do?</legend>
          <div className="grid gap-2 sm:grid-cols-2">
            {KINDS.map((option) => (
              <label
                key={option.kind}
                className={clsx(
                  "flex cursor-pointer gap-3 rounded-md border p-3 text-sm has-[:focus-visible]:outline-2 has-[:focus-visible]:outline-brand-600",
                  kind === option.kind
                    ? "border-brand-600 bg-brand-50 dark:border-brand-500 dark:bg-brand-700/20"
                    : "border-zinc-300 hover:bg-zinc-50 dark:border-zinc-700 dark:hover:bg-zinc-800/50",
                )}
              >
                <input
                  type="radio"
                  name={`${formId}-kind`}
                  value={option.kind}
                  checked={kind === option.kind}
                  onChange={() => setKind(option.kind)}
                  className="mt-0.5 h-4 w-4 accent-brand-600"
                />
                <span>
                  <span className="block font-medium text-zinc-900 dark:text-zinc-100">{option.label}</span>
                  <span className="mt-0.5 block text-xs text-zinc-600 dark:text-zinc-400">{option.hint}</span>
                </span>
              </label>
            ))}
          </div>
        </fieldset>
        {kind === "custom" ? (
          <TextAreaField
            id={`${formId}-task`}
            label="Task"
            value={task}
            onChange={setTask}
            rows={5}
            placeholder="e.g. Add input validation to the signup form and cover it with tests"
            hint={`What the agent should do, in your own words (up to ${MAX_AGENT_TASK_CHARS.toLocaleString("en")} characters).`}
            messages={message("task")}
          />
        ) : null}
        <TextField
          id={`${formId}-testCommand`}
          label="Test command"
          value={testCommand}
          onChange={setTestCommand}
          mono
          maxLength={MAX_TEST_COMMAND_CHARS}
          hint={
            kind === "custom"
              ? "Runs after the agent; the run fails if the tests fail. Leave it empty to run no tests."
              : "Runs in the sandbox before and after the agent's fix."
          }
          messages={message("testCommand")}
        />
        <ModelPicker
          id={`${formId}-model`}
          value={model}
          onChange={setModel}
          models={models.data?.items}
          loading={models.isPending}
          messages={message("model")}
        />
        {models.isError ? (
          <FormAlert>The models could not be loaded: {errorMessage(models.error)}</FormAlert>
        ) : null}
        <ModalActions>
          <Button variant="secondary" onClick={() => onOpenChange(false)} disabled={busy}>
            Cancel
          </Button>
          <Button type="submit" disabled={busy || noModel} data-testid="agent-task-start">
            {busy ? "Starting…" : "Start"}
          </Button>
        </ModalActions>
      </form>
    </Modal>
  );
}
