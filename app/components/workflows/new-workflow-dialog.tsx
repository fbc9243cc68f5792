import { useNavigate } from "@remix-run/react";
import { useMutation, useQuery } from "@tanstack/react-query";
import clsx from "clsx";
import { type FormEvent, useEffect, useId, useState } from "react";
import { defaultModel } from "#app/components/ai/model-select.tsx";
import { errorCode, errorMessage } from "#app/components/projects/api.ts";
import { Modal, ModalActions } from "#app/components/projects/dialog.tsx";
import { Button } from "#app/components/ui/button.tsx";
import { Field, FormAlert } from "#app/components/ui/field.tsx";
import type { WorkflowTemplateView } from "#app/modules/workflows/workflows.types.ts";
import { useTRPC } from "#app/trpc/client.ts";
import { blankDefinition, isStepType, STEP_TYPE_LABEL } from "./builder-model.ts";
import { StepTypeIcon } from "./fields.tsx";

const BLANK = "blank";

/**
 * A new workflow: blank (one input and one step to start from) or one of the starter templates, shown as
 * cards with their steps. Creates it and opens the builder.
 */
export function NewWorkflowDialog({
  open,
  onOpenChange,
  projectId,
  templates,
}: {
  open: boolean;
  onOpenChange: (open: boolean) => void;
  projectId: string;
  templates: WorkflowTemplateView[];
}) {
  const trpc = useTRPC();
  const navigate = useNavigate();
  const id = useId();
  const [choice, setChoice] = useState(BLANK);
  const [name, setName] = useState("");
  const [nameError, setNameError] = useState<string | null>(null);
  // The model a blank workflow's first step uses: the same default as everywhere (a real model before the demo).
  const models = useQuery({ ...trpc.ai.models.queryOptions(), enabled: open, staleTime: 30_000 });
  const create = useMutation(trpc.workflows.create.mutationOptions());
  const fromTemplate = useMutation(trpc.workflows.createFromTemplate.mutationOptions());
  const busy = create.isPending || fromTemplate.isPending;
  const failure = create.error ?? fromTemplate.error;
  const template = templates.find((t) => t.id === choice);

  // biome-ignore lint/correctness/useExhaustiveDependencies: a fresh form each time it opens
  useEffect(() => {
    if (!open) return;
    setChoice(BLANK);
    setName("");
    setNameError(null);
    create.reset();
    fromTemplate.reset();
  }, [open]);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setNameError(null);
    const trimmed = name.trim();
    if (!template && !trimmed) {
      setNameError("Enter a name");
      return;
    }
    try {
      const workflow = template
        ? await fromTemplate.mutateAsync({
            id: projectId,
            templateId: template.id,
            name: trimmed || undefined,
          })
        : await create.mutateAsync({
            id: projectId,
            name: trimmed,
            definition: blankDefinition(models.data ? defaultModel(models.data.items) : undefined),
          });
      onOpenChange(false);
      navigate(`/projects/${projectId}/workflows/${workflow.id}`);
    } catch (error) {
      // A taken name belongs under the name field; anything else above the form.
      if (errorCode(error) === "CONFLICT") setNameError(errorMessage(error));
    }
  }

  const card = (selected: boolean) =>
    clsx(
      "flex h-full cursor-pointer flex-col rounded-lg border p-3 text-left has-[:focus-visible]:outline-2 has-[:focus-visible]:outline-offset-2 has-[:focus-visible]:outline-brand-500",
      selected
        ? "border-brand-500 bg-brand-50 dark:border-brand-500 dark:bg-brand-700/20"
        : "border-zinc-200 hover:border-zinc-300 dark:border-zinc-800 dark:hover:border-zinc-700",
    );

  return (
    <Modal
      open={open}
      onOpenChange={(next) => (busy ? undefined : onOpenChange(next))}
      title="New workflow"
      description="Start from a template or from a blank workflow; you can change everything in the builder."
      wide
    >
      <form onSubmit={submit} className="space-y-5" noValidate>
        {failure && errorCode(failure) !== "CONFLICT" ? <FormAlert>{errorMessage(failure)}</FormAlert> : null}
        <fieldset>
          <legend className="text-sm font-medium text-zinc-800 dark:text-zinc-200">Start from</legend>
          <div className="mt-2 grid gap-3 sm:grid-cols-2">
            <label className={card(choice === BLANK)} data-testid="template-card">
              <input
                type="radio"
                name={`${id}-start`}
                value={BLANK}
                checked={choice === BLANK}
                onChange={() => setChoice(BLANK)}
                className="sr-only"
              />
              <span className="text-sm font-semibold">Blank workflow</span>
              <span className="mt-1 text-xs text-zinc-600 dark:text-zinc-400">
                One text input and one model step that answers it. Add your own steps from there.
              </span>
            </label>
            {templates.map((t) => (
              <label key={t.id} className={card(choice === t.id)} data-testid="template-card">
                <input
                  type="radio"
                  name={`${id}-start`}
                  value={t.id}
                  checked={choice === t.id}
                  onChange={() => setChoice(t.id)}
                  className="sr-only"
                />
                <span className="text-sm font-semibold">{t.name}</span>
                <span className="mt-1 text-xs text-zinc-600 dark:text-zinc-400">{t.description}</span>
                <span className="sr-only">{t.stepCount} steps:</span>
                <span className="mt-auto flex flex-wrap gap-1 pt-2">
                  {t.definition.steps.map((step) => (
                    <span
                      key={step.id}
                      title={`${step.id}: ${isStepType(step.type) ? STEP_TYPE_LABEL[step.type] : step.type}`}
                      className="inline-flex items-center gap-1 rounded bg-zinc-100 px-1.5 py-0.5 font-mono text-[11px] text-zinc-700 dark:bg-zinc-800 dark:text-zinc-300"
                    >
                      <StepTypeIcon type={step.type} className="h-3 w-3" />
                      {step.id}
                    </span>
                  ))}
                </span>
              </label>
            ))}
          </div>
        </fieldset>
        <Field
          label={template ? "Name (optional)" : "Name"}
          value={name}
          onChange={(event) => setName(event.target.value)}
          maxLength={100}
          autoComplete="off"
          placeholder={template ? template.name : "Review a pull request"}
          hint={template ? "Leave empty to use the template's name." : undefined}
          error={nameError}
          required={!template}
        />
        {template?.definition.steps.some((s) => s.type === "llm" || s.type === "agent") ? (
          <p className="text-xs text-zinc-500">
            Its model steps use your default model
            {models.data ? ` (${defaultModel(models.data.items) ?? "none available yet"})` : ""}; change them
            in the builder.
          </p>
        ) : null}
        <ModalActions>
          <Button variant="secondary" onClick={() => onOpenChange(false)} disabled={busy}>
            Cancel
          </Button>
          <Button type="submit" disabled={busy || (!template && models.isPending)}>
            {busy ? "Creating…" : "Create workflow"}
          </Button>
        </ModalActions>
      </form>
    </Modal>
  );
}
