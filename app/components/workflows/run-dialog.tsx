import clsx from "clsx";
import { type FormEvent, useEffect, useId, useState } from "react";
import { Modal, ModalActions } from "#app/components/projects/dialog.tsx";
import { Button } from "#app/components/ui/button.tsx";
import { FormAlert } from "#app/components/ui/field.tsx";
import type { InputSpec } from "#app/modules/workflows/definition.ts";
import { isInputRequired } from "#app/modules/workflows/validate.ts";
import { type RunFormValues, runFormDefaults, runInputFromForm } from "./builder-model.ts";
import { borderClass, FieldFooter, fieldAria, inputClass, monoClass } from "./fields.tsx";

/**
 * The run form, generated from the workflow's inputs: string → text box, text → text area, number, boolean →
 * checkbox, json → text area checked as JSON, a string with allowed values → select. Defaults are filled
 * in; values are checked as the server checks them before anything is sent, and the server's own answer
 * is shown by field too.
 */
export function RunDialog({
  open,
  onOpenChange,
  workflowName,
  inputs,
  saveFirst,
  version,
  onRun,
}: {
  open: boolean;
  onOpenChange: (open: boolean) => void;
  workflowName: string;
  inputs: Record<string, InputSpec>;
  /** The draft has unsaved changes: it is saved as a new version first. */
  saveFirst: boolean;
  version: number;
  /** Start the run; resolves with errors by input ("" for the form) when it was refused. */
  onRun: (input: Record<string, unknown>) => Promise<Record<string, string> | null>;
}) {
  const formId = useId();
  const [values, setValues] = useState<RunFormValues>(() => runFormDefaults(inputs));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [submitted, setSubmitted] = useState(false);
  const [busy, setBusy] = useState(false);
  // Each opening starts from the defaults of the inputs as they are now.
  // biome-ignore lint/correctness/useExhaustiveDependencies: reset when the dialog opens
  useEffect(() => {
    if (!open) return;
    setValues(runFormDefaults(inputs));
    setErrors({});
    setSubmitted(false);
  }, [open]);

  function change(name: string, value: string | boolean) {
    const next = { ...values, [name]: value };
    setValues(next);
    // After a first attempt, errors follow the typing.
    if (submitted) {
      const checked = runInputFromForm(inputs, next);
      setErrors(checked.ok ? {} : checked.errors);
    }
  }

  async function submit(event: FormEvent) {
    event.preventDefault();
    setSubmitted(true);
    const checked = runInputFromForm(inputs, values);
    if (!checked.ok) {
      setErrors(checked.errors);
      const first = Object.keys(inputs).find((name) => checked.errors[name]);
      if (first) document.getElementById(`${formId}-${first}`)?.focus();
      return;
    }
    setErrors({});
    setBusy(true);
    try {
      const refused = await onRun(checked.value);
      if (refused) setErrors(refused);
    } finally {
      setBusy(false);
    }
  }

  const names = Object.keys(inputs);
  return (
    <Modal
      open={open}
      onOpenChange={(next) => (busy ? undefined : onOpenChange(next))}
      title={`Run ${workflowName}`}
      description={
        saveFirst
          ? "Your changes are saved as a new version first, then that version runs."
          : `Runs version ${version} with these inputs.`
      }
      wide
    >
      <form onSubmit={submit} noValidate className="space-y-4" data-testid="run-form">
        {errors[""] ? <FormAlert>{errors[""]}</FormAlert> : null}
        {names.length === 0 ? (
          <p className="text-sm text-zinc-600 dark:text-zinc-400">This workflow takes no inputs.</p>
        ) : (
          names.map((name) => (
            <RunField
              key={name}
              id={`${formId}-${name}`}
              name={name}
              spec={inputs[name]!}
              value={values[name]}
              error={errors[name]}
              onChange={(value) => change(name, value)}
            />
          ))
        )}
        <ModalActions>
          <Button variant="secondary" onClick={() => onOpenChange(false)} disabled={busy}>
            Cancel
          </Button>
          <Button type="submit" disabled={busy}>
            {busy
              ? saveFirst
                ? "Saving and starting…"
                : "Starting…"
              : saveFirst
                ? "Save and run"
                : "Start run"}
          </Button>
        </ModalActions>
      </form>
    </Modal>
  );
}

function RunField({
  id,
  name,
  spec,
  value,
  error,
  onChange,
}: {
  id: string;
  name: string;
  spec: InputSpec;
  value: string | boolean | undefined;
  error: string | undefined;
  onChange: (value: string | boolean) => void;
}) {
  const messages = error ? [error] : [];
  const hint = spec.description;
  const required = isInputRequired(spec);
  const common = {
    id,
    name,
    ...fieldAria(id, hint, messages),
    "aria-required": required || undefined,
  };
  const text = typeof value === "string" ? value : "";
  const box = clsx(inputClass, borderClass(Boolean(error)));
  const label = (
    <label htmlFor={id} className="block text-sm font-medium text-zinc-800 dark:text-zinc-200">
      {spec.label || name}
      {required ? (
        <span className="ml-1 text-red-600 dark:text-red-400" aria-hidden="true">
          *
        </span>
      ) : (
        <span className="ml-1.5 text-xs font-normal text-zinc-500">optional</span>
      )}
      <span className="ml-2 font-mono text-xs font-normal text-zinc-400">{name}</span>
    </label>
  );
  if (spec.type === "boolean") {
    return (
      <div className="space-y-1">
        <div className="flex items-center gap-2">
          <input
            {...common}
            type="checkbox"
            checked={value === true}
            onChange={(event) => onChange(event.target.checked)}
            className="h-4 w-4 accent-brand-600"
          />
          {label}
        </div>
        <div className="pl-6">
          <FieldFooter id={id} hint={hint} messages={messages} />
        </div>
      </div>
    );
  }
  return (
    <div className="space-y-1.5">
      {label}
      {spec.type === "string" && spec.enum ? (
        <select
          {...common}
          value={text}
          onChange={(event) => onChange(event.target.value)}
          className={clsx(box, "h-9 px-2.5")}
        >
          {required && spec.default !== undefined ? null : (
            <option value="">{required ? "Choose…" : "None"}</option>
          )}
          {spec.enum.map((option) => (
            <option key={option} value={option}>
              {option}
            </option>
          ))}
        </select>
      ) : spec.type === "text" || spec.type === "json" ? (
        <textarea
          {...common}
          value={text}
          rows={spec.type === "json" ? 5 : 4}
          spellCheck={spec.type === "json" ? false : undefined}
          placeholder={spec.type === "json" ? '{"key": "value"}' : undefined}
          onChange={(event) => onChange(event.target.value)}
          className={clsx(box, "resize-y py-2", spec.type === "json" && monoClass)}
        />
      ) : (
        <input
          {...common}
          type="text"
          inputMode={spec.type === "number" ? "decimal" : undefined}
          autoComplete="off"
          value={text}
          onChange={(event) => onChange(event.target.value)}
          className={clsx(box, "h-9", spec.type === "number" && "tabular-nums")}
        />
      )}
      <FieldFooter id={id} hint={hint} messages={messages} />
    </div>
  );
}
