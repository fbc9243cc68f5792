/**
 * Checks a workflow definition beyond its shape: duplicate step ids, templates that parse, variables that
 * name declared inputs and earlier steps, output paths that exist, known models, input defaults and enums,
 * JSON schemas. Every problem is reported with its JSON path, not just the first, so the builder can mark
 * all of them at once. Browser-safe (the builder validates as you type): no server imports.
 *
 * Step positions in messages count from 1 ("step 4" is `steps[3]`), as the builder shows them.
 */
import { parseModelId } from "#app/modules/ai/ai.types.ts";
import {
  canonicalPath,
  type PathSegment,
  parseTemplate,
  type TemplateIssue,
} from "#app/modules/ai/template.ts";
import {
  type DefinitionIssue,
  INPUT_TYPES,
  type InputSpec,
  type InputType,
  MAX_TEMPLATE_CHARS,
  type StepType,
  TEMPLATE_FIELDS,
  TEMPLATE_ROOTS,
  type WorkflowDefinition,
  ZAgentStep,
  ZCommandStep,
  ZInputSpec,
  ZLlmStep,
  ZTransformStep,
  ZWorkflowDefinition,
} from "./definition.ts";

export type ValidateWorkflowOptions = {
  /** Whether a model id is one the server knows (the catalog, or a connected endpoint). Skipped when absent. */
  isKnownModel?: (id: string) => boolean;
};

export type WorkflowValidation =
  | { ok: true; definition: WorkflowDefinition; warnings: DefinitionIssue[] }
  | { ok: false; errors: DefinitionIssue[] };

export type RunInputValidation =
  | { ok: true; value: Record<string, unknown> }
  | { ok: false; errors: DefinitionIssue[] };

/** The keys of a command step's output (`{{steps.test.output.exitCode}}`). */
export const COMMAND_OUTPUT_KEYS = ["exitCode", "stdout", "stderr"] as const;

const STEP_TYPES: readonly StepType[] = ["llm", "transform", "command", "agent"];
const STEP_FIELDS: Record<StepType, readonly string[]> = {
  llm: Object.keys(ZLlmStep.shape),
  transform: Object.keys(ZTransformStep.shape),
  command: Object.keys(ZCommandStep.shape),
  agent: Object.keys(ZAgentStep.shape),
};
const INPUT_FIELDS = Object.keys(ZInputSpec.shape);
const TOP_FIELDS = Object.keys(ZWorkflowDefinition.shape);
const JSON_SCHEMA_TYPES = ["object", "array", "string", "number", "integer", "boolean", "null"];
const SCHEMA_COMBINATORS = ["$ref", "anyOf", "oneOf", "allOf"];
/** A pasted wall of broken tags should not produce a megabyte of errors: the first ones say enough. */
const MAX_ISSUES_PER_TEMPLATE = 20;
const MAX_ISSUES = 200;

// ─── Small helpers ───────────────────────────────────────────────────────────

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function quoteList(items: readonly string[], last = "or"): string {
  const quoted = items.map((item) => `"${item}"`);
  if (quoted.length <= 1) return quoted.join("");
  return `${quoted.slice(0, -1).join(", ")} ${last} ${quoted.at(-1)}`;
}

/** Optimal string alignment distance (a swap of two neighbours counts as one edit). */
function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) =>
    Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, d[i - 2]![j - 2]! + 1);
      }
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The candidate closest to `name` (case-insensitive, at most 2 edits, and fewer edits than the name has
 * characters so "x" is not "close" to every short name), or undefined.
 */
export function closestName(name: string, candidates: Iterable<string>): string | undefined {
  const wanted = name.toLowerCase();
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of candidates) {
    if (candidate === name) continue;
    const lower = candidate.toLowerCase();
    if (Math.abs(lower.length - wanted.length) > 2) continue;
    const distance = editDistance(wanted, lower);
    if (distance < bestDistance && distance < Math.max(wanted.length, 1)) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function didYouMean(suggestion: string | undefined): string {
  return suggestion === undefined ? "" : ` (did you mean "${suggestion}"?)`;
}

function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  switch (typeof value) {
    case "string":
      return "a string";
    case "number":
      return Number.isFinite(value) ? "a number" : String(value);
    case "boolean":
      return "a boolean";
    case "object":
      return "an object";
    default:
      return typeof value;
  }
}

function valueAt(root: unknown, path: readonly PathSegment[]): unknown {
  let value = root;
  for (const segment of path) {
    if (Array.isArray(value) && typeof segment === "number") value = value[segment];
    else if (isObject(value) && Object.hasOwn(value, String(segment))) value = value[String(segment)];
    else return undefined;
  }
  return value;
}

// ─── Shape (zod) issues ──────────────────────────────────────────────────────

type ZodIssueLike = {
  code: string;
  path: PropertyKey[];
  message: string;
  keys?: string[];
  expected?: string;
  values?: unknown[];
  issues?: Array<{ message: string }>;
  note?: string;
  options?: unknown[];
};

/** The fields an object at `path` may have, for "did you mean" on unknown keys. */
function knownFields(input: unknown, path: readonly PathSegment[]): readonly string[] {
  if (path.length === 0) return TOP_FIELDS;
  if (path.length === 2 && path[0] === "inputs") return INPUT_FIELDS;
  if (path.length === 2 && path[0] === "steps") {
    const type = valueAt(input, [...path, "type"]);
    if (typeof type === "string" && (STEP_TYPES as readonly string[]).includes(type)) {
      return STEP_FIELDS[type as StepType];
    }
  }
  return [];
}

function shapeIssue(issue: ZodIssueLike, input: unknown): DefinitionIssue[] {
  const path = issue.path.filter((s): s is string | number => typeof s !== "symbol");
  const value = valueAt(input, path);
  switch (issue.code) {
    case "unrecognized_keys": {
      const fields = knownFields(input, path);
      return (issue.keys ?? []).map((key) => ({
        path,
        message: `Unknown field "${key}"${didYouMean(closestName(key, fields))}`,
      }));
    }
    case "invalid_union":
      if (issue.note === "No matching discriminator" && path.at(-1) === "type") {
        const types = quoteList(STEP_TYPES);
        return [
          {
            path,
            message:
              value === undefined
                ? `Choose a step type: ${types}`
                : typeof value === "string"
                  ? `Unknown step type "${value}": use ${types}${didYouMean(closestName(value, STEP_TYPES))}`
                  : `The step type must be ${types}`,
          },
        ];
      }
      return [{ path, message: issue.message }];
    case "invalid_type":
      if (value === undefined) return [{ path, message: `Required (${article(issue.expected)})` }];
      return [{ path, message: `Expected ${article(issue.expected)}, got ${describeValue(value)}` }];
    case "invalid_key":
      return [
        {
          path,
          message: `Invalid name "${String(path.at(-1))}": ${issue.issues?.[0]?.message ?? issue.message}`,
        },
      ];
    case "invalid_value": {
      if (path.length === 1 && path[0] === "version") {
        return [{ path, message: `Unsupported format version ${JSON.stringify(value)}: use 1` }];
      }
      const values = (issue.values ?? []).map(String);
      const suggestion = typeof value === "string" ? closestName(value, values) : undefined;
      return [
        {
          path,
          message: `${value === undefined ? "Required" : `Invalid value ${JSON.stringify(value)}`}: use ${quoteList(values)}${didYouMean(suggestion)}`,
        },
      ];
    }
    default:
      return [{ path, message: issue.message }];
  }
}

function article(expected: string | undefined): string {
  switch (expected) {
    case undefined:
      return "a value";
    case "object":
    case "array":
      return `an ${expected}`;
    case "record":
      return "an object";
    default:
      return `a ${expected}`;
  }
}

// ─── Template references ─────────────────────────────────────────────────────

type VariableRef = {
  path: string;
  segments: PathSegment[];
  /** "2:5: " where the tag starts, or "" when unknown (variables of a template with syntax errors). */
  at: string;
  /** Whether the segment at `index` was written as a bracketed key (`["x"]`). */
  isBracketed: (index: number) => boolean;
};

/** For each segment of a tag's path (as written), whether it was a `["…"]` key. The tag parsed, so it is well-formed. */
function bracketStyles(source: string): boolean[] {
  const raw = source.slice(2, -2).trim();
  const styles: boolean[] = [];
  let i = 0;
  while (i < raw.length) {
    if (raw[i] === "[") {
      styles.push(true);
      i += 2;
      while (i < raw.length && raw[i] !== '"') i += raw[i] === "\\" ? 2 : 1;
      i += 2;
      continue;
    }
    if (raw[i] === ".") i++;
    styles.push(false);
    while (i < raw.length && raw[i] !== "." && raw[i] !== "[") i++;
  }
  return styles;
}

/** The syntax errors of a template, and its variables (each once, where first used). */
function templateRefs(body: string): { errors: TemplateIssue[]; refs: VariableRef[] } {
  const parsed = parseTemplate(body);
  const refs: VariableRef[] = [];
  if (parsed.ok) {
    const seen = new Set<string>();
    for (const part of parsed.parts) {
      if (part.kind !== "variable" || seen.has(part.path)) continue;
      seen.add(part.path);
      const styles = bracketStyles(part.source);
      refs.push({
        path: part.path,
        segments: part.segments,
        at: `${part.line}:${part.column}: `,
        isBracketed: (index) => styles[index] === true,
      });
    }
    return { errors: [], refs };
  }
  // The tags that did parse still deserve checking; their canonical paths parse back into segments. How a
  // key was written is not kept, so a key counts as bracketed when the body has it in brackets somewhere.
  for (const path of parsed.variables) {
    const again = parseTemplate(`{{${path}}}`);
    const part = again.ok ? again.parts[0] : undefined;
    if (part?.kind !== "variable") continue;
    const { segments } = part;
    const isBracketed = (index: number) => {
      const key = segments[index];
      return typeof key === "string" && body.includes(`["${key.replace(/[\\"]/g, (c) => `\\${c}`)}"]`);
    };
    refs.push({ path, segments, at: "", isBracketed });
  }
  return { errors: parsed.errors, refs };
}

// ─── The definition as written (before zod), read defensively ────────────────

type OutputShape = "text" | "json" | "command" | null;

type RawStep = {
  index: number;
  id: string | null;
  type: StepType | null;
  raw: Json | null;
};

function readSteps(input: Json): RawStep[] {
  if (!Array.isArray(input.steps)) return [];
  return input.steps.map((raw, index) => {
    if (!isObject(raw)) return { index, id: null, type: null, raw: null };
    const type = STEP_TYPES.find((t) => t === raw.type) ?? null;
    return { index, id: typeof raw.id === "string" ? raw.id : null, type, raw };
  });
}

function outputShape(step: RawStep): OutputShape {
  if (!step.raw) return null;
  switch (step.type) {
    case "llm":
    case "transform": {
      const output = step.raw.output ?? "text";
      return output === "json" ? "json" : output === "text" ? "text" : null;
    }
    case "command":
      return "command";
    case "agent":
      return "text";
    default:
      return null;
  }
}

type InputInfo = { type: InputType | null; spec: Json | null };

function readInputs(input: Json): Map<string, InputInfo> {
  const inputs = new Map<string, InputInfo>();
  if (!isObject(input.inputs)) return inputs;
  for (const [name, spec] of Object.entries(input.inputs)) {
    const type = isObject(spec) ? (INPUT_TYPES.find((t) => t === spec.type) ?? null) : null;
    inputs.set(name, { type, spec: isObject(spec) ? spec : null });
  }
  return inputs;
}

// ─── Cross-field checks ──────────────────────────────────────────────────────

type Context = {
  steps: RawStep[];
  /** Each id's first position. */
  firstIndex: Map<string, number>;
  inputs: Map<string, InputInfo>;
  usedInputs: Set<string>;
};

function stepLabel(index: number): string {
  return `step ${index + 1}`;
}

/** Why a variable in step `at` cannot be resolved, or null when it can. */
function checkVariable(ref: VariableRef, at: number, ctx: Context): string | null {
  const [root, ...rest] = ref.segments;
  const shown = `"${ref.path}"`;
  if (root === "inputs") return checkInputVariable(ref, rest, ctx);
  if (root === "steps") return checkStepVariable(ref, rest, at, ctx);
  if (root === "project") return checkProjectVariable(ref, rest);

  const rootName = String(root);
  let suggestion: string | undefined;
  if (ctx.inputs.has(rootName)) suggestion = canonicalPath(["inputs", ...ref.segments]);
  else if (ctx.firstIndex.has(rootName)) suggestion = canonicalPath(["steps", rootName, "output"]);
  else {
    const closeRoot = closestName(rootName, TEMPLATE_ROOTS);
    if (closeRoot) suggestion = canonicalPath([closeRoot, ...rest]);
  }
  return `Unknown variable ${shown}: it must start with ${quoteList(TEMPLATE_ROOTS)}${didYouMean(suggestion)}`;
}

function checkInputVariable(ref: VariableRef, rest: PathSegment[], ctx: Context): string | null {
  const declared = [...ctx.inputs.keys()];
  const [name] = rest;
  if (name === undefined) {
    return `"inputs" alone is not a value: write inputs.<name>${declared.length ? ` (${quoteList(declared)})` : ""}`;
  }
  const key = String(name);
  const info = ctx.inputs.get(key);
  if (!info) {
    const suggestion = closestName(key, declared);
    const hint = suggestion
      ? ` (did you mean "inputs.${suggestion}"?)`
      : declared.length === 0
        ? ": this workflow declares no inputs"
        : `: declared inputs are ${quoteList(declared, "and")}`;
    return `"${ref.path}" refers to no input "${key}"${hint}`;
  }
  ctx.usedInputs.add(key);
  if (rest.length > 1 && info.type !== null && info.type !== "json") {
    return `"${ref.path}": input "${key}" is ${info.type === "text" ? "text" : `a ${info.type}`}, it has no fields (only json inputs do); write "inputs.${key}"`;
  }
  return null;
}

function checkStepVariable(ref: VariableRef, rest: PathSegment[], at: number, ctx: Context): string | null {
  const shown = `"${ref.path}"`;
  const [id, output, field, ...deeper] = rest;
  if (id === undefined) return `"steps" alone is not a value: write steps.<id>.output`;
  const key = String(id);
  const index = ctx.firstIndex.get(key);
  if (index === undefined) {
    const earlier = ctx.steps
      .slice(0, at)
      .map((s) => s.id)
      .filter((s): s is string => s !== null);
    return `${shown}: no step "${key}"${didYouMean(closestName(key, earlier))}`;
  }
  if (index === at) return `${shown} refers to itself: a step can only read the steps before it`;
  if (index > at) return `${shown} refers to step "${key}", which runs later (${stepLabel(index)})`;

  const target = ctx.steps[index]!;
  const shape = outputShape(target);
  if (output === undefined) {
    const fields = shape === "json" || shape === "command" ? ` (or "steps.${key}.output.<field>")` : "";
    return `"steps.${key}" alone is not a value: write "steps.${key}.output"${fields}`;
  }
  if (output !== "output") {
    const fixed = canonicalPath(["steps", key, "output", ...rest.slice(2)]);
    return `${shown}: a step's value is its output; write "${fixed}"`;
  }
  if (field === undefined || shape === null || shape === "json") return null;
  if (shape === "text") {
    if (target.type === "agent") {
      return `${shown}: the output of step "${key}" (an agent) is text, it has no fields; write "steps.${key}.output"`;
    }
    return `${shown}: the output of step "${key}" is text, it has no fields; write "steps.${key}.output", or set that step's output to "json"`;
  }
  // A command step: {exitCode, stdout, stderr}.
  const keys: readonly string[] = COMMAND_OUTPUT_KEYS;
  if (typeof field !== "string" || !keys.includes(field)) {
    const suggestion = closestName(String(field), keys);
    return `${shown}: the output of command step "${key}" has only ${quoteList(keys, "and")}${didYouMean(suggestion ? `steps.${key}.output.${suggestion}` : undefined)}`;
  }
  if (deeper.length > 0) {
    return `${shown}: ${field} of step "${key}" is ${field === "exitCode" ? "a number" : "text"}, it has no fields`;
  }
  return null;
}

function checkProjectVariable(ref: VariableRef, rest: PathSegment[]): string | null {
  const shown = `"${ref.path}"`;
  const usage = `use "project.name" or project.files["path/to/file"]`;
  const [name, ...more] = rest;
  if (name === undefined) return `"project" alone is not a value: ${usage}`;
  if (name === "name") {
    return more.length === 0 ? null : `${shown}: the project name is text, it has no fields`;
  }
  if (name !== "files") {
    const suggestion = closestName(String(name), ["name", "files"]);
    return `Unknown project variable ${shown}: ${usage}${didYouMean(suggestion ? `project.${suggestion}` : undefined)}`;
  }
  const [file, ...inside] = more;
  if (file === undefined) return `"project.files" alone is not a value: write project.files["path/to/file"]`;
  // segments: project, files, <file>: was the file written as ["…"]?
  const bracketed = typeof file === "string" && ref.isBracketed(2);
  if (!bracketed) {
    const guess = more.map(String).join(".");
    return `${shown}: write file paths in brackets and quotes: project.files["${guess}"]`;
  }
  if (inside.length > 0) {
    return `${shown}: a file's content is text, it has no fields; write project.files["${file}"]`;
  }
  if (file.trim() === "") return `${shown}: write the file's path inside the quotes`;
  if (/^([/\\]|[A-Za-z]:)/.test(file) || file.split(/[/\\]/).includes("..")) {
    return `${shown}: use a path relative to the project root, without ".."`;
  }
  return null;
}

function checkInputSpec(name: string, info: InputInfo, errors: DefinitionIssue[]): void {
  const { spec, type } = info;
  if (!spec || !type) return;
  const at = (field: string, ...more: Array<string | number>) => ["inputs", name, field, ...more];
  const enumValues = Array.isArray(spec.enum) ? spec.enum : undefined;
  if (spec.enum !== undefined && type !== "string") {
    errors.push({
      path: at("enum"),
      message: `Only string inputs can have a list of allowed values (enum); this input is ${type === "text" ? "text" : `a ${type}`}`,
    });
  }
  if (type === "string" && enumValues) {
    const seen = new Set<unknown>();
    enumValues.forEach((value, index) => {
      if (seen.has(value)) {
        errors.push({ path: at("enum", index), message: `"${String(value)}" is listed twice` });
      }
      seen.add(value);
    });
  }
  const value = spec.default;
  if (value === undefined) return;
  const expected =
    type === "number"
      ? typeof value === "number" && Number.isFinite(value)
      : type === "boolean"
        ? typeof value === "boolean"
        : type === "json"
          ? true
          : typeof value === "string";
  if (!expected) {
    const wanted = type === "number" ? "a number" : type === "boolean" ? "true or false" : "a string";
    errors.push({
      path: at("default"),
      message: `The default of a ${type} input must be ${wanted}, not ${describeValue(value)}`,
    });
    return;
  }
  if (type === "string" && enumValues && typeof value === "string" && !enumValues.includes(value)) {
    const allowed = enumValues.filter((v): v is string => typeof v === "string");
    errors.push({
      path: at("default"),
      message: `The default "${value}" is not one of the allowed values: ${quoteList(allowed)}${didYouMean(closestName(value, allowed))}`,
    });
  }
}

function checkSchema(step: RawStep, errors: DefinitionIssue[]): void {
  const raw = step.raw;
  if (step.type !== "llm" || !raw || raw.schema === undefined) return;
  const at = (...more: Array<string | number>) => ["steps", step.index, "schema", ...more];
  if (raw.output !== "json") {
    errors.push({
      path: at(),
      message: `A schema only applies to a JSON output: set output to "json", or remove the schema`,
    });
  }
  const schema = raw.schema;
  if (!isObject(schema)) return; // the shape check reports it
  if (!("type" in schema) && !SCHEMA_COMBINATORS.some((key) => key in schema)) {
    errors.push({
      path: at(),
      message: `The schema needs a "type" (or ${quoteList(SCHEMA_COMBINATORS)}), like {"type": "object", "properties": {…}}`,
    });
  }
  if ("type" in schema) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    const bad = types.find((t) => typeof t !== "string" || !JSON_SCHEMA_TYPES.includes(t));
    if (types.length === 0 || bad !== undefined) {
      errors.push({
        path: at("type"),
        message: `Unknown schema type ${JSON.stringify(bad ?? schema.type)}: use ${quoteList(JSON_SCHEMA_TYPES)}`,
      });
    }
  }
  if ("properties" in schema && !isObject(schema.properties)) {
    errors.push({ path: at("properties"), message: `"properties" must be an object of schemas by name` });
  }
  if (
    "required" in schema &&
    (!Array.isArray(schema.required) || schema.required.some((r) => typeof r !== "string"))
  ) {
    errors.push({ path: at("required"), message: `"required" must be a list of property names` });
  }
}

function checkModel(step: RawStep, options: ValidateWorkflowOptions, errors: DefinitionIssue[]): void {
  if ((step.type !== "llm" && step.type !== "agent") || !step.raw) return;
  const model = step.raw.model;
  if (typeof model !== "string" || model.length === 0) return; // the shape check reports it
  const path = ["steps", step.index, "model"];
  const parsed = parseModelId(model);
  if (!parsed.ok) errors.push({ path, message: parsed.error });
  else if (options.isKnownModel && !options.isKnownModel(model)) {
    errors.push({ path, message: `Unknown model "${model}"` });
  }
}

function checkSemantics(
  input: unknown,
  options: ValidateWorkflowOptions,
): { errors: DefinitionIssue[]; warnings: DefinitionIssue[] } {
  const errors: DefinitionIssue[] = [];
  const warnings: DefinitionIssue[] = [];
  if (!isObject(input)) return { errors, warnings };
  const steps = readSteps(input);
  const inputs = readInputs(input);
  const ctx: Context = { steps, firstIndex: new Map(), inputs, usedInputs: new Set() };

  for (const [name, info] of inputs) checkInputSpec(name, info, errors);

  for (const step of steps) {
    if (step.id === null) continue;
    const first = ctx.firstIndex.get(step.id);
    if (first === undefined) ctx.firstIndex.set(step.id, step.index);
    else {
      errors.push({
        path: ["steps", step.index, "id"],
        message: `Duplicate step id "${step.id}": ${stepLabel(first)} already uses it`,
      });
    }
  }

  for (const step of steps) {
    if (!step.raw || !step.type) continue;
    checkModel(step, options, errors);
    checkSchema(step, errors);
    for (const field of TEMPLATE_FIELDS[step.type]) {
      const body = step.raw[field];
      if (typeof body !== "string" || body.length > MAX_TEMPLATE_CHARS) continue;
      const path = ["steps", step.index, field];
      const { errors: syntax, refs } = templateRefs(body);
      const found: string[] = syntax.map((issue) => `${issue.line}:${issue.column}: ${issue.message}`);
      for (const ref of refs) {
        const problem = checkVariable(ref, step.index, ctx);
        if (problem) found.push(`${ref.at}${problem}`);
      }
      for (const message of found.slice(0, MAX_ISSUES_PER_TEMPLATE)) errors.push({ path, message });
      if (found.length > MAX_ISSUES_PER_TEMPLATE) {
        const more = found.length - MAX_ISSUES_PER_TEMPLATE;
        errors.push({ path, message: `…and ${more} more problem${more === 1 ? "" : "s"} in this template` });
      }
    }
  }

  for (const [name, info] of inputs) {
    if (!ctx.usedInputs.has(name)) {
      warnings.push({ path: ["inputs", name], message: `Input "${name}" is not used by any step` });
      continue;
    }
    const spec = info.spec;
    if (
      spec &&
      info.type !== null &&
      info.type !== "string" &&
      info.type !== "text" &&
      spec.required === false &&
      spec.default === undefined
    ) {
      warnings.push({
        path: ["inputs", name],
        message: `Input "${name}" is optional with no default: a run without it fails at the first step that reads it; give it a default`,
      });
    }
  }
  return { errors, warnings };
}

/** Orders issues as the document reads: version, inputs (in declaration order), steps (by position). */
function sortIssues(issues: DefinitionIssue[], input: unknown): DefinitionIssue[] {
  const inputOrder = new Map<string, number>();
  if (isObject(input) && isObject(input.inputs)) {
    Object.keys(input.inputs).forEach((name, index) => {
      inputOrder.set(name, index);
    });
  }
  const sections = ["version", "inputs", "steps"];
  const rank = (issue: DefinitionIssue): [number, number] => {
    const [first, second] = issue.path;
    if (first === undefined) return [0, 0];
    const section = sections.indexOf(String(first));
    const within =
      typeof second === "number"
        ? second
        : second === undefined
          ? -1
          : (inputOrder.get(String(second)) ?? Number.MAX_SAFE_INTEGER);
    return [section === -1 ? sections.length + 1 : section + 1, within];
  };
  return issues
    .map((issue, order) => ({ issue, order, rank: rank(issue) }))
    .sort((a, b) => a.rank[0] - b.rank[0] || a.rank[1] - b.rank[1] || a.order - b.order)
    .map(({ issue }) => issue);
}

// ─── Public API ──────────────────────────────────────────────────────────────

/**
 * Validate a workflow definition as received (JSON from the builder or the API). Every problem is listed
 * (at most 20 per template field and 200 in all, then an "…and N more" issue): shape (zod), duplicate step
 * ids, template syntax (with line:column), variables (declared inputs, earlier steps, output paths, project
 * variables), models, input defaults and enums, JSON schemas.
 * On success the definition has its defaults applied, and `warnings` lists what is allowed but suspicious
 * (an input no step reads; an optional number/boolean/json input with no default that a step reads).
 */
export function validateWorkflow(input: unknown, options: ValidateWorkflowOptions = {}): WorkflowValidation {
  const parsed = ZWorkflowDefinition.safeParse(input);
  const errors: DefinitionIssue[] = parsed.success
    ? []
    : parsed.error.issues.flatMap((issue) => shapeIssue(issue as ZodIssueLike, input));
  const semantic = checkSemantics(input, options);
  for (const issue of semantic.errors) errors.push(issue);
  if (!parsed.success || errors.length > 0) {
    const sorted = sortIssues(errors, input);
    if (sorted.length <= MAX_ISSUES) return { ok: false, errors: sorted };
    const more = sorted.length - MAX_ISSUES;
    return {
      ok: false,
      errors: [...sorted.slice(0, MAX_ISSUES), { path: [], message: `…and ${more} more problems` }],
    };
  }
  return { ok: true, definition: parsed.data, warnings: sortIssues(semantic.warnings, input) };
}

/** Whether an input must be given: explicitly `required`, or by default when it has no default. */
export function isInputRequired(spec: InputSpec): boolean {
  return spec.required ?? spec.default === undefined;
}

const NUMERIC = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * Check and complete the input of a run against the definition's inputs. Form values arrive as strings:
 * a number input takes a numeric string ("42", "-1.5") and a boolean input "true"/"false". An empty or
 * blank string counts as not given. Defaults fill what is not given; an optional string/text input with no
 * default becomes "" (templates have no conditionals, so a missing value would fail the render); an
 * optional number/boolean/json input with no default is left out. Unknown keys are refused.
 */
export function validateRunInput(
  definition: Pick<WorkflowDefinition, "inputs">,
  input: unknown,
): RunInputValidation {
  const errors: DefinitionIssue[] = [];
  if (input !== undefined && input !== null && !isObject(input)) {
    return {
      ok: false,
      errors: [{ path: ["input"], message: "The run input must be an object of values by input name" }],
    };
  }
  const given: Json = input ?? {};
  const declared = Object.keys(definition.inputs);
  for (const key of Object.keys(given)) {
    if (!Object.hasOwn(definition.inputs, key)) {
      const hint =
        declared.length === 0 ? ": this workflow takes no inputs" : didYouMean(closestName(key, declared));
      errors.push({ path: ["input", key], message: `Unknown input "${key}"${hint}` });
    }
  }
  const value: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(definition.inputs)) {
    const path = ["input", name];
    let raw = Object.hasOwn(given, name) ? given[name] : undefined;
    if (raw === null || (typeof raw === "string" && raw.trim() === "")) raw = undefined;
    if (raw === undefined) {
      if (spec.default !== undefined) value[name] = spec.default;
      else if (isInputRequired(spec)) errors.push({ path, message: `Input "${name}" is required` });
      else if (spec.type === "string" || spec.type === "text") value[name] = "";
      continue;
    }
    const converted = convertInput(name, spec, raw);
    if ("error" in converted) errors.push({ path, message: converted.error });
    else value[name] = converted.value;
  }
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, value };
}

function convertInput(name: string, spec: InputSpec, raw: unknown): { value: unknown } | { error: string } {
  switch (spec.type) {
    case "number": {
      if (typeof raw === "number" && Number.isFinite(raw)) return { value: raw };
      if (typeof raw === "string" && NUMERIC.test(raw.trim())) return { value: Number(raw.trim()) };
      return { error: `Input "${name}" must be a number, not ${describeValue(raw)}` };
    }
    case "boolean": {
      if (typeof raw === "boolean") return { value: raw };
      if (raw === "true" || raw === "false") return { value: raw === "true" };
      return { error: `Input "${name}" must be true or false, not ${describeValue(raw)}` };
    }
    case "string":
    case "text": {
      if (typeof raw !== "string")
        return { error: `Input "${name}" must be a string, not ${describeValue(raw)}` };
      if (spec.enum && !spec.enum.includes(raw)) {
        return {
          error: `Input "${name}" must be one of ${quoteList(spec.enum)}, not "${raw}"${didYouMean(closestName(raw, spec.enum))}`,
        };
      }
      return { value: raw };
    }
    case "json":
      return { value: raw };
  }
}

/**
 * For each step (by id), the ids of the earlier steps its templates read (`steps.<id>.output…`).
 * References that are not to an earlier step (unknown, itself, later) are left out; validateWorkflow
 * reports them. Every step has an entry, empty when it reads no step.
 */
export function stepReferences(definition: Pick<WorkflowDefinition, "steps">): Map<string, Set<string>> {
  const references = new Map<string, Set<string>>();
  const earlier = new Set<string>();
  for (const step of definition.steps) {
    const reads = references.get(step.id) ?? new Set<string>();
    for (const field of TEMPLATE_FIELDS[step.type]) {
      const body = (step as Record<string, unknown>)[field];
      if (typeof body !== "string") continue;
      for (const ref of templateRefs(body).refs) {
        const [root, id] = ref.segments;
        if (root === "steps" && typeof id === "string" && earlier.has(id)) reads.add(id);
      }
    }
    references.set(step.id, reads);
    earlier.add(step.id);
  }
  return references;
}
