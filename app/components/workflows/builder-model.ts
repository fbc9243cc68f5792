/**
 * The workflow builder's state and logic, without React: the draft definition as rows with stable keys
 * (steps and inputs can be renamed, duplicated or half-typed while they are edited), the reducer that edits
 * it, variable completion for templates, the mapping of validator issues onto steps and fields, and the
 * run form. Browser-safe and pure, so it is tested on its own (builder-model.test.ts).
 */
import { canonicalPath, type PathSegment, parseTemplate } from "#app/modules/ai/template.ts";
import {
  type DefinitionIssue,
  INPUT_TYPES,
  type InputSpec,
  type InputType,
  MAX_STEPS,
  type StepType,
  TEMPLATE_FIELDS,
  type WorkflowDefinition,
} from "#app/modules/workflows/definition.ts";
import {
  COMMAND_OUTPUT_KEYS,
  stepReferences,
  validateRunInput,
  type WorkflowValidation,
} from "#app/modules/workflows/validate.ts";

// ─── Types ───────────────────────────────────────────────────────────────────

export const STEP_TYPES: readonly StepType[] = ["llm", "transform", "command", "agent"];

/** How the builder names step types. */
export const STEP_TYPE_LABEL: Record<StepType, string> = {
  llm: "Model call",
  transform: "Transform",
  command: "Command",
  agent: "Agent",
};

export const STEP_TYPE_DESCRIPTION: Record<StepType, string> = {
  llm: "Send a prompt to a model; text or JSON answer",
  transform: "Render a template into text or JSON, no model",
  command: "Run a shell command in the sandbox",
  agent: "Let the coding agent change the project",
};

/** A step as edited: any JSON object (the validator says what is wrong with it). */
export type DraftStep = Record<string, unknown>;
/** An input's spec as edited. */
export type DraftInput = Record<string, unknown>;

export type StepRow = { key: string; step: DraftStep };
export type InputRow = { key: string; name: string; spec: DraftInput };

export type Selection = { kind: "step"; key: string } | { kind: "input"; key: string };

export type BuilderState = {
  /** The format version as loaded (kept as is; the validator checks it). */
  version: unknown;
  /** Top-level fields the format does not have, kept so the validator reports them. */
  extra: Record<string, unknown>;
  inputs: InputRow[];
  steps: StepRow[];
  selection: Selection | null;
  /** Source of row keys: deterministic, so the server and the browser render the same keys. */
  nextKey: number;
};

const IDENTIFIER = /^[a-z][a-z0-9_]{0,39}$/;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function isStepType(value: unknown): value is StepType {
  return typeof value === "string" && (STEP_TYPES as readonly string[]).includes(value);
}

export function isInputType(value: unknown): value is InputType {
  return typeof value === "string" && (INPUT_TYPES as readonly string[]).includes(value);
}

/** The step's id when it is a string (what the list shows), else "". */
export function stepId(step: DraftStep): string {
  return typeof step.id === "string" ? step.id : "";
}

// ─── Definition ⇄ state ──────────────────────────────────────────────────────

/**
 * Builder state from a definition (as loaded, or as typed in the JSON view). Refuses only what the builder
 * cannot show: a non-object, `steps` that is not a list of objects, `inputs` that is not an object of
 * objects. Everything else (unknown fields, wrong types) is kept for the validator to report.
 */
export function stateFromDefinition(
  definition: unknown,
  previous?: Pick<BuilderState, "nextKey" | "selection" | "steps" | "inputs">,
): { ok: true; state: BuilderState } | { ok: false; error: string } {
  if (!isObject(definition)) return { ok: false, error: "The definition must be a JSON object" };
  const { version, inputs = {}, steps = [], ...extra } = definition;
  if (!Array.isArray(steps)) return { ok: false, error: '"steps" must be a list of steps' };
  const badStep = steps.findIndex((step) => !isObject(step));
  if (badStep !== -1) return { ok: false, error: `steps[${badStep}] must be an object` };
  if (!isObject(inputs)) return { ok: false, error: '"inputs" must be an object of inputs by name' };
  const badInput = Object.entries(inputs).find(([, spec]) => !isObject(spec));
  if (badInput) return { ok: false, error: `inputs.${badInput[0]} must be an object` };

  let nextKey = previous?.nextKey ?? 1;
  const key = (prefix: string) => `${prefix}${nextKey++}`;
  // Rows keep their keys where they match by id/name, so React keeps their editors (and their focus).
  const oldSteps = new Map((previous?.steps ?? []).map((row) => [stepId(row.step), row.key]));
  const oldInputs = new Map((previous?.inputs ?? []).map((row) => [row.name, row.key]));
  const usedKeys = new Set<string>();
  const reuse = (map: Map<string, string>, name: string, prefix: string) => {
    const old = map.get(name);
    if (old !== undefined && !usedKeys.has(old)) {
      usedKeys.add(old);
      return old;
    }
    return key(prefix);
  };
  const stepRows: StepRow[] = (steps as DraftStep[]).map((step) => ({
    key: reuse(oldSteps, stepId(step), "s"),
    step: { ...step },
  }));
  const inputRows: InputRow[] = Object.entries(inputs).map(([name, spec]) => ({
    key: reuse(oldInputs, name, "i"),
    name,
    spec: { ...(spec as DraftInput) },
  }));
  const state: BuilderState = {
    version,
    extra,
    inputs: inputRows,
    steps: stepRows,
    selection: null,
    nextKey,
  };
  state.selection = carrySelection(previous, state);
  return { ok: true, state };
}

/** Keep the selected row when it still exists; else the step at the same position; else the first step. */
function carrySelection(
  previous: Pick<BuilderState, "selection" | "steps" | "inputs"> | undefined,
  next: BuilderState,
): Selection | null {
  const selection = previous?.selection;
  if (selection?.kind === "input") {
    if (next.inputs.some((row) => row.key === selection.key)) return selection;
  } else if (selection?.kind === "step") {
    if (next.steps.some((row) => row.key === selection.key)) return selection;
    const index = previous?.steps.findIndex((row) => row.key === selection.key) ?? -1;
    const same = next.steps[Math.min(Math.max(index, 0), next.steps.length - 1)];
    if (same) return { kind: "step", key: same.key };
  }
  const first = next.steps[0];
  return first ? { kind: "step", key: first.key } : null;
}

/** A fresh state for a definition, the first step selected. */
export function initialState(definition: unknown): BuilderState {
  const result = stateFromDefinition(definition);
  if (result.ok) return result.state;
  return { version: 1, extra: {}, inputs: [], steps: [], selection: null, nextKey: 1 };
}

/**
 * The definition the state stands for, in the format's key order. Of two inputs with one name, the first
 * wins (builderIssues reports the second).
 */
export function toDefinition(state: Pick<BuilderState, "version" | "extra" | "inputs" | "steps">) {
  const inputs: Record<string, DraftInput> = {};
  for (const row of state.inputs) {
    if (!Object.hasOwn(inputs, row.name)) inputs[row.name] = row.spec;
  }
  return {
    ...(state.version === undefined ? {} : { version: state.version }),
    inputs,
    steps: state.steps.map((row) => row.step),
    ...state.extra,
  };
}

/** JSON with sorted keys: equal definitions give equal text whatever their key order. */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) => {
    if (!isObject(inner)) return inner;
    return Object.fromEntries(
      Object.keys(inner)
        .sort()
        .map((k) => [k, inner[k]]),
    );
  });
}

/**
 * Whether the draft differs from the saved definition. A valid draft is compared with its defaults applied
 * (what the server would store), so `"output": "text"` written out or left implicit is the same workflow.
 */
export function isDirty(
  draft: unknown,
  validation: WorkflowValidation,
  saved: WorkflowDefinition | unknown,
): boolean {
  const comparable = validation.ok ? validation.definition : draft;
  return stableJson(comparable) !== stableJson(saved);
}

// ─── Defaults and unique names ───────────────────────────────────────────────

/** `base` when free, else `base_2`, `base_3`…, cut to fit the 40-character identifier limit. */
export function uniqueName(base: string, taken: Iterable<string>): string {
  const used = new Set(taken);
  const clean = base.slice(0, 40);
  if (!used.has(clean)) return clean;
  for (let n = 2; ; n++) {
    const suffix = `_${n}`;
    const candidate = `${clean.slice(0, 40 - suffix.length)}${suffix}`;
    if (!used.has(candidate)) return candidate;
  }
}

/** The id a new step of this type gets. */
const STEP_BASE_ID: Record<StepType, string> = {
  llm: "ask",
  transform: "format",
  command: "run",
  agent: "agent",
};

/** A new step with the format's defaults written out, so the config panel shows them. */
export function defaultStep(type: StepType, id: string, model = ""): DraftStep {
  switch (type) {
    case "llm":
      return { id, type, model, prompt: "", output: "text" };
    case "transform":
      return { id, type, template: "", output: "text" };
    case "command":
      return { id, type, run: "", timeoutSeconds: 300, continueOnError: false };
    case "agent":
      return { id, type, model, instructions: "", maxTurns: 30, maxMinutes: 20 };
  }
}

/** The main text of a step (what carries over when its type changes). */
export const MAIN_FIELD: Record<StepType, string> = {
  llm: "prompt",
  transform: "template",
  command: "run",
  agent: "instructions",
};

/** A first definition for "Blank workflow": one input, one step reading it. Valid as it is. */
export function blankDefinition(model: string | undefined) {
  const inputs = { task: { type: "text", label: "Task", description: "What the workflow should work on." } };
  if (model) {
    return {
      version: 1,
      inputs,
      steps: [{ id: "answer", type: "llm", model, prompt: "{{inputs.task}}", output: "text" }],
    };
  }
  return { version: 1, inputs, steps: [{ id: "answer", type: "transform", template: "{{inputs.task}}" }] };
}

// ─── Reducer ─────────────────────────────────────────────────────────────────

export type BuilderAction =
  | { type: "replace"; definition: unknown }
  | { type: "select"; selection: Selection | null }
  | { type: "addStep"; stepType: StepType; model?: string; after?: string | null }
  | { type: "removeStep"; key: string }
  | { type: "moveStep"; key: string; to: number }
  | { type: "moveStepBy"; key: string; delta: number }
  | { type: "updateStep"; key: string; patch: Record<string, unknown> }
  | { type: "changeStepType"; key: string; stepType: StepType; model?: string }
  | { type: "renameReferences"; root: ReferenceRoot; from: string; to: string }
  | { type: "addInput" }
  | { type: "removeInput"; key: string }
  | { type: "updateInput"; key: string; name?: string; patch?: Record<string, unknown> };

/** Set the patch's fields on an object; `undefined` removes a field. Key order is kept. */
export function applyPatch(target: Record<string, unknown>, patch: Record<string, unknown>) {
  const next = { ...target };
  for (const [field, value] of Object.entries(patch)) {
    if (value === undefined) delete next[field];
    else next[field] = value;
  }
  return next;
}

/** `list` with the item at `from` moved to `to` (both clamped). */
export function moveItem<T>(list: readonly T[], from: number, to: number): T[] {
  const next = [...list];
  if (from < 0 || from >= list.length) return next;
  const target = Math.min(Math.max(to, 0), list.length - 1);
  const [item] = next.splice(from, 1);
  next.splice(target, 0, item as T);
  return next;
}

export function builderReducer(state: BuilderState, action: BuilderAction): BuilderState {
  switch (action.type) {
    case "replace": {
      const result = stateFromDefinition(action.definition, state);
      return result.ok ? result.state : state;
    }
    case "select":
      return { ...state, selection: action.selection };
    case "addStep": {
      if (state.steps.length >= MAX_STEPS) return state;
      const id = uniqueName(
        STEP_BASE_ID[action.stepType],
        state.steps.map((row) => stepId(row.step)),
      );
      const row: StepRow = { key: `s${state.nextKey}`, step: defaultStep(action.stepType, id, action.model) };
      const after = action.after ? state.steps.findIndex((r) => r.key === action.after) : -1;
      const at = after === -1 ? state.steps.length : after + 1;
      const steps = [...state.steps.slice(0, at), row, ...state.steps.slice(at)];
      return { ...state, steps, nextKey: state.nextKey + 1, selection: { kind: "step", key: row.key } };
    }
    case "removeStep": {
      const index = state.steps.findIndex((row) => row.key === action.key);
      if (index === -1) return state;
      const steps = state.steps.filter((row) => row.key !== action.key);
      let selection = state.selection;
      if (selection?.kind === "step" && selection.key === action.key) {
        const neighbour = steps[Math.min(index, steps.length - 1)];
        selection = neighbour ? { kind: "step", key: neighbour.key } : null;
      }
      return { ...state, steps, selection };
    }
    case "moveStep": {
      const from = state.steps.findIndex((row) => row.key === action.key);
      if (from === -1) return state;
      const steps = moveItem(state.steps, from, action.to);
      return steps.every((row, i) => row === state.steps[i]) ? state : { ...state, steps };
    }
    case "moveStepBy": {
      const from = state.steps.findIndex((row) => row.key === action.key);
      const to = from + action.delta;
      if (from === -1 || to < 0 || to >= state.steps.length) return state;
      return { ...state, steps: moveItem(state.steps, from, to) };
    }
    case "updateStep":
      return {
        ...state,
        steps: state.steps.map((row) =>
          row.key === action.key ? { ...row, step: applyPatch(row.step, action.patch) } : row,
        ),
      };
    case "changeStepType":
      return {
        ...state,
        steps: state.steps.map((row) =>
          row.key === action.key
            ? { ...row, step: convertStep(row.step, action.stepType, action.model) }
            : row,
        ),
      };
    case "renameReferences": {
      if (action.from === action.to || !IDENTIFIER.test(action.to)) return state;
      let changed = false;
      const steps = state.steps.map((row) => {
        const step = renameReferences(row.step, action.root, action.from, action.to);
        if (step !== row.step) changed = true;
        return step === row.step ? row : { ...row, step };
      });
      return changed ? { ...state, steps } : state;
    }
    case "addInput": {
      const name = uniqueName(
        "input",
        state.inputs.map((row) => row.name),
      );
      const row: InputRow = { key: `i${state.nextKey}`, name, spec: { type: "string" } };
      return {
        ...state,
        inputs: [...state.inputs, row],
        nextKey: state.nextKey + 1,
        selection: { kind: "input", key: row.key },
      };
    }
    case "removeInput": {
      const index = state.inputs.findIndex((row) => row.key === action.key);
      if (index === -1) return state;
      const inputs = state.inputs.filter((row) => row.key !== action.key);
      let selection = state.selection;
      if (selection?.kind === "input" && selection.key === action.key) {
        const neighbour = inputs[Math.min(index, inputs.length - 1)];
        const first = state.steps[0];
        selection = neighbour
          ? { kind: "input", key: neighbour.key }
          : first
            ? { kind: "step", key: first.key }
            : null;
      }
      return { ...state, inputs, selection };
    }
    case "updateInput":
      return {
        ...state,
        inputs: state.inputs.map((row) =>
          row.key === action.key
            ? {
                ...row,
                name: action.name ?? row.name,
                spec: action.patch ? applyPatch(row.spec, action.patch) : row.spec,
              }
            : row,
        ),
      };
  }
}

/**
 * The step as another type: id and name stay, the main text moves to the new type's main field (a prompt
 * becomes a template or the agent's instructions), the model stays between llm and agent; the rest are the
 * new type's defaults.
 */
export function convertStep(step: DraftStep, type: StepType, model?: string): DraftStep {
  if (step.type === type) return step;
  const oldType = isStepType(step.type) ? step.type : null;
  const text = oldType ? step[MAIN_FIELD[oldType]] : undefined;
  const keptModel = typeof step.model === "string" && step.model ? step.model : model;
  const next = defaultStep(type, stepId(step), keptModel);
  if (typeof step.name === "string") {
    const { id, ...rest } = next;
    return {
      id,
      name: step.name,
      ...rest,
      ...(typeof text === "string" ? { [MAIN_FIELD[type]]: text } : {}),
    };
  }
  return typeof text === "string" ? { ...next, [MAIN_FIELD[type]]: text } : next;
}

/** What a rename rewrites: a step's id (`steps.<id>…`) or an input's name (`inputs.<name>…`). */
export type ReferenceRoot = "steps" | "inputs";

/**
 * Rewrite `{{steps.<from>…}}` to `{{steps.<to>…}}` (or `inputs.…`) in a template: what renaming a step or an
 * input does to the templates that read it. Spacing inside the braces is kept. A template that does not
 * parse is left as it is.
 */
export function renameInTemplate(body: string, root: ReferenceRoot, from: string, to: string): string {
  const parsed = parseTemplate(body);
  if (!parsed.ok) return body;
  let out = "";
  let last = 0;
  for (const part of parsed.parts) {
    if (part.kind !== "variable") continue;
    const [first, name, ...rest] = part.segments;
    if (first !== root || name !== from) continue;
    const open = /^\{\{(\s*)/.exec(part.source)?.[1] ?? "";
    const close = /(\s*)\}\}$/.exec(part.source)?.[1] ?? "";
    out += body.slice(last, part.offset);
    out += `{{${open}${canonicalPath([root, to, ...rest])}${close}}}`;
    last = part.end;
  }
  return last === 0 ? body : out + body.slice(last);
}

function renameReferences(step: DraftStep, root: ReferenceRoot, from: string, to: string): DraftStep {
  if (!isStepType(step.type)) return step;
  let next = step;
  for (const field of TEMPLATE_FIELDS[step.type]) {
    const body = step[field];
    if (typeof body !== "string") continue;
    const renamed = renameInTemplate(body, root, from, to);
    if (renamed !== body) next = { ...next, [field]: renamed };
  }
  return next;
}

/** The ids of the steps that read this step's output (to warn before removing it). */
export function readersOf(state: Pick<BuilderState, "steps">, key: string): string[] {
  const target = state.steps.find((row) => row.key === key);
  const id = target ? stepId(target.step) : "";
  if (!id) return [];
  const steps = state.steps
    .map((row) => row.step)
    .filter((step) => isStepType(step.type) && typeof step.id === "string") as WorkflowDefinition["steps"];
  const readers: string[] = [];
  for (const [reader, reads] of stepReferences({ steps })) {
    if (reads.has(id)) readers.push(reader);
  }
  return readers;
}

// ─── Variable completion ─────────────────────────────────────────────────────

/** An open tag at the cursor: the text typed after `{{` runs from `from` to the cursor. */
export type CompletionContext = { from: number; query: string; spaced: boolean };

/**
 * Whether the cursor is inside a tag being typed (`Plan: {{inp|`), and what was typed after `{{`. Not in
 * an escaped `\{{`, nor once the tag is closed or the line ends.
 */
export function completionContext(text: string, cursor: number): CompletionContext | null {
  const before = text.slice(0, cursor);
  const open = before.lastIndexOf("{{");
  if (open === -1) return null;
  // An escaped `\{{` is text; `{{{` is not a tag (the parser refuses triple braces).
  if (open > 0 && (before[open - 1] === "\\" || before[open - 1] === "{")) return null;
  const inside = before.slice(open + 2);
  if (inside.includes("}}") || inside.includes("\n") || inside.startsWith("{")) return null;
  const spaced = /^\s/.test(inside);
  const query = inside.trimStart();
  // Past the path (a space after it) the tag is complete, unless the space is inside a quoted key.
  if (/\s/.test(query) && !/\["[^"]*$/.test(query)) return null;
  return { from: cursor - query.length, query, spaced };
}

export type CompletionItem = {
  /** What is inserted: `inputs.task`, `steps.plan.output`, `project.files["src/app.ts"]`. */
  value: string;
  /** Why it is offered: `text input`, `output of step 1 (model call)`. */
  detail: string;
  group: "inputs" | "steps" | "project";
};

export type CompletionSources = {
  inputs: ReadonlyArray<Pick<InputRow, "name" | "spec">>;
  steps: ReadonlyArray<Pick<StepRow, "step">>;
  /** The step whose template is edited: only the steps before it can be read. */
  stepIndex: number;
  /** Project file paths. */
  files?: readonly string[];
};

/** What `{{…` can complete to, at step `stepIndex`: declared inputs, earlier steps' outputs, project values. */
export function completionItems(sources: CompletionSources): CompletionItem[] {
  const items: CompletionItem[] = [];
  const seenInputs = new Set<string>();
  for (const { name, spec } of sources.inputs) {
    if (!IDENTIFIER.test(name) || seenInputs.has(name)) continue;
    seenInputs.add(name);
    const type = isInputType(spec.type) ? spec.type : "input";
    const label = typeof spec.label === "string" && spec.label ? ` · ${spec.label}` : "";
    items.push({ value: `inputs.${name}`, detail: `${type} input${label}`, group: "inputs" });
  }
  const seenSteps = new Set<string>();
  sources.steps.slice(0, Math.max(sources.stepIndex, 0)).forEach(({ step }, index) => {
    const id = stepId(step);
    if (!IDENTIFIER.test(id) || seenSteps.has(id) || !isStepType(step.type)) return;
    seenSteps.add(id);
    const where = `step ${index + 1}, ${STEP_TYPE_LABEL[step.type].toLowerCase()}`;
    const base = `steps.${id}.output`;
    items.push({ value: base, detail: `output of ${where}`, group: "steps" });
    if (step.type === "command") {
      for (const key of COMMAND_OUTPUT_KEYS) {
        items.push({ value: `${base}.${key}`, detail: `${key} of ${where}`, group: "steps" });
      }
    } else if (step.output === "json" && isObject(step.schema) && isObject(step.schema.properties)) {
      for (const property of Object.keys(step.schema.properties)) {
        items.push({
          value: canonicalPath(["steps", id, "output", property]),
          detail: `field of ${where}`,
          group: "steps",
        });
      }
    }
  });
  items.push({ value: "project.name", detail: "the project's name", group: "project" });
  for (const path of sources.files ?? []) {
    items.push({
      value: canonicalPath(["project", "files", path]),
      detail: "file content",
      group: "project",
    });
  }
  return items;
}

/** Items matching what was typed: those that start with it first, then those that contain it. */
export function filterCompletions(items: readonly CompletionItem[], query: string, limit = 50) {
  const q = query.toLowerCase();
  if (!q) return items.slice(0, limit);
  const starts: CompletionItem[] = [];
  const contains: CompletionItem[] = [];
  for (const item of items) {
    const value = item.value.toLowerCase();
    if (value === q) continue;
    if (value.startsWith(q)) starts.push(item);
    else if (value.includes(q)) contains.push(item);
  }
  return [...starts, ...contains].slice(0, limit);
}

/**
 * Insert a completion: replace what was typed after `{{` (and the rest of the name after the cursor),
 * close the tag unless it is already closed, and put the cursor after it.
 */
export function applyCompletion(
  text: string,
  cursor: number,
  context: CompletionContext,
  value: string,
): { text: string; cursor: number } {
  const tail = /^[\w.]*/.exec(text.slice(cursor))?.[0] ?? "";
  const end = cursor + tail.length;
  const after = text.slice(end);
  const closed = /^\s*\}\}/.exec(after);
  const head = text.slice(0, context.from) + value;
  if (closed) return { text: head + after, cursor: head.length + closed[0].length };
  const close = context.spaced ? " }}" : "}}";
  return { text: head + close + after, cursor: head.length + close.length };
}

// ─── Issues ──────────────────────────────────────────────────────────────────

/** Where an issue belongs in the builder. `field` is the step's or input's field, or null for the whole row. */
export type IssueTarget =
  | { kind: "step"; key: string; index: number; field: string | null }
  | { kind: "input"; key: string; name: string; field: string | null }
  | { kind: "workflow" };

export type BuilderIssue = {
  target: IssueTarget;
  message: string;
  /** The JSON path in the definition (for the summary). */
  path: PathSegment[];
  severity: "error" | "warning";
};

/** The step or input (and its field) a JSON path points into. */
export function issueTarget(state: Pick<BuilderState, "steps" | "inputs">, path: readonly PathSegment[]) {
  const [section, at, field] = path;
  if (section === "steps" && typeof at === "number") {
    const row = state.steps[at];
    if (row)
      return {
        kind: "step",
        key: row.key,
        index: at,
        field: typeof field === "string" ? field : null,
      } as const;
  }
  if (section === "inputs" && typeof at === "string") {
    const row = state.inputs.find((r) => r.name === at);
    if (row) {
      return {
        kind: "input",
        key: row.key,
        name: at,
        field: typeof field === "string" ? field : null,
      } as const;
    }
  }
  return { kind: "workflow" } as const;
}

/**
 * Every problem of the draft, each placed on its step/input and field: the validator's errors and
 * warnings, and what only the builder can see (two inputs with one name).
 */
export function builderIssues(
  state: Pick<BuilderState, "steps" | "inputs">,
  validation: WorkflowValidation,
): BuilderIssue[] {
  const issues: BuilderIssue[] = [];
  const seen = new Set<string>();
  for (const row of state.inputs) {
    if (seen.has(row.name)) {
      issues.push({
        target: { kind: "input", key: row.key, name: row.name, field: "name" },
        message: `Another input is already named "${row.name}"`,
        path: ["inputs", row.name],
        severity: "error",
      });
    }
    seen.add(row.name);
  }
  const add = (issue: DefinitionIssue, severity: BuilderIssue["severity"]) => {
    let target: IssueTarget = issueTarget(state, issue.path);
    // A bad input name is reported at ["inputs", name]: it belongs to the name field.
    if (target.kind === "input" && target.field === null && /^Invalid name/.test(issue.message)) {
      target = { ...target, field: "name" };
    }
    issues.push({ target, message: issue.message, path: issue.path, severity });
  };
  if (validation.ok) for (const warning of validation.warnings) add(warning, "warning");
  else for (const error of validation.errors) add(error, "error");
  return issues;
}

/** The messages for one step/input field (`field` null: the row's own messages). */
export function messagesFor(
  issues: readonly BuilderIssue[],
  key: string,
  field: string | null,
  severity: BuilderIssue["severity"] = "error",
): string[] {
  return issues
    .filter(
      (issue) =>
        issue.severity === severity &&
        issue.target.kind !== "workflow" &&
        issue.target.key === key &&
        issue.target.field === field,
    )
    .map((issue) => issue.message);
}

/** How many errors a step or input has, all fields together. */
export function errorCount(issues: readonly BuilderIssue[], key: string): number {
  return issues.filter(
    (issue) => issue.severity === "error" && issue.target.kind !== "workflow" && issue.target.key === key,
  ).length;
}

/** `steps[1].prompt` for ["steps", 1, "prompt"]; `inputs.task` for ["inputs", "task"]. */
export function formatPath(path: readonly PathSegment[]): string {
  let text = "";
  for (const part of path) {
    if (typeof part === "number") text += `[${part}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(part)) text += text === "" ? part : `.${part}`;
    else text += `[${JSON.stringify(part)}]`;
  }
  return text;
}

/** Where an issue is, in the builder's words: "Step 2 (plan) · prompt", "Input task · default". */
export function describeTarget(target: IssueTarget, state: Pick<BuilderState, "steps">): string {
  if (target.kind === "workflow") return "Workflow";
  if (target.kind === "input") {
    return `Input ${target.name || "(no name)"}${target.field ? ` · ${target.field}` : ""}`;
  }
  const row = state.steps[target.index];
  const id = row ? stepId(row.step) : "";
  return `Step ${target.index + 1}${id ? ` (${id})` : ""}${target.field ? ` · ${target.field}` : ""}`;
}

// ─── JSON text ───────────────────────────────────────────────────────────────

/** Parse JSON text; on failure, the message with its line and column when the engine gives a position. */
export function parseJsonText(text: string): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const position = /position (\d+)/.exec(message);
    if (position) {
      const offset = Number(position[1]);
      const before = text.slice(0, offset);
      const line = before.split("\n").length;
      const column = offset - before.lastIndexOf("\n");
      return {
        ok: false,
        error: `Line ${line}, column ${column}: ${message.replace(/ in JSON at position \d+.*$/, "")}`,
      };
    }
    return { ok: false, error: message };
  }
}

// ─── Run form ────────────────────────────────────────────────────────────────

/** Form values by input name: text for most inputs, a boolean for checkboxes. */
export type RunFormValues = Record<string, string | boolean>;

/** The run form's first values: each input's default, as the form shows it. */
export function runFormDefaults(inputs: Record<string, InputSpec>): RunFormValues {
  const values: RunFormValues = {};
  for (const [name, spec] of Object.entries(inputs)) {
    const value = spec.default;
    if (spec.type === "boolean") values[name] = value === true;
    else if (spec.type === "json") values[name] = value === undefined ? "" : JSON.stringify(value, null, 2);
    else values[name] = value === undefined || value === null ? "" : String(value);
  }
  return values;
}

/**
 * The run's input from the form, checked as the server will check it (validateRunInput): errors by input
 * name ("" for the form as a whole). JSON inputs are parsed here first.
 */
export function runInputFromForm(
  inputs: Record<string, InputSpec>,
  values: RunFormValues,
): { ok: true; value: Record<string, unknown> } | { ok: false; errors: Record<string, string> } {
  const raw: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const [name, spec] of Object.entries(inputs)) {
    const value = values[name];
    if (value === undefined) continue;
    if (spec.type === "json" && typeof value === "string") {
      if (value.trim() === "") continue;
      const parsed = parseJsonText(value);
      if (parsed.ok) raw[name] = parsed.value;
      else errors[name] = `Not valid JSON: ${parsed.error}`;
    } else {
      raw[name] = value;
    }
  }
  const checked = validateRunInput({ inputs }, raw);
  if (!checked.ok) {
    for (const issue of checked.errors) {
      const [root, name] = issue.path;
      const key = root === "input" && typeof name === "string" && Object.hasOwn(inputs, name) ? name : "";
      errors[key] ??= issue.message;
    }
  }
  if (Object.keys(errors).length > 0 || !checked.ok) return { ok: false, errors };
  return { ok: true, value: checked.value };
}

/** Issues sent back by the server (`error.data.details.issues`) as errors by input name. */
export function runErrorsFromIssues(issues: unknown): Record<string, string> {
  const errors: Record<string, string> = {};
  if (!Array.isArray(issues)) return errors;
  for (const issue of issues) {
    if (!isObject(issue) || !Array.isArray(issue.path) || typeof issue.message !== "string") continue;
    const [root, name] = issue.path;
    errors[root === "input" && typeof name === "string" ? name : ""] ??= issue.message;
  }
  return errors;
}

// ─── Diff ────────────────────────────────────────────────────────────────────

export type PatchLine = { kind: "add" | "del" | "context" | "hunk"; text: string };

/** The lines of a unified diff worth showing: hunks and their lines, without the file headers. */
export function patchLines(patch: string): PatchLine[] {
  const lines: PatchLine[] = [];
  let inHunk = false;
  for (const line of patch.split("\n")) {
    if (line.startsWith("@@")) {
      inHunk = true;
      lines.push({ kind: "hunk", text: line });
      continue;
    }
    // File headers come before the first hunk; "\ No newline at end of file" is not a line of the text.
    if (!inHunk || line.startsWith("\\")) continue;
    if (line.startsWith("+")) lines.push({ kind: "add", text: line.slice(1) });
    else if (line.startsWith("-")) lines.push({ kind: "del", text: line.slice(1) });
    else if (line.startsWith(" ")) lines.push({ kind: "context", text: line.slice(1) });
  }
  return lines;
}
