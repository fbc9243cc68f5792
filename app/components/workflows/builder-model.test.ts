import { describe, expect, it } from "vitest";
import { WORKFLOW_TEMPLATES } from "#app/modules/workflows/starter-templates.ts";
import { validateWorkflow } from "#app/modules/workflows/validate.ts";
import {
  applyCompletion,
  type BuilderAction,
  type BuilderState,
  blankDefinition,
  builderIssues,
  builderReducer,
  completionContext,
  completionItems,
  convertStep,
  describeTarget,
  errorCount,
  filterCompletions,
  formatPath,
  initialState,
  isDirty,
  issueTarget,
  messagesFor,
  moveItem,
  parseJsonText,
  patchLines,
  readersOf,
  renameInTemplate,
  runErrorsFromIssues,
  runFormDefaults,
  runInputFromForm,
  stableJson,
  stateFromDefinition,
  stepId,
  toDefinition,
  uniqueName,
} from "./builder-model.ts";

const MODEL = "compat:demo/demo";

const threeSteps = {
  version: 1,
  inputs: { task: { type: "text" }, count: { type: "number", default: 3 } },
  steps: [
    { id: "plan", type: "llm", model: MODEL, prompt: "Plan {{inputs.task}}", output: "text" },
    { id: "test", type: "command", run: "npm test", timeoutSeconds: 300, continueOnError: true },
    {
      id: "review",
      type: "transform",
      template: "{{ steps.plan.output }} / {{steps.test.output.exitCode}} / {{inputs.count}}",
      output: "text",
    },
  ],
};

const run = (state: BuilderState, ...actions: BuilderAction[]) => actions.reduce(builderReducer, state);
const ids = (state: BuilderState) => state.steps.map((row) => stepId(row.step));

describe("definition ⇄ state", () => {
  it("round-trips a definition, keys in the format's order, the first step selected", () => {
    const state = initialState(threeSteps);
    expect(ids(state)).toEqual(["plan", "test", "review"]);
    expect(state.inputs.map((row) => row.name)).toEqual(["task", "count"]);
    expect(state.selection).toEqual({ kind: "step", key: state.steps[0]!.key });
    expect(JSON.stringify(toDefinition(state))).toBe(JSON.stringify(threeSteps));
    // Keys are unique and deterministic (server and browser render the same).
    const keys = [...state.steps, ...state.inputs].map((row) => row.key);
    expect(new Set(keys).size).toBe(keys.length);
    expect(initialState(threeSteps).steps.map((r) => r.key)).toEqual(state.steps.map((r) => r.key));
  });

  it("keeps unknown top-level fields and a missing version for the validator to report", () => {
    const state = initialState({ steps: [{ id: "a", type: "transform", template: "" }], colour: "red" });
    const definition = toDefinition(state);
    expect(definition).toEqual({
      inputs: {},
      steps: [{ id: "a", type: "transform", template: "" }],
      colour: "red",
    });
    expect(Object.keys(definition)).toEqual(["inputs", "steps", "colour"]);
    const validation = validateWorkflow(definition);
    expect(validation.ok).toBe(false);
  });

  it("refuses what the builder cannot show, with a message", () => {
    expect(stateFromDefinition([])).toEqual({ ok: false, error: "The definition must be a JSON object" });
    expect(stateFromDefinition({ steps: {} })).toMatchObject({
      ok: false,
      error: '"steps" must be a list of steps',
    });
    expect(stateFromDefinition({ steps: [{}, 3] })).toMatchObject({
      ok: false,
      error: "steps[1] must be an object",
    });
    expect(stateFromDefinition({ steps: [], inputs: [] })).toMatchObject({ ok: false });
    expect(stateFromDefinition({ steps: [], inputs: { a: "x" } })).toMatchObject({
      ok: false,
      error: "inputs.a must be an object",
    });
    // Steps may be anything object-shaped: wrong fields are the validator's business.
    expect(stateFromDefinition({ steps: [{ id: 4, type: "nope" }] }).ok).toBe(true);
  });

  it("replace (the JSON view) keeps row keys by id and the selection", () => {
    const state = run(initialState(threeSteps), { type: "select", selection: { kind: "step", key: "s2" } });
    const reordered = {
      ...threeSteps,
      steps: [threeSteps.steps[2], threeSteps.steps[0], threeSteps.steps[1]],
    };
    const next = builderReducer(state, { type: "replace", definition: reordered });
    expect(ids(next)).toEqual(["review", "plan", "test"]);
    expect(next.steps.map((r) => r.key)).toEqual(["s3", "s1", "s2"]);
    expect(next.selection).toEqual({ kind: "step", key: "s2" });
    // The selected step gone: the step now at its position is selected.
    const without = builderReducer(state, {
      type: "replace",
      definition: { ...threeSteps, steps: [threeSteps.steps[0], { ...threeSteps.steps[1], id: "check" }] },
    });
    expect(ids(without)).toEqual(["plan", "check"]);
    expect(without.selection).toEqual({ kind: "step", key: without.steps[1]!.key });
    expect(without.steps[1]!.key).not.toBe("s2");
    // Something the builder cannot show changes nothing.
    expect(builderReducer(state, { type: "replace", definition: "nope" })).toBe(state);
  });

  it("two steps with one id keep distinct keys", () => {
    const state = initialState({ steps: [{ id: "a" }, { id: "a" }] });
    const next = builderReducer(state, {
      type: "replace",
      definition: { steps: [{ id: "a" }, { id: "a" }] },
    });
    expect(new Set(next.steps.map((r) => r.key)).size).toBe(2);
  });

  it("dirty compares what would be stored: defaults and key order do not count", () => {
    const saved = validateWorkflow(threeSteps);
    if (!saved.ok) throw new Error("fixture invalid");
    const state = initialState(threeSteps);
    const same = toDefinition(state);
    expect(isDirty(same, validateWorkflow(same), saved.definition)).toBe(false);
    // Leaving a default out is the same workflow.
    const implicit = structuredClone(same) as typeof threeSteps;
    delete (implicit.steps[0] as Record<string, unknown>).output;
    expect(isDirty(implicit, validateWorkflow(implicit), saved.definition)).toBe(false);
    const edited = toDefinition(
      builderReducer(state, { type: "updateStep", key: "s1", patch: { prompt: "Plan it: {{inputs.task}}" } }),
    );
    expect(isDirty(edited, validateWorkflow(edited), saved.definition)).toBe(true);
    // An invalid draft is compared as it is.
    const broken = toDefinition(
      builderReducer(state, { type: "updateStep", key: "s1", patch: { prompt: "" } }),
    );
    expect(isDirty(broken, validateWorkflow(broken), saved.definition)).toBe(true);
    expect(stableJson({ b: 1, a: { d: 1, c: [2, { f: 1, e: 0 }] } })).toBe(
      '{"a":{"c":[2,{"e":0,"f":1}],"d":1},"b":1}',
    );
  });

  it("the blank workflow is valid, with or without a model", () => {
    expect(validateWorkflow(blankDefinition(MODEL)).ok).toBe(true);
    expect(validateWorkflow(blankDefinition(undefined)).ok).toBe(true);
    expect(blankDefinition(MODEL).steps[0]).toMatchObject({ type: "llm", model: MODEL });
    expect(blankDefinition(undefined).steps[0]).toMatchObject({ type: "transform" });
  });
});

describe("reducer", () => {
  it("adds steps after the selected one with unique ids and the type's defaults, and selects them", () => {
    let state = initialState(threeSteps);
    state = run(
      state,
      { type: "select", selection: { kind: "step", key: "s1" } },
      { type: "addStep", stepType: "transform", after: "s1" },
    );
    expect(ids(state)).toEqual(["plan", "format", "test", "review"]);
    const added = state.steps[1]!;
    expect(state.selection).toEqual({ kind: "step", key: added.key });
    expect(added.step).toEqual({ id: "format", type: "transform", template: "", output: "text" });
    state = run(
      state,
      { type: "addStep", stepType: "transform", after: added.key },
      { type: "addStep", stepType: "llm", model: MODEL },
      { type: "addStep", stepType: "command" },
      { type: "addStep", stepType: "agent", model: MODEL },
      { type: "addStep", stepType: "llm", model: MODEL },
    );
    expect(ids(state)).toEqual([
      "plan",
      "format",
      "format_2",
      "test",
      "review",
      "ask",
      "run",
      "agent",
      "ask_2",
    ]);
    expect(state.steps.at(-1)!.step).toEqual({
      id: "ask_2",
      type: "llm",
      model: MODEL,
      prompt: "",
      output: "text",
    });
    expect(state.steps[6]!.step).toMatchObject({ timeoutSeconds: 300, continueOnError: false });
    expect(state.steps[7]!.step).toMatchObject({
      model: MODEL,
      maxTurns: 30,
      maxMinutes: 20,
      instructions: "",
    });
    const keys = state.steps.map((r) => r.key);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it("a new step is valid once its text is written", () => {
    const state = run(initialState({ steps: [] }), { type: "addStep", stepType: "llm", model: MODEL });
    const key = state.steps[0]!.key;
    const before = validateWorkflow(toDefinition(state));
    expect(before.ok).toBe(false);
    expect(builderIssues(state, before).map((i) => [i.target, i.message])).toEqual([
      [{ kind: "step", key, index: 0, field: "prompt" }, "Write the prompt"],
    ]);
    const after = run(state, { type: "updateStep", key, patch: { prompt: "Hi" } });
    expect(validateWorkflow(toDefinition(after)).ok).toBe(true);
  });

  it("stops adding at the step limit", () => {
    let state = initialState({ steps: [] });
    for (let i = 0; i < 55; i++) state = builderReducer(state, { type: "addStep", stepType: "command" });
    expect(state.steps).toHaveLength(50);
    expect(new Set(ids(state)).size).toBe(50);
  });

  it("removes a step and selects its neighbour", () => {
    const state = run(initialState(threeSteps), { type: "select", selection: { kind: "step", key: "s3" } });
    const next = builderReducer(state, { type: "removeStep", key: "s3" });
    expect(ids(next)).toEqual(["plan", "test"]);
    expect(next.selection).toEqual({ kind: "step", key: "s2" });
    const middle = builderReducer(run(state, { type: "select", selection: { kind: "step", key: "s2" } }), {
      type: "removeStep",
      key: "s2",
    });
    expect(middle.selection).toEqual({ kind: "step", key: "s3" });
    // Another step selected: the selection stays.
    expect(builderReducer(state, { type: "removeStep", key: "s1" }).selection).toEqual({
      kind: "step",
      key: "s3",
    });
    const empty = run(
      state,
      { type: "removeStep", key: "s1" },
      { type: "removeStep", key: "s2" },
      {
        type: "removeStep",
        key: "s3",
      },
    );
    expect(empty.steps).toEqual([]);
    expect(empty.selection).toBeNull();
    expect(builderReducer(state, { type: "removeStep", key: "nope" })).toBe(state);
  });

  it("moves steps by drag (to an index) and by keyboard (one place), within bounds", () => {
    const state = initialState(threeSteps);
    expect(ids(builderReducer(state, { type: "moveStep", key: "s1", to: 2 }))).toEqual([
      "test",
      "review",
      "plan",
    ]);
    expect(ids(builderReducer(state, { type: "moveStep", key: "s3", to: 0 }))).toEqual([
      "review",
      "plan",
      "test",
    ]);
    expect(ids(builderReducer(state, { type: "moveStep", key: "s1", to: 99 }))).toEqual([
      "test",
      "review",
      "plan",
    ]);
    expect(builderReducer(state, { type: "moveStep", key: "s2", to: 1 })).toBe(state);
    expect(ids(builderReducer(state, { type: "moveStepBy", key: "s2", delta: -1 }))).toEqual([
      "test",
      "plan",
      "review",
    ]);
    expect(ids(builderReducer(state, { type: "moveStepBy", key: "s2", delta: 1 }))).toEqual([
      "plan",
      "review",
      "test",
    ]);
    expect(builderReducer(state, { type: "moveStepBy", key: "s1", delta: -1 })).toBe(state);
    expect(builderReducer(state, { type: "moveStepBy", key: "s3", delta: 1 })).toBe(state);
    expect(moveItem(["a", "b", "c"], 0, 1)).toEqual(["b", "a", "c"]);
    expect(moveItem(["a", "b"], 5, 0)).toEqual(["a", "b"]);
  });

  it("moving a step before the one it reads is an error on the reading field", () => {
    const state = builderReducer(initialState(threeSteps), { type: "moveStep", key: "s3", to: 0 });
    const validation = validateWorkflow(toDefinition(state));
    const issues = builderIssues(state, validation);
    expect(issues.length).toBeGreaterThan(0);
    expect(
      issues.every((i) => i.target.kind === "step" && i.target.key === "s3" && i.target.field === "template"),
    ).toBe(true);
    expect(messagesFor(issues, "s3", "template")[0]).toContain("runs later");
    expect(errorCount(issues, "s3")).toBe(issues.length);
    expect(errorCount(issues, "s1")).toBe(0);
  });

  it("updates fields; undefined removes one, order is kept", () => {
    const state = initialState(threeSteps);
    const next = run(
      state,
      { type: "updateStep", key: "s1", patch: { temperature: 0.5 } },
      { type: "updateStep", key: "s1", patch: { output: undefined, prompt: "x" } },
    );
    expect(next.steps[0]!.step).toEqual({
      id: "plan",
      type: "llm",
      model: MODEL,
      prompt: "x",
      temperature: 0.5,
    });
    expect(Object.keys(next.steps[0]!.step)).toEqual(["id", "type", "model", "prompt", "temperature"]);
    expect(next.steps[1]).toBe(state.steps[1]);
  });

  it("changing a step's type carries its text, name and model over", () => {
    const llm = {
      id: "plan",
      name: "Plan",
      type: "llm",
      model: MODEL,
      prompt: "Do {{inputs.task}}",
      temperature: 1,
    };
    expect(convertStep(llm, "transform")).toEqual({
      id: "plan",
      name: "Plan",
      type: "transform",
      template: "Do {{inputs.task}}",
      output: "text",
    });
    expect(convertStep(llm, "agent")).toMatchObject({ model: MODEL, instructions: "Do {{inputs.task}}" });
    expect(convertStep({ id: "t", type: "transform", template: "x" }, "llm", "openai:gpt-4.1-mini")).toEqual({
      id: "t",
      type: "llm",
      model: "openai:gpt-4.1-mini",
      prompt: "x",
      output: "text",
    });
    expect(convertStep({ id: "c", type: "command", run: "ls" }, "command")).toEqual({
      id: "c",
      type: "command",
      run: "ls",
    });
    expect(convertStep({ id: "x", type: "bogus" }, "command")).toEqual({
      id: "x",
      type: "command",
      run: "",
      timeoutSeconds: 300,
      continueOnError: false,
    });
    const state = builderReducer(initialState(threeSteps), {
      type: "changeStepType",
      key: "s1",
      stepType: "agent",
    });
    expect(state.steps[0]!.step).toMatchObject({ type: "agent", instructions: "Plan {{inputs.task}}" });
    expect(validateWorkflow(toDefinition(state)).ok).toBe(true);
  });

  it("renaming a step rewrites the templates that read it", () => {
    expect(
      renameInTemplate(
        "{{ steps.plan.output }} and {{steps.plan.output.a}}, {{steps.planner.output}}",
        "steps",
        "plan",
        "design",
      ),
    ).toBe("{{ steps.design.output }} and {{steps.design.output.a}}, {{steps.planner.output}}");
    expect(renameInTemplate('{{steps["plan"].output}}', "steps", "plan", "design")).toBe(
      "{{steps.design.output}}",
    );
    expect(renameInTemplate("no tags", "steps", "plan", "x")).toBe("no tags");
    // A template that does not parse is left alone.
    expect(renameInTemplate("{{steps.plan.output", "steps", "plan", "x")).toBe("{{steps.plan.output");
    const state = run(
      initialState(threeSteps),
      { type: "updateStep", key: "s1", patch: { id: "design" } },
      { type: "renameReferences", root: "steps", from: "plan", to: "design" },
    );
    expect(state.steps[2]!.step.template).toBe(
      "{{ steps.design.output }} / {{steps.test.output.exitCode}} / {{inputs.count}}",
    );
    expect(validateWorkflow(toDefinition(state)).ok).toBe(true);
    // Not to an invalid id.
    const same = initialState(threeSteps);
    expect(
      builderReducer(same, { type: "renameReferences", root: "steps", from: "plan", to: "Bad id" }),
    ).toBe(same);
    expect(
      builderReducer(same, { type: "renameReferences", root: "steps", from: "nothing", to: "other" }),
    ).toBe(same);
  });

  it("renaming an input rewrites the templates that read it, not steps of that name", () => {
    expect(renameInTemplate("{{inputs.count}} {{ steps.count.output }}", "inputs", "count", "n")).toBe(
      "{{inputs.n}} {{ steps.count.output }}",
    );
    let state = initialState(threeSteps);
    const key = state.inputs[1]!.key;
    state = run(
      state,
      { type: "updateInput", key, name: "total" },
      { type: "renameReferences", root: "inputs", from: "count", to: "total" },
    );
    expect(state.steps[2]!.step.template).toContain("{{inputs.total}}");
    expect(validateWorkflow(toDefinition(state)).ok).toBe(true);
  });

  it("lists the steps that read a step", () => {
    const state = initialState(threeSteps);
    expect(readersOf(state, "s1")).toEqual(["review"]);
    expect(readersOf(state, "s2")).toEqual(["review"]);
    expect(readersOf(state, "s3")).toEqual([]);
    expect(readersOf(state, "nope")).toEqual([]);
  });

  it("adds, renames, edits and removes inputs", () => {
    let state = initialState(threeSteps);
    state = run(state, { type: "addInput" }, { type: "addInput" });
    expect(state.inputs.map((r) => r.name)).toEqual(["task", "count", "input", "input_2"]);
    const key = state.inputs[2]!.key;
    expect(state.selection).toEqual({ kind: "input", key: state.inputs[3]!.key });
    state = run(state, {
      type: "updateInput",
      key,
      name: "tone",
      patch: { enum: ["calm", "terse"], default: "calm" },
    });
    expect(toDefinition(state).inputs.tone).toEqual({
      type: "string",
      enum: ["calm", "terse"],
      default: "calm",
    });
    state = run(state, { type: "updateInput", key, patch: { enum: undefined } });
    expect(toDefinition(state).inputs.tone).toEqual({ type: "string", default: "calm" });
    state = run(state, { type: "select", selection: { kind: "input", key } }, { type: "removeInput", key });
    expect(state.inputs.map((r) => r.name)).toEqual(["task", "count", "input_2"]);
    expect(state.selection).toEqual({ kind: "input", key: state.inputs[2]!.key });
    state = run(state, { type: "removeInput", key: state.inputs[2]!.key });
    expect(state.selection).toEqual({ kind: "input", key: state.inputs[1]!.key });
    state = run(
      state,
      { type: "removeInput", key: state.inputs[1]!.key },
      { type: "removeInput", key: state.inputs[0]!.key },
    );
    expect(state.selection).toEqual({ kind: "step", key: "s1" });
  });
});

describe("issues", () => {
  it("places each validator issue on its step or input field", () => {
    const state = initialState({
      inputs: { "Bad Name": { type: "string" }, kind: { type: "strin" }, unused: { type: "string" } },
      steps: [
        { id: "a", type: "llm", model: "", prompt: "{{inputs.nope}}", temperature: 5, extra: 1 },
        { id: "b", type: "transform", template: "{{steps.zzz.output}}" },
      ],
    });
    const issues = builderIssues(state, validateWorkflow(toDefinition(state)));
    const placed = issues.map((i) => [describeTarget(i.target, state), i.message]);
    expect(placed).toEqual([
      ["Input Bad Name · name", expect.stringMatching(/^Invalid name "Bad Name"/)],
      ["Input kind · type", expect.stringMatching(/^Invalid value "strin"/)],
      ["Step 1 (a) · model", "Choose a model"],
      ["Step 1 (a) · temperature", expect.stringMatching(/^Too big/)],
      ["Step 1 (a)", 'Unknown field "extra"'],
      ["Step 1 (a) · prompt", expect.stringMatching(/^1:1: "inputs.nope" refers to no input/)],
      ["Step 2 (b) · template", expect.stringMatching(/^1:1: "steps.zzz.output": no step "zzz"/)],
    ]);
    expect(issues.every((i) => i.severity === "error")).toBe(true);
    expect(messagesFor(issues, "s1", null)).toEqual(['Unknown field "extra"']);
    expect(messagesFor(issues, state.inputs[0]!.key, "name")).toHaveLength(1);
  });

  it("reports warnings of a valid draft as warnings, and inputs sharing a name", () => {
    const state = run(
      initialState({
        inputs: { spare: { type: "string" } },
        steps: [{ id: "a", type: "transform", template: "x" }],
      }),
      { type: "addInput" },
    );
    const key = state.inputs[1]!.key;
    const named = builderReducer(state, { type: "updateInput", key, name: "spare" });
    const validation = validateWorkflow(toDefinition(named));
    const issues = builderIssues(named, validation);
    expect(issues).toEqual([
      {
        target: { kind: "input", key, name: "spare", field: "name" },
        message: 'Another input is already named "spare"',
        path: ["inputs", "spare"],
        severity: "error",
      },
      {
        // The validator sees the first "spare" only.
        target: { kind: "input", key: state.inputs[0]!.key, name: "spare", field: null },
        message: 'Input "spare" is not used by any step',
        path: ["inputs", "spare"],
        severity: "warning",
      },
    ]);
    expect(messagesFor(issues, state.inputs[0]!.key, null, "warning")).toHaveLength(1);
  });

  it("maps paths with nothing behind them to the workflow", () => {
    const state = initialState(threeSteps);
    expect(issueTarget(state, [])).toEqual({ kind: "workflow" });
    expect(issueTarget(state, ["version"])).toEqual({ kind: "workflow" });
    expect(issueTarget(state, ["steps"])).toEqual({ kind: "workflow" });
    expect(issueTarget(state, ["steps", 9, "id"])).toEqual({ kind: "workflow" });
    expect(issueTarget(state, ["inputs", "ghost"])).toEqual({ kind: "workflow" });
    expect(issueTarget(state, ["steps", 1, "schema", "type"])).toEqual({
      kind: "step",
      key: "s2",
      index: 1,
      field: "schema",
    });
    expect(issueTarget(state, ["inputs", "count", "enum", 0])).toMatchObject({
      kind: "input",
      field: "enum",
    });
    const empty = initialState({ steps: [] });
    const issues = builderIssues(empty, validateWorkflow(toDefinition(empty)));
    expect(issues).toMatchObject([{ target: { kind: "workflow" }, message: "Add at least one step" }]);
    expect(describeTarget({ kind: "workflow" }, empty)).toBe("Workflow");
    expect(formatPath(["steps", 1, "prompt"])).toBe("steps[1].prompt");
    expect(formatPath(["inputs", "my key"])).toBe('inputs["my key"]');
  });
});

describe("variable completion", () => {
  it("finds the tag being typed", () => {
    expect(completionContext("Plan: {{", 8)).toEqual({ from: 8, query: "", spaced: false });
    expect(completionContext("Plan: {{inp", 11)).toEqual({ from: 8, query: "inp", spaced: false });
    expect(completionContext("Plan: {{ steps.pl", 17)).toEqual({ from: 9, query: "steps.pl", spaced: true });
    expect(completionContext('{{project.files["src/my f', 25)).toEqual({
      from: 2,
      query: 'project.files["src/my f',
      spaced: false,
    });
    // Closed, escaped, a new line, a finished path, a triple brace, or no tag at all.
    expect(completionContext("{{a}} b", 7)).toBeNull();
    expect(completionContext("\\{{inp", 6)).toBeNull();
    expect(completionContext("{{inp\nx", 7)).toBeNull();
    expect(completionContext("{{ inputs.a b", 13)).toBeNull();
    expect(completionContext("{{{x", 4)).toBeNull();
    expect(completionContext("plain", 5)).toBeNull();
    // Only what is before the cursor counts.
    expect(completionContext("{{in}}", 4)).toEqual({ from: 2, query: "in", spaced: false });
  });

  it("offers inputs, earlier steps' outputs with their fields, and project values", () => {
    const state = initialState({
      inputs: { task: { type: "text", label: "Task" }, "Bad name": { type: "string" } },
      steps: [
        {
          id: "plan",
          type: "llm",
          output: "json",
          schema: { type: "object", properties: { steps: {}, "odd key": {} } },
        },
        { id: "test", type: "command" },
        { id: "me", type: "transform" },
        { id: "later", type: "llm" },
      ],
    });
    const items = completionItems({
      inputs: state.inputs,
      steps: state.steps,
      stepIndex: 2,
      files: ["src/a.ts"],
    });
    expect(items.map((i) => i.value)).toEqual([
      "inputs.task",
      "steps.plan.output",
      "steps.plan.output.steps",
      'steps.plan.output["odd key"]',
      "steps.test.output",
      "steps.test.output.exitCode",
      "steps.test.output.stdout",
      "steps.test.output.stderr",
      "project.name",
      'project.files["src/a.ts"]',
    ]);
    expect(items[0]).toEqual({ value: "inputs.task", detail: "text input · Task", group: "inputs" });
    expect(items[1]!.detail).toBe("output of step 1, model call");
    // The first step reads no step.
    const first = completionItems({ inputs: [], steps: state.steps, stepIndex: 0 });
    expect(first.map((i) => i.value)).toEqual(["project.name"]);
    // Every offered variable is valid where it is offered.
    for (const item of items) {
      const definition = {
        inputs: { task: { type: "text" } },
        steps: [
          { id: "plan", type: "llm", model: MODEL, prompt: "x", output: "json", schema: { type: "object" } },
          { id: "test", type: "command", run: "ls" },
          { id: "me", type: "transform", template: `{{${item.value}}}` },
        ],
      };
      expect(validateWorkflow(definition)).toMatchObject({ ok: true });
    }
  });

  it("filters by prefix first, then by substring", () => {
    const items = completionItems({
      inputs: [
        { name: "output_dir", spec: { type: "string" } },
        { name: "task", spec: { type: "text" } },
      ],
      steps: [{ step: { id: "plan", type: "llm" } }],
      stepIndex: 1,
    });
    expect(filterCompletions(items, "").length).toBe(items.length);
    expect(filterCompletions(items, "steps").map((i) => i.value)).toEqual(["steps.plan.output"]);
    expect(filterCompletions(items, "out").map((i) => i.value)).toEqual([
      "inputs.output_dir",
      "steps.plan.output",
    ]);
    expect(filterCompletions(items, "INPUTS.T").map((i) => i.value)).toEqual(["inputs.task"]);
    // An exact match is complete: nothing left to offer for it.
    expect(filterCompletions(items, "inputs.task")).toEqual([]);
    expect(filterCompletions(items, "zzz")).toEqual([]);
    expect(filterCompletions(items, "", 2)).toHaveLength(2);
  });

  it("inserts the completion, closing the tag unless it is closed", () => {
    const text = "Plan: {{inp";
    const context = completionContext(text, text.length)!;
    expect(applyCompletion(text, text.length, context, "inputs.task")).toEqual({
      text: "Plan: {{inputs.task}}",
      cursor: 21,
    });
    const spaced = "A {{ st\nB";
    expect(applyCompletion(spaced, 7, completionContext(spaced, 7)!, "steps.a.output")).toEqual({
      text: "A {{ steps.a.output }}\nB",
      cursor: 22,
    });
    // Already closed: the rest of the name after the cursor is replaced, the cursor goes past the braces.
    const closed = "{{inputs.ta}} rest";
    expect(applyCompletion(closed, 9, completionContext(closed, 9)!, "inputs.task")).toEqual({
      text: "{{inputs.task}} rest",
      cursor: 15,
    });
  });
});

describe("JSON text", () => {
  it("parses, or says where it broke", () => {
    expect(parseJsonText('{"a": 1}')).toEqual({ ok: true, value: { a: 1 } });
    const failed = parseJsonText('{\n  "a": 1,\n  oops\n}');
    expect(failed.ok).toBe(false);
    if (!failed.ok) expect(failed.error).toMatch(/^Line 3, column 3: /);
    expect(parseJsonText("").ok).toBe(false);
  });
});

describe("run form", () => {
  const inputs = {
    task: { type: "text" as const },
    tone: { type: "string" as const, enum: ["calm", "terse"], default: "calm" },
    count: { type: "number" as const, default: 3 },
    dry: { type: "boolean" as const, default: true },
    extra: { type: "json" as const, default: { a: 1 } },
    notes: { type: "string" as const, required: false },
  };

  it("prefills the defaults as the form shows them", () => {
    expect(runFormDefaults(inputs)).toEqual({
      task: "",
      tone: "calm",
      count: "3",
      dry: true,
      extra: '{\n  "a": 1\n}',
      notes: "",
    });
  });

  it("converts and checks values as the server does, errors by input", () => {
    const values = { ...runFormDefaults(inputs), task: "Fix it", count: "4", extra: "[1, 2]" };
    expect(runInputFromForm(inputs, values)).toEqual({
      ok: true,
      value: { task: "Fix it", tone: "calm", count: 4, dry: true, extra: [1, 2], notes: "" },
    });
    const bad = runInputFromForm(inputs, { ...values, task: " ", count: "four", extra: "{nope", dry: false });
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(Object.keys(bad.errors).sort()).toEqual(["count", "extra", "task"]);
      expect(bad.errors.task).toBe('Input "task" is required');
      expect(bad.errors.count).toContain("must be a number");
      expect(bad.errors.extra).toMatch(/^Not valid JSON/);
    }
    // An empty JSON box falls back to the default.
    expect(runInputFromForm(inputs, { ...values, extra: "  " })).toMatchObject({
      ok: true,
      value: { extra: { a: 1 } },
    });
    expect(runInputFromForm(inputs, { ...values, tone: "loud" })).toMatchObject({
      ok: false,
      errors: { tone: expect.stringContaining("must be one of") },
    });
  });

  it("reads the server's issues", () => {
    expect(
      runErrorsFromIssues([
        { path: ["input", "task"], message: "Required" },
        { path: ["input", "task"], message: "second" },
        { path: ["input"], message: "whole" },
        "junk",
      ]),
    ).toEqual({ task: "Required", "": "whole" });
    expect(runErrorsFromIssues(undefined)).toEqual({});
  });
});

describe("diff", () => {
  it("keeps hunks and their lines, drops headers", () => {
    const patch = [
      "Index: a/workflow.json",
      "===================================================================",
      "--- a/workflow.json\tversion 1",
      "+++ b/workflow.json\tversion 2",
      "@@ -1,3 +1,3 @@",
      " {",
      '-  "a": 1',
      '+  "a": 2',
      "\\ No newline at end of file",
      "",
    ].join("\n");
    expect(patchLines(patch)).toEqual([
      { kind: "hunk", text: "@@ -1,3 +1,3 @@" },
      { kind: "context", text: "{" },
      { kind: "del", text: '  "a": 1' },
      { kind: "add", text: '  "a": 2' },
    ]);
  });
});

describe("starter templates", () => {
  it("load into the builder and come back unchanged", () => {
    for (const template of WORKFLOW_TEMPLATES) {
      const state = initialState(template.definition);
      expect(stableJson(toDefinition(state))).toBe(stableJson(template.definition));
      const first = ids(state)[0]!;
      expect(uniqueName(first, ids(state))).toBe(`${first}_2`);
    }
    expect(uniqueName("a".repeat(45), ["a".repeat(40)])).toBe(`${"a".repeat(38)}_2`);
  });
});
