import { type ReactNode, useId, useRef } from "react";
import { Panel } from "#app/components/ui/panel.tsx";
import type { ModelOption } from "#app/modules/ai/ai.types.ts";
import { INPUT_TYPES, type InputType } from "#app/modules/workflows/definition.ts";
import {
  type BuilderAction,
  type BuilderIssue,
  type CompletionItem,
  type DraftInput,
  type DraftStep,
  isInputType,
  isStepType,
  messagesFor,
  STEP_TYPE_DESCRIPTION,
  STEP_TYPE_LABEL,
  STEP_TYPES,
  stepId,
} from "./builder-model.ts";
import {
  CheckboxField,
  fieldId,
  JsonField,
  LinesField,
  NumberField,
  SelectField,
  StepTypeIcon,
  TextAreaField,
  TextField,
} from "./fields.tsx";
import { ModelPicker } from "./model-picker.tsx";
import { TemplateEditor } from "./template-editor.tsx";

const removeButton =
  "inline-flex h-8 items-center rounded-md px-2.5 text-sm font-medium text-red-700 transition-colors hover:bg-red-50 dark:text-red-400 dark:hover:bg-red-950/50";

const str = (value: unknown) => (typeof value === "string" ? value : "");

const VARIABLES_HINT = (
  <>
    Type <code className="font-mono">{"{{"}</code> to insert a variable: inputs, earlier steps' outputs,
    project files.
  </>
);

/** A numeric setting of a step type: the step's field, its label, placeholder and hint. */
type NumberParam = { field: string; label: string; placeholder: string; integer?: boolean; hint?: string };

const LLM_PARAMS: readonly NumberParam[] = [
  {
    field: "temperature",
    label: "Temperature",
    placeholder: "Model default",
    hint: "0–2; 0 is repeatable (and cached).",
  },
  { field: "maxTokens", label: "Max output tokens", placeholder: "Model default", integer: true },
  { field: "seed", label: "Seed", placeholder: "None", integer: true },
];
const COMMAND_PARAMS: readonly NumberParam[] = [
  { field: "timeoutSeconds", label: "Timeout (seconds)", placeholder: "300", integer: true },
];
const AGENT_PARAMS: readonly NumberParam[] = [
  { field: "maxTurns", label: "Max turns", placeholder: "30", integer: true },
  { field: "maxMinutes", label: "Max minutes", placeholder: "20", integer: true },
  { field: "maxTokens", label: "Max tokens (in + out)", placeholder: "2,000,000", integer: true },
  { field: "maxCostUsd", label: "Max cost (USD)", placeholder: "No cap" },
];

/** The messages of the whole row (not tied to a field): unknown fields, a missing type. */
function RowMessages({ messages }: { messages: readonly string[] }) {
  if (messages.length === 0) return null;
  return (
    <ul className="space-y-0.5 rounded-md bg-red-50 px-3 py-2 text-xs font-medium text-red-800 dark:bg-red-950/50 dark:text-red-200">
      {messages.map((message) => (
        <li key={message}>{message}</li>
      ))}
    </ul>
  );
}

/** The panel of the selected row: its title, a remove button, the row's own messages, then its fields. */
function ConfigPanel({
  title,
  removeLabel,
  onRemove,
  testId,
  messages,
  children,
}: {
  title: ReactNode;
  removeLabel: string;
  onRemove: () => void;
  testId: string;
  messages: readonly string[];
  children: ReactNode;
}) {
  const titleId = useId();
  return (
    <Panel
      titleId={titleId}
      title={title}
      aside={
        <button type="button" className={removeButton} onClick={onRemove}>
          {removeLabel}
        </button>
      }
    >
      <div className="space-y-5 p-4" data-testid={testId}>
        <RowMessages messages={messages} />
        {children}
      </div>
    </Panel>
  );
}

/** The settings of the selected step, by type (the fields of definition.ts). */
export function StepConfig({
  rowKey,
  step,
  index,
  count,
  issues,
  dispatch,
  models,
  modelsLoading,
  defaultModel,
  completions,
  onRemove,
}: {
  rowKey: string;
  step: DraftStep;
  index: number;
  count: number;
  issues: readonly BuilderIssue[];
  dispatch: (action: BuilderAction) => void;
  models: ModelOption[] | undefined;
  modelsLoading: boolean;
  defaultModel: string | undefined;
  completions: readonly CompletionItem[];
  onRemove: () => void;
}) {
  const type = isStepType(step.type) ? step.type : null;
  const f = (field: string) => fieldId(rowKey, field);
  const m = (field: string) => messagesFor(issues, rowKey, field);
  const set = (patch: Record<string, unknown>) => dispatch({ type: "updateStep", key: rowKey, patch });
  // The id when the field was focused: leaving it rewrites the templates that read the old id.
  const idAtFocus = useRef<string | null>(null);
  const template = (field: string, label: string, rows: number, placeholder: string, optional = false) => (
    <TemplateEditor
      id={f(field)}
      label={label}
      value={str(step[field])}
      onChange={(value) => set({ [field]: optional && value === "" ? undefined : value })}
      items={completions}
      messages={m(field)}
      rows={rows}
      placeholder={placeholder}
      hint={VARIABLES_HINT}
      aside={optional ? <span className="text-xs text-zinc-500">Optional</span> : undefined}
    />
  );
  // The numeric settings of a step type, side by side (columns: the grid's sm: column class).
  const numbers = (columns: "sm:grid-cols-2" | "sm:grid-cols-3", params: readonly NumberParam[]) => (
    <div className={`grid gap-4 ${columns}`}>
      {params.map((param) => (
        <NumberField
          key={param.field}
          id={f(param.field)}
          label={param.label}
          integer={param.integer}
          value={step[param.field]}
          onChange={(value) => set({ [param.field]: value })}
          placeholder={param.placeholder}
          messages={m(param.field)}
          hint={param.hint}
        />
      ))}
    </div>
  );
  return (
    <ConfigPanel
      title={
        <span className="flex items-center gap-2">
          <StepTypeIcon type={type} className="text-zinc-500" />
          Step {index + 1} of {count}
          <span className="font-normal text-zinc-500">· {type ? STEP_TYPE_LABEL[type] : "no type"}</span>
        </span>
      }
      removeLabel="Remove step"
      onRemove={onRemove}
      testId="step-config"
      messages={messagesFor(issues, rowKey, null)}
    >
      <div className="grid gap-4 sm:grid-cols-2">
        <TextField
          id={f("id")}
          label="Step id"
          mono
          value={str(step.id)}
          maxLength={40}
          onFocus={() => {
            idAtFocus.current = stepId(step);
          }}
          onChange={(value) => set({ id: value })}
          onBlur={() => {
            const from = idAtFocus.current;
            idAtFocus.current = null;
            if (from && from !== stepId(step)) {
              dispatch({ type: "renameReferences", root: "steps", from, to: stepId(step) });
            }
          }}
          messages={m("id")}
          hint={
            <>
              Later steps read its output as{" "}
              <code className="font-mono">{`{{steps.${stepId(step) || "id"}.output}}`}</code>
            </>
          }
        />
        <TextField
          id={f("name")}
          label="Display name"
          value={str(step.name)}
          maxLength={100}
          placeholder={stepId(step) || "Optional"}
          onChange={(value) => set({ name: value === "" ? undefined : value })}
          messages={m("name")}
          hint="Shown in the run's results; defaults to the id."
        />
      </div>
      <SelectField
        id={f("type")}
        label="Type"
        value={type ?? ""}
        onChange={(value) => {
          if (isStepType(value)) {
            dispatch({ type: "changeStepType", key: rowKey, stepType: value, model: defaultModel });
          }
        }}
        messages={m("type")}
        hint={type ? STEP_TYPE_DESCRIPTION[type] : undefined}
      >
        {type ? null : <option value="">Choose a type…</option>}
        {STEP_TYPES.map((t) => (
          <option key={t} value={t}>
            {STEP_TYPE_LABEL[t]}
          </option>
        ))}
      </SelectField>

      {type === "llm" || type === "agent" ? (
        <ModelPicker
          id={f("model")}
          value={str(step.model)}
          onChange={(value) => set({ model: value })}
          models={models}
          loading={modelsLoading}
          messages={m("model")}
        />
      ) : null}

      {type === "llm" ? (
        <>
          {template("system", "System prompt", 3, "You are a careful senior engineer.", true)}
          {template("prompt", "Prompt", 8, "Summarise {{inputs.task}} in three bullet points.")}
          {numbers("sm:grid-cols-3", LLM_PARAMS)}
          <OutputField rowKey={rowKey} step={step} issues={issues} set={set} />
          {step.output === "json" || step.schema !== undefined ? (
            <JsonField
              id={f("schema")}
              label="JSON schema of the answer (optional)"
              value={step.schema}
              onChange={(value) => set({ schema: value })}
              rows={8}
              placeholder={
                '{"type": "object", "properties": {"summary": {"type": "string"}}, "required": ["summary"]}'
              }
              messages={m("schema")}
              hint="The parsed answer must match it; its properties are offered as variables to later steps."
            />
          ) : null}
        </>
      ) : null}

      {type === "transform" ? (
        <>
          {template("template", "Template", 8, "Plan:\n{{steps.plan.output}}")}
          <OutputField rowKey={rowKey} step={step} issues={issues} set={set} />
        </>
      ) : null}

      {type === "command" ? (
        <>
          {template("run", "Command", 3, "npm test")}
          {numbers("sm:grid-cols-2", COMMAND_PARAMS)}
          <CheckboxField
            id={f("continueOnError")}
            label="Continue when the command fails"
            checked={step.continueOnError === true}
            onChange={(checked) => set({ continueOnError: checked })}
            messages={m("continueOnError")}
            hint="Otherwise a non-zero exit code fails the run. Later steps can read exitCode, stdout and stderr."
          />
        </>
      ) : null}

      {type === "agent" ? (
        <>
          {template("instructions", "Instructions", 8, "Implement {{inputs.task}}, then run the tests.")}
          {numbers("sm:grid-cols-3", AGENT_PARAMS)}
        </>
      ) : null}
    </ConfigPanel>
  );
}

function OutputField({
  rowKey,
  step,
  issues,
  set,
}: {
  rowKey: string;
  step: DraftStep;
  issues: readonly BuilderIssue[];
  set: (patch: Record<string, unknown>) => void;
}) {
  const value = step.output === "json" ? "json" : "text";
  return (
    <SelectField
      id={fieldId(rowKey, "output")}
      label="Output"
      value={value}
      onChange={(next) => set({ output: next })}
      messages={messagesFor(issues, rowKey, "output")}
      hint={
        value === "json"
          ? "Parsed as JSON: later steps can read its fields (steps.id.output.field)."
          : "Plain text: later steps read it whole."
      }
    >
      <option value="text">Text</option>
      <option value="json">JSON</option>
    </SelectField>
  );
}

const INPUT_TYPE_LABEL: Record<InputType, string> = {
  string: "String (one line)",
  text: "Text (several lines)",
  number: "Number",
  boolean: "Boolean (yes/no)",
  json: "JSON value",
};

/** The patch that changes an input's type: a default or allowed values the new type cannot have go. */
function typePatch(spec: DraftInput, type: InputType): Record<string, unknown> {
  const patch: Record<string, unknown> = { type };
  if (type !== "string") patch.enum = undefined;
  const value = spec.default;
  const fits =
    value === undefined ||
    type === "json" ||
    (type === "number" && typeof value === "number") ||
    (type === "boolean" && typeof value === "boolean") ||
    ((type === "string" || type === "text") && typeof value === "string");
  if (!fits) patch.default = undefined;
  return patch;
}

/** The settings of the selected input (the fields of ZInputSpec). */
export function InputConfig({
  rowKey,
  name,
  spec,
  issues,
  dispatch,
  onRemove,
}: {
  rowKey: string;
  name: string;
  spec: DraftInput;
  issues: readonly BuilderIssue[];
  dispatch: (action: BuilderAction) => void;
  onRemove: () => void;
}) {
  const f = (field: string) => fieldId(rowKey, field);
  const m = (field: string) => messagesFor(issues, rowKey, field);
  const warnings = messagesFor(issues, rowKey, null, "warning");
  const set = (patch: Record<string, unknown>) => dispatch({ type: "updateInput", key: rowKey, patch });
  const type = isInputType(spec.type) ? spec.type : null;
  const nameAtFocus = useRef<string | null>(null);
  const enumValues = Array.isArray(spec.enum) ? spec.enum.map(String) : null;
  // As the validator reads it: required unless it says otherwise or has a default.
  const required = typeof spec.required === "boolean" ? spec.required : spec.default === undefined;
  return (
    <ConfigPanel
      title={
        <span>
          Input <span className="font-mono font-normal">{name || "(no name)"}</span>
        </span>
      }
      removeLabel="Remove input"
      onRemove={onRemove}
      testId="input-config"
      messages={messagesFor(issues, rowKey, null)}
    >
      {warnings.length > 0 ? (
        <ul className="space-y-0.5 rounded-md bg-amber-50 px-3 py-2 text-xs text-amber-900 dark:bg-amber-950/40 dark:text-amber-200">
          {warnings.map((warning) => (
            <li key={warning}>{warning}</li>
          ))}
        </ul>
      ) : null}
      <div className="grid gap-4 sm:grid-cols-2">
        <TextField
          id={f("name")}
          label="Name"
          mono
          value={name}
          maxLength={40}
          onFocus={() => {
            nameAtFocus.current = name;
          }}
          onChange={(value) => dispatch({ type: "updateInput", key: rowKey, name: value })}
          onBlur={() => {
            const from = nameAtFocus.current;
            nameAtFocus.current = null;
            if (from && from !== name) dispatch({ type: "renameReferences", root: "inputs", from, to: name });
          }}
          messages={m("name")}
          hint={
            <>
              Steps read it as <code className="font-mono">{`{{inputs.${name || "name"}}}`}</code>
            </>
          }
        />
        <SelectField
          id={f("type")}
          label="Type"
          value={type ?? ""}
          onChange={(value) => {
            if (isInputType(value)) set(typePatch(spec, value));
          }}
          messages={m("type")}
        >
          {type ? null : <option value="">Choose a type…</option>}
          {INPUT_TYPES.map((t) => (
            <option key={t} value={t}>
              {INPUT_TYPE_LABEL[t]}
            </option>
          ))}
        </SelectField>
        <TextField
          id={f("label")}
          label="Label"
          value={str(spec.label)}
          maxLength={100}
          placeholder={name || "Shown in the run form"}
          onChange={(value) => set({ label: value === "" ? undefined : value })}
          messages={m("label")}
        />
        <div className="sm:pt-7">
          <CheckboxField
            id={f("required")}
            label="Required"
            checked={required}
            onChange={(checked) => set({ required: checked })}
            messages={m("required")}
            hint="A run must give it, unless it has a default."
          />
        </div>
      </div>
      <TextAreaField
        id={f("description")}
        label="Description"
        value={str(spec.description)}
        rows={2}
        placeholder="What to enter here (shown under the field in the run form)."
        onChange={(value) => set({ description: value === "" ? undefined : value })}
        messages={m("description")}
      />
      <DefaultField
        rowKey={rowKey}
        spec={spec}
        type={type}
        enumValues={enumValues}
        messages={m("default")}
        set={set}
      />
      {type === "string" || spec.enum !== undefined ? (
        <LinesField
          id={f("enum")}
          label="Allowed values (optional)"
          value={spec.enum}
          onChange={(value) => set({ enum: value })}
          placeholder={"One per line:\nconcise\ndetailed"}
          messages={m("enum")}
          hint="One per line. The run form then offers a list to choose from."
        />
      ) : null}
    </ConfigPanel>
  );
}

function DefaultField({
  rowKey,
  spec,
  type,
  enumValues,
  messages,
  set,
}: {
  rowKey: string;
  spec: DraftInput;
  type: InputType | null;
  enumValues: string[] | null;
  messages: readonly string[];
  set: (patch: Record<string, unknown>) => void;
}) {
  const id = fieldId(rowKey, "default");
  const label = "Default (optional)";
  const value = spec.default;
  if (type === "number") {
    return (
      <NumberField
        id={id}
        label={label}
        value={value}
        onChange={(v) => set({ default: v })}
        messages={messages}
      />
    );
  }
  if (type === "boolean" || (type === "string" && enumValues)) {
    const options = type === "boolean" ? ["true", "false"] : (enumValues ?? []);
    const current = value === undefined ? "" : String(value);
    return (
      <SelectField
        id={id}
        label={label}
        value={current}
        onChange={(next) =>
          set({ default: next === "" ? undefined : type === "boolean" ? next === "true" : next })
        }
        messages={messages}
      >
        <option value="">No default</option>
        {current && !options.includes(current) ? <option value={current}>{current}</option> : null}
        {options.map((option) => (
          <option key={option} value={option}>
            {option}
          </option>
        ))}
      </SelectField>
    );
  }
  if (type === "json") {
    return (
      <JsonField
        id={id}
        label={label}
        value={value}
        rows={4}
        onChange={(v) => set({ default: v })}
        placeholder='{"key": "value"}'
        messages={messages}
      />
    );
  }
  const text = typeof value === "string" ? value : value === undefined ? "" : JSON.stringify(value);
  return type === "text" ? (
    <TextAreaField
      id={id}
      label={label}
      value={text}
      rows={3}
      onChange={(v) => set({ default: v === "" ? undefined : v })}
      messages={messages}
    />
  ) : (
    <TextField
      id={id}
      label={label}
      value={text}
      onChange={(v) => set({ default: v === "" ? undefined : v })}
      messages={messages}
    />
  );
}
