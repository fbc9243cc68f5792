import { describe, expect, it } from "vitest";
import type { DefinitionIssue, WorkflowDefinition } from "./definition.ts";
import { closestName, stepReferences, validateRunInput, validateWorkflow } from "./validate.ts";

type Json = Record<string, unknown>;

const MODEL = "openai:gpt-4.1-mini";

/** A realistic valid definition: every step type, structured outputs, project variables, every input used. */
function realistic(): Json {
  return {
    version: 1,
    inputs: {
      task: { type: "text", label: "Task", required: true },
      test_command: { type: "string", default: "npm test" },
      language: { type: "string", enum: ["typescript", "python"], default: "typescript" },
      max_files: { type: "number", default: 5 },
      strict: { type: "boolean", default: false },
      extra: { type: "json", required: false, default: { tags: ["a"] } },
    },
    steps: [
      {
        id: "plan",
        type: "llm",
        model: MODEL,
        system: "You plan {{inputs.language}} changes.",
        prompt:
          'Project {{project.name}}. README:\n{{project.files["README.md"]}}\nTask: {{inputs.task}}\nAt most {{inputs.max_files}} files, strict: {{inputs.strict}}, extra: {{inputs.extra.tags}}',
        output: "json",
        schema: { type: "object", properties: { files: { type: "array" } }, required: ["files"] },
      },
      {
        id: "brief",
        type: "transform",
        template: "Files: {{steps.plan.output.files}}\nAll: {{steps.plan.output}}",
      },
      {
        id: "implement",
        type: "agent",
        model: "anthropic:claude-sonnet-4-5",
        instructions: "{{steps.brief.output}}",
      },
      { id: "test", type: "command", run: "{{inputs.test_command}}", continueOnError: true },
      {
        id: "review",
        type: "llm",
        model: "compat:ollama/qwen2.5-coder",
        prompt:
          "Exit {{steps.test.output.exitCode}}\n{{steps.test.output.stdout}}\n{{steps.test.output.stderr}}\n{{steps.test.output}}\n{{steps.implement.output}}",
      },
    ],
  };
}

function withSteps(steps: Json[], inputs: Json = {}): Json {
  return { inputs, steps };
}

function llm(id: string, prompt: string, extra: Json = {}): Json {
  return { id, type: "llm", model: MODEL, prompt, ...extra };
}

function errorsOf(input: unknown, options?: Parameters<typeof validateWorkflow>[1]): DefinitionIssue[] {
  const result = validateWorkflow(input, options);
  if (result.ok) throw new Error(`expected errors, got ok with warnings ${JSON.stringify(result.warnings)}`);
  return result.errors;
}

function messagesAt(issues: DefinitionIssue[], path: Array<string | number>): string[] {
  return issues.filter((i) => JSON.stringify(i.path) === JSON.stringify(path)).map((i) => i.message);
}

describe("validateWorkflow: a valid definition", () => {
  it("passes a realistic definition with no errors and no warnings, defaults applied", () => {
    const catalog = new Set([MODEL, "anthropic:claude-sonnet-4-5", "compat:ollama/qwen2.5-coder"]);
    const result = validateWorkflow(realistic(), { isKnownModel: (id) => catalog.has(id) });
    expect(result).toMatchObject({ ok: true, warnings: [] });
    if (!result.ok) return;
    expect(result.definition.version).toBe(1);
    expect(result.definition.steps.map((s) => s.id)).toEqual([
      "plan",
      "brief",
      "implement",
      "test",
      "review",
    ]);
    const test = result.definition.steps[3];
    expect(test).toMatchObject({ type: "command", timeoutSeconds: 300, continueOnError: true });
    expect(result.definition.steps[4]).toMatchObject({ output: "text" });
    expect(result.definition.steps[2]).toMatchObject({ maxTurns: 30, maxMinutes: 20 });
  });

  it("applies the top-level defaults (version, inputs)", () => {
    const result = validateWorkflow({ steps: [{ id: "a", type: "command", run: "ls" }] });
    expect(result).toMatchObject({ ok: true, warnings: [], definition: { version: 1, inputs: {} } });
  });
});

describe("validateWorkflow: shape", () => {
  it("refuses a non-object, with the root path", () => {
    expect(errorsOf("hello")).toEqual([{ path: [], message: "Expected an object, got a string" }]);
    expect(errorsOf(null)).toEqual([{ path: [], message: "Expected an object, got null" }]);
  });

  it("reports every shape issue at once, in document order, with zod's paths", () => {
    const errors = errorsOf({
      version: 2,
      extra: true,
      inputs: { "Bad-Name": { type: "string" }, ok: { type: "strng", lable: "x" } },
      steps: [
        { id: "a", type: "llmx" },
        { type: "llm" },
        { id: "b", type: "command", run: "", timeoutSeconds: "3", bogus: 1 },
        5,
      ],
    });
    expect(errors).toEqual([
      { path: [], message: 'Unknown field "extra"' },
      { path: ["version"], message: "Unsupported format version 2: use 1" },
      {
        path: ["inputs", "Bad-Name"],
        message:
          'Invalid name "Bad-Name": Use lower-case letters, digits and _ (start with a letter, at most 40)',
      },
      {
        path: ["inputs", "ok", "type"],
        message:
          'Invalid value "strng": use "string", "text", "number", "boolean" or "json" (did you mean "string"?)',
      },
      { path: ["inputs", "ok"], message: 'Unknown field "lable" (did you mean "label"?)' },
      {
        path: ["steps", 0, "type"],
        message:
          'Unknown step type "llmx": use "llm", "transform", "command" or "agent" (did you mean "llm"?)',
      },
      { path: ["steps", 1, "id"], message: "Required (a string)" },
      { path: ["steps", 1, "model"], message: "Required (a string)" },
      { path: ["steps", 1, "prompt"], message: "Required (a string)" },
      { path: ["steps", 2, "run"], message: "Write the command" },
      { path: ["steps", 2, "timeoutSeconds"], message: "Expected a number, got a string" },
      { path: ["steps", 2], message: 'Unknown field "bogus"' },
      { path: ["steps", 3], message: "Expected an object, got a number" },
    ]);
  });

  it("lists the valid step types when the type is missing", () => {
    const errors = errorsOf(withSteps([{ id: "a", run: "ls" }]));
    expect(errors).toEqual([
      { path: ["steps", 0, "type"], message: 'Choose a step type: "llm", "transform", "command" or "agent"' },
    ]);
  });

  it("suggests the field a step of that type has", () => {
    const errors = errorsOf(withSteps([llm("a", "hi", { promt: "x", temprature: 1 })]));
    expect(errors).toEqual([
      { path: ["steps", 0], message: 'Unknown field "promt" (did you mean "prompt"?)' },
      { path: ["steps", 0], message: 'Unknown field "temprature" (did you mean "temperature"?)' },
    ]);
  });

  it("keeps the contract's own messages (empty steps, too many steps)", () => {
    expect(errorsOf({ steps: [] })).toEqual([{ path: ["steps"], message: "Add at least one step" }]);
    const many = Array.from({ length: 51 }, (_, i) => ({ id: `s${i}`, type: "command", run: "ls" }));
    expect(errorsOf({ steps: many })).toEqual([{ path: ["steps"], message: "At most 50 steps" }]);
  });

  it("still checks references and templates when the shape is wrong elsewhere", () => {
    const errors = errorsOf({
      steps: [
        llm("a", "{{inputs.nope}}", { temperature: 5 }),
        { id: "b", type: "command", run: "{{#each}}" },
      ],
    });
    expect(errors.map((e) => e.path)).toEqual([
      ["steps", 0, "temperature"],
      ["steps", 0, "prompt"],
      ["steps", 1, "run"],
    ]);
  });
});

describe("validateWorkflow: step ids", () => {
  it("reports a duplicate id at the later step, naming the first position", () => {
    const errors = errorsOf(
      withSteps([
        { id: "a", type: "command", run: "ls" },
        { id: "b", type: "command", run: "ls" },
        { id: "a", type: "command", run: "ls" },
        { id: "a", type: "command", run: "ls" },
      ]),
    );
    expect(errors).toEqual([
      { path: ["steps", 2, "id"], message: 'Duplicate step id "a": step 1 already uses it' },
      { path: ["steps", 3, "id"], message: 'Duplicate step id "a": step 1 already uses it' },
    ]);
  });
});

describe("validateWorkflow: templates", () => {
  it("reports syntax errors with line:column, in every template field", () => {
    const errors = errorsOf(
      withSteps([
        llm("a", "line one\nand {{ broken", { system: "{{#if x}}y{{/if}}" }),
        { id: "b", type: "transform", template: "ok {{ a b }}" },
        { id: "c", type: "agent", model: MODEL, instructions: "{{{raw}}}" },
      ]),
    );
    expect(messagesAt(errors, ["steps", 0, "prompt"])).toEqual([
      expect.stringMatching(/^2:5: Unclosed "\{\{"/),
    ]);
    expect(messagesAt(errors, ["steps", 0, "system"])).toHaveLength(2);
    expect(messagesAt(errors, ["steps", 0, "system"])[0]).toMatch(/^1:3: .*sections/);
    expect(messagesAt(errors, ["steps", 1, "template"])).toEqual([
      expect.stringMatching(/^1:9: Expected "}}"/),
    ]);
    expect(messagesAt(errors, ["steps", 2, "instructions"])).toEqual([expect.stringMatching(/^1:1: /)]);
  });

  it("still checks the variables of tags that parsed in a template with syntax errors", () => {
    const errors = errorsOf(withSteps([llm("a", "{{inputs.tsak}} {{ broken")], { task: { type: "text" } }));
    expect(messagesAt(errors, ["steps", 0, "prompt"])).toEqual([
      expect.stringMatching(/^1:17: Unclosed/),
      '"inputs.tsak" refers to no input "tsak" (did you mean "inputs.task"?)',
    ]);
  });

  it("reports a variable once per field, at its first use", () => {
    const errors = errorsOf(withSteps([llm("a", "{{x}} and\n  {{x}}")]));
    expect(errors).toEqual([
      {
        path: ["steps", 0, "prompt"],
        message: '1:1: Unknown variable "x": it must start with "inputs", "steps" or "project"',
      },
    ]);
  });
});

describe("validateWorkflow: variables", () => {
  const inputs = { task: { type: "text" }, config: { type: "json" }, count: { type: "number" } };

  /** The errors of the prompt of step "me" (after `before`), [] when the definition is valid. */
  function promptErrors(prompt: string, before: Json[] = [], after: Json[] = []): string[] {
    const result = validateWorkflow(withSteps([...before, llm("me", prompt), ...after], inputs));
    return result.ok ? [] : messagesAt(result.errors, ["steps", before.length, "prompt"]);
  }

  it("refuses unknown roots, suggesting the root, the input or the step that was meant", () => {
    const before = [{ id: "plan", type: "command", run: "ls" }];
    expect(promptErrors("{{input.task}}", before)).toEqual([
      '1:1: Unknown variable "input.task": it must start with "inputs", "steps" or "project" (did you mean "inputs.task"?)',
    ]);
    expect(promptErrors("{{task}}", before)).toEqual([
      '1:1: Unknown variable "task": it must start with "inputs", "steps" or "project" (did you mean "inputs.task"?)',
    ]);
    expect(promptErrors("{{plan}}", before)).toEqual([
      '1:1: Unknown variable "plan": it must start with "inputs", "steps" or "project" (did you mean "steps.plan.output"?)',
    ]);
    expect(promptErrors("{{zzz}}", before)).toEqual([
      '1:1: Unknown variable "zzz": it must start with "inputs", "steps" or "project"',
    ]);
  });

  it("requires declared inputs, suggesting a close name or listing the declared ones", () => {
    expect(promptErrors("{{inputs.tsak}}")).toEqual([
      '1:1: "inputs.tsak" refers to no input "tsak" (did you mean "inputs.task"?)',
    ]);
    expect(promptErrors("{{inputs.zebra}}")).toEqual([
      '1:1: "inputs.zebra" refers to no input "zebra": declared inputs are "task", "config" and "count"',
    ]);
    expect(promptErrors("{{inputs}}")).toEqual([
      '1:1: "inputs" alone is not a value: write inputs.<name> ("task", "config" or "count")',
    ]);
    const none = errorsOf(withSteps([llm("a", "{{inputs.task}}")]));
    expect(none).toEqual([
      {
        path: ["steps", 0, "prompt"],
        message: '1:1: "inputs.task" refers to no input "task": this workflow declares no inputs',
      },
    ]);
  });

  it("allows fields only on json inputs", () => {
    expect(promptErrors("{{inputs.config.a.0}} {{inputs.config}}")).toEqual([]);
    expect(promptErrors("{{inputs.task.title}}")).toEqual([
      '1:1: "inputs.task.title": input "task" is text, it has no fields (only json inputs do); write "inputs.task"',
    ]);
    expect(promptErrors("{{inputs.count.x}}")).toEqual([
      '1:1: "inputs.count.x": input "count" is a number, it has no fields (only json inputs do); write "inputs.count"',
    ]);
  });

  it("requires an earlier step: later, itself, unknown (with a suggestion)", () => {
    const before = [
      { id: "plan", type: "command", run: "ls" },
      { id: "build", type: "command", run: "ls" },
    ];
    const after = [
      { id: "x", type: "command", run: "ls" },
      { id: "later", type: "command", run: "ls" },
    ];
    expect(promptErrors("{{steps.later.output}}", before, after)).toEqual([
      '1:1: "steps.later.output" refers to step "later", which runs later (step 5)',
    ]);
    expect(promptErrors("{{steps.me.output}}", before, after)).toEqual([
      '1:1: "steps.me.output" refers to itself: a step can only read the steps before it',
    ]);
    expect(promptErrors("{{steps.plann.output}}", before, after)).toEqual([
      '1:1: "steps.plann.output": no step "plann" (did you mean "plan"?)',
    ]);
    expect(promptErrors("{{steps.nothing.output}}", before, after)).toEqual([
      '1:1: "steps.nothing.output": no step "nothing"',
    ]);
  });

  it("requires steps.<id>.output, not steps.<id> alone or another key", () => {
    const before = [llm("plan", "p", { output: "json" })];
    expect(promptErrors("{{steps}}", before)).toEqual([
      '1:1: "steps" alone is not a value: write steps.<id>.output',
    ]);
    expect(promptErrors("{{steps.plan}}", before)).toEqual([
      '1:1: "steps.plan" alone is not a value: write "steps.plan.output" (or "steps.plan.output.<field>")',
    ]);
    expect(promptErrors("{{steps.plan.result.items}}", before)).toEqual([
      '1:1: "steps.plan.result.items": a step\'s value is its output; write "steps.plan.output.items"',
    ]);
    const text = [llm("plan", "p")];
    expect(promptErrors("{{steps.plan}}", text)).toEqual([
      '1:1: "steps.plan" alone is not a value: write "steps.plan.output"',
    ]);
  });

  it("allows sub-paths only into structured outputs", () => {
    const before = [
      llm("j", "p", { output: "json" }),
      llm("t", "p"),
      { id: "tj", type: "transform", template: "{}", output: "json" },
      { id: "tt", type: "transform", template: "x" },
      { id: "ag", type: "agent", model: MODEL, instructions: "do" },
      { id: "cmd", type: "command", run: "ls" },
    ];
    expect(
      promptErrors(
        "{{steps.j.output.a.b.0}} {{steps.tj.output.x}} {{steps.cmd.output.exitCode}} {{steps.cmd.output.stdout}} {{steps.cmd.output.stderr}} {{steps.t.output}} {{steps.ag.output}} {{steps.cmd.output}}",
        before,
      ),
    ).toEqual([]);
    expect(promptErrors("{{steps.t.output.x}}", before)).toEqual([
      '1:1: "steps.t.output.x": the output of step "t" is text, it has no fields; write "steps.t.output", or set that step\'s output to "json"',
    ]);
    expect(promptErrors("{{steps.tt.output.x}}", before)).toEqual([
      '1:1: "steps.tt.output.x": the output of step "tt" is text, it has no fields; write "steps.tt.output", or set that step\'s output to "json"',
    ]);
    expect(promptErrors("{{steps.ag.output.x}}", before)).toEqual([
      '1:1: "steps.ag.output.x": the output of step "ag" (an agent) is text, it has no fields; write "steps.ag.output"',
    ]);
    expect(promptErrors("{{steps.cmd.output.exitcode}}", before)).toEqual([
      '1:1: "steps.cmd.output.exitcode": the output of command step "cmd" has only "exitCode", "stdout" and "stderr" (did you mean "steps.cmd.output.exitCode"?)',
    ]);
    expect(promptErrors("{{steps.cmd.output.code}}", before)).toEqual([
      '1:1: "steps.cmd.output.code": the output of command step "cmd" has only "exitCode", "stdout" and "stderr"',
    ]);
    expect(promptErrors("{{steps.cmd.output.stdout.0}}", before)).toEqual([
      '1:1: "steps.cmd.output.stdout.0": stdout of step "cmd" is text, it has no fields',
    ]);
  });

  it("accepts project.name and bracketed project.files keys only", () => {
    expect(
      promptErrors('{{project.name}} {{project.files["src/app.ts"]}} {{ project.files["README"] }}'),
    ).toEqual([]);
    expect(promptErrors("{{project.files.README.md}}")).toEqual([
      '1:1: "project.files.README.md": write file paths in brackets and quotes: project.files["README.md"]',
    ]);
    expect(promptErrors("{{project.files.readme}}")).toEqual([
      '1:1: "project.files.readme": write file paths in brackets and quotes: project.files["readme"]',
    ]);
    expect(promptErrors("{{project.files}}")).toEqual([
      '1:1: "project.files" alone is not a value: write project.files["path/to/file"]',
    ]);
    expect(promptErrors("{{project}}")).toEqual([
      '1:1: "project" alone is not a value: use "project.name" or project.files["path/to/file"]',
    ]);
    expect(promptErrors("{{project.nmae}}")).toEqual([
      '1:1: Unknown project variable "project.nmae": use "project.name" or project.files["path/to/file"] (did you mean "project.name"?)',
    ]);
    expect(promptErrors('{{project.files["a.ts"].x}}')).toEqual([
      '1:1: "project.files["a.ts"].x": a file\'s content is text, it has no fields; write project.files["a.ts"]',
    ]);
    expect(promptErrors("{{project.name.x}}")).toEqual([
      '1:1: "project.name.x": the project name is text, it has no fields',
    ]);
  });

  it("refuses file paths outside the project", () => {
    expect(promptErrors('{{project.files["../secret"]}}')).toEqual([
      '1:1: "project.files["../secret"]": use a path relative to the project root, without ".."',
    ]);
    expect(promptErrors('{{project.files["/etc/passwd"]}}')).toEqual([
      '1:1: "project.files["/etc/passwd"]": use a path relative to the project root, without ".."',
    ]);
    expect(promptErrors('{{project.files[""]}}')).toEqual([
      '1:1: "project.files[""]": write the file\'s path inside the quotes',
    ]);
  });

  it("gives each problem's own line and column", () => {
    expect(promptErrors("Hello\n  {{inputs.task}} {{inputs.nope}}\n{{steps.x.output}}")).toEqual([
      '2:19: "inputs.nope" refers to no input "nope": declared inputs are "task", "config" and "count"',
      '3:1: "steps.x.output": no step "x"',
    ]);
  });
});

describe("validateWorkflow: models", () => {
  it("requires a model id that parses, on llm and agent steps", () => {
    const errors = errorsOf(
      withSteps([
        llm("a", "hi", { model: "gpt-4" }),
        { id: "b", type: "agent", model: "mistral:large", instructions: "go" },
        llm("c", "hi", { model: "compat:noslash" }),
      ]),
    );
    expect(errors).toEqual([
      {
        path: ["steps", 0, "model"],
        message: 'Model id "gpt-4" must look like provider:model (openai:gpt-4.1-mini)',
      },
      {
        path: ["steps", 1, "model"],
        message: 'Unknown provider "mistral" in model id "mistral:large" (use openai, anthropic or compat)',
      },
      {
        path: ["steps", 2, "model"],
        message:
          'Model id "compat:noslash" must look like compat:<endpoint>/<model> (compat:ollama/qwen2.5-coder)',
      },
    ]);
  });

  it("asks isKnownModel when given, and only then", () => {
    const definition = withSteps([
      llm("a", "hi", { model: "openai:gpt-9" }),
      { id: "b", type: "agent", model: MODEL, instructions: "go" },
    ]);
    const asked: string[] = [];
    const errors = errorsOf(definition, {
      isKnownModel: (id) => {
        asked.push(id);
        return id === MODEL;
      },
    });
    expect(errors).toEqual([{ path: ["steps", 0, "model"], message: 'Unknown model "openai:gpt-9"' }]);
    expect(asked).toEqual(["openai:gpt-9", MODEL]);
    expect(validateWorkflow(definition)).toMatchObject({ ok: true });
  });

  it("leaves an empty model to the shape check (one message, not two)", () => {
    expect(errorsOf(withSteps([llm("a", "hi", { model: "" })]))).toEqual([
      { path: ["steps", 0, "model"], message: "Choose a model" },
    ]);
  });
});

describe("validateWorkflow: inputs", () => {
  function inputErrors(inputs: Json): DefinitionIssue[] {
    const uses = Object.keys(inputs)
      .map((name) => `{{inputs.${name}}}`)
      .join(" ");
    return errorsOf(withSteps([llm("a", uses || "x")], inputs));
  }

  it("checks that defaults match their type", () => {
    expect(
      inputErrors({
        n: { type: "number", default: "3" },
        b: { type: "boolean", default: "true" },
        s: { type: "string", default: 1 },
        t: { type: "text", default: null },
      }),
    ).toEqual([
      {
        path: ["inputs", "n", "default"],
        message: "The default of a number input must be a number, not a string",
      },
      {
        path: ["inputs", "b", "default"],
        message: "The default of a boolean input must be true or false, not a string",
      },
      {
        path: ["inputs", "s", "default"],
        message: "The default of a string input must be a string, not a number",
      },
      { path: ["inputs", "t", "default"], message: "The default of a text input must be a string, not null" },
    ]);
  });

  it("accepts defaults of the right type, any JSON for json inputs", () => {
    const inputs = {
      n: { type: "number", default: 2.5 },
      b: { type: "boolean", default: true },
      s: { type: "string", default: "" },
      t: { type: "text", default: "a\nb" },
      j: { type: "json", default: [1, { a: null }] },
      k: { type: "json", default: null },
    };
    const uses = Object.keys(inputs)
      .map((name) => `{{inputs.${name}}}`)
      .join(" ");
    expect(validateWorkflow(withSteps([llm("a", uses)], inputs))).toMatchObject({ ok: true, warnings: [] });
  });

  it("allows enum on string inputs only, with a default among its values", () => {
    expect(
      inputErrors({
        lang: { type: "string", enum: ["ts", "py", "ts"], default: "rb" },
        body: { type: "text", enum: ["a"] },
        size: { type: "number", enum: ["1"], default: 1 },
        ok: { type: "string", enum: ["ts", "py"], default: "py" },
        near: { type: "string", enum: ["python"], default: "pyhton" },
      }),
    ).toEqual([
      { path: ["inputs", "lang", "enum", 2], message: '"ts" is listed twice' },
      {
        path: ["inputs", "lang", "default"],
        message: 'The default "rb" is not one of the allowed values: "ts", "py" or "ts"',
      },
      {
        path: ["inputs", "body", "enum"],
        message: "Only string inputs can have a list of allowed values (enum); this input is text",
      },
      {
        path: ["inputs", "size", "enum"],
        message: "Only string inputs can have a list of allowed values (enum); this input is a number",
      },
      {
        path: ["inputs", "near", "default"],
        message: 'The default "pyhton" is not one of the allowed values: "python" (did you mean "python"?)',
      },
    ]);
  });
});

describe("validateWorkflow: schemas", () => {
  it("allows a schema only with output json", () => {
    const errors = errorsOf(withSteps([llm("a", "hi", { schema: { type: "object" } })]));
    expect(errors).toEqual([
      {
        path: ["steps", 0, "schema"],
        message: 'A schema only applies to a JSON output: set output to "json", or remove the schema',
      },
    ]);
  });

  it("requires a type or a combinator, and sane type/properties/required", () => {
    const json = { output: "json" };
    const errors = errorsOf(
      withSteps([
        llm("a", "hi", { ...json, schema: { properties: {} } }),
        llm("b", "hi", { ...json, schema: { type: "dict" } }),
        llm("c", "hi", { ...json, schema: { type: "object", properties: [], required: "x" } }),
        llm("d", "hi", { ...json, schema: { type: ["string", "null"] } }),
        llm("e", "hi", { ...json, schema: { anyOf: [{ type: "string" }] } }),
        llm("f", "hi", { ...json, schema: { $ref: "#/defs/x" } }),
      ]),
    );
    expect(errors).toEqual([
      {
        path: ["steps", 0, "schema"],
        message:
          'The schema needs a "type" (or "$ref", "anyOf", "oneOf" or "allOf"), like {"type": "object", "properties": {…}}',
      },
      {
        path: ["steps", 1, "schema", "type"],
        message:
          'Unknown schema type "dict": use "object", "array", "string", "number", "integer", "boolean" or "null"',
      },
      {
        path: ["steps", 2, "schema", "properties"],
        message: '"properties" must be an object of schemas by name',
      },
      { path: ["steps", 2, "schema", "required"], message: '"required" must be a list of property names' },
    ]);
  });

  it("leaves a non-object schema to the shape check", () => {
    const errors = errorsOf(withSteps([llm("a", "hi", { output: "json", schema: "object" })]));
    expect(errors).toEqual([{ path: ["steps", 0, "schema"], message: "Expected an object, got a string" }]);
  });
});

describe("validateWorkflow: warnings", () => {
  it("warns about an input no step reads, and not about an output nobody reads", () => {
    const result = validateWorkflow(
      withSteps([llm("a", "{{inputs.used}}"), llm("b", "no reference")], {
        used: { type: "string" },
        unused: { type: "string" },
      }),
    );
    expect(result).toEqual({
      ok: true,
      definition: expect.any(Object),
      warnings: [{ path: ["inputs", "unused"], message: 'Input "unused" is not used by any step' }],
    });
  });

  it("warns about an optional number/boolean/json input with no default that a step reads", () => {
    const result = validateWorkflow(
      withSteps([llm("a", "{{inputs.n}} {{inputs.s}} {{inputs.d}}")], {
        n: { type: "number", required: false },
        s: { type: "string", required: false },
        d: { type: "number", required: false, default: 1 },
      }),
    );
    expect(result).toMatchObject({
      ok: true,
      warnings: [
        {
          path: ["inputs", "n"],
          message:
            'Input "n" is optional with no default: a run without it fails at the first step that reads it; give it a default',
        },
      ],
    });
  });

  it("returns no warnings alongside errors (errors only)", () => {
    const result = validateWorkflow(withSteps([llm("a", "{{inputs.x}}")], { unused: { type: "string" } }));
    expect(result).toEqual({
      ok: false,
      errors: [
        {
          path: ["steps", 0, "prompt"],
          message: '1:1: "inputs.x" refers to no input "x": declared inputs are "unused"',
        },
      ],
    });
  });
});

describe("validateWorkflow: a template with syntax errors", () => {
  it("tells bracketed file keys from dotted ones by the body", () => {
    const errors = errorsOf(
      withSteps([llm("a", '{{project.files["ok.md"]}} {{project.files.bad}} {{ oops')]),
    );
    expect(messagesAt(errors, ["steps", 0, "prompt"])).toEqual([
      expect.stringMatching(/^1:50: Unclosed/),
      '"project.files.bad": write file paths in brackets and quotes: project.files["bad"]',
    ]);
  });
});

describe("validateWorkflow: several problems at once", () => {
  it("reports every problem of a badly broken definition with exact paths", () => {
    const errors = errorsOf({
      inputs: {
        task: { type: "text" },
        level: { type: "number", default: "high" },
      },
      steps: [
        llm("plan", "{{inputs.tsak}} {{steps.review.output}}", { model: "gpt-4" }),
        { id: "plan", type: "command", run: "echo {{steps.plan.output.x}}", colour: "red" },
        { id: "review", type: "transform", template: "{{project.files.a}} {{inputs.level}} {{ oops" },
      ],
    });
    expect(errors).toEqual([
      {
        path: ["inputs", "level", "default"],
        message: "The default of a number input must be a number, not a string",
      },
      {
        path: ["steps", 0, "model"],
        message: 'Model id "gpt-4" must look like provider:model (openai:gpt-4.1-mini)',
      },
      {
        path: ["steps", 0, "prompt"],
        message: '1:1: "inputs.tsak" refers to no input "tsak" (did you mean "inputs.task"?)',
      },
      {
        path: ["steps", 0, "prompt"],
        message: '1:17: "steps.review.output" refers to step "review", which runs later (step 3)',
      },
      { path: ["steps", 1], message: 'Unknown field "colour"' },
      { path: ["steps", 1, "id"], message: 'Duplicate step id "plan": step 1 already uses it' },
      {
        path: ["steps", 1, "run"],
        message:
          '1:6: "steps.plan.output.x": the output of step "plan" is text, it has no fields; write "steps.plan.output", or set that step\'s output to "json"',
      },
      {
        path: ["steps", 2, "template"],
        message: expect.stringMatching(/^1:38: Unclosed "\{\{"/),
      },
      {
        path: ["steps", 2, "template"],
        message: '"project.files.a": write file paths in brackets and quotes: project.files["a"]',
      },
    ]);
  });
});

describe("validateRunInput", () => {
  const definition: Pick<WorkflowDefinition, "inputs"> = {
    inputs: {
      task: { type: "text", required: true },
      mode: { type: "string", enum: ["fast", "careful"], default: "fast" },
      count: { type: "number", default: 3 },
      limit: { type: "number", required: false },
      dry: { type: "boolean", default: false },
      note: { type: "string", required: false },
      config: { type: "json", required: false },
    },
  };

  it("applies defaults, fills optional text with '' and leaves other optional inputs out", () => {
    expect(validateRunInput(definition, { task: "Do it" })).toEqual({
      ok: true,
      value: { task: "Do it", mode: "fast", count: 3, dry: false, note: "" },
    });
  });

  it("converts form strings: numbers and booleans", () => {
    const result = validateRunInput(definition, {
      task: "x",
      count: " 12 ",
      limit: "-1.5e2",
      dry: "true",
      mode: "careful",
      config: { a: [1] },
    });
    expect(result).toEqual({
      ok: true,
      value: { task: "x", mode: "careful", count: 12, limit: -150, dry: true, note: "", config: { a: [1] } },
    });
    expect(validateRunInput(definition, { task: "x", dry: "false" })).toMatchObject({
      ok: true,
      value: { dry: false },
    });
  });

  it("treats empty strings and null as not given", () => {
    expect(validateRunInput(definition, { task: "x", count: "", mode: null, limit: "  " })).toEqual({
      ok: true,
      value: { task: "x", mode: "fast", count: 3, dry: false, note: "" },
    });
    expect(validateRunInput(definition, { task: "   " })).toEqual({
      ok: false,
      errors: [{ path: ["input", "task"], message: 'Input "task" is required' }],
    });
  });

  it("reports every problem: missing, wrong types, enum, unknown keys", () => {
    const result = validateRunInput(definition, {
      count: "twelve",
      limit: "0x10",
      dry: "yes",
      mode: "carefull",
      note: 5,
      tsak: "x",
      other: 1,
    });
    expect(result).toEqual({
      ok: false,
      errors: [
        { path: ["input", "tsak"], message: 'Unknown input "tsak" (did you mean "task"?)' },
        { path: ["input", "other"], message: 'Unknown input "other"' },
        { path: ["input", "task"], message: 'Input "task" is required' },
        {
          path: ["input", "mode"],
          message:
            'Input "mode" must be one of "fast" or "careful", not "carefull" (did you mean "careful"?)',
        },
        { path: ["input", "count"], message: 'Input "count" must be a number, not a string' },
        { path: ["input", "limit"], message: 'Input "limit" must be a number, not a string' },
        { path: ["input", "dry"], message: 'Input "dry" must be true or false, not a string' },
        { path: ["input", "note"], message: 'Input "note" must be a string, not a number' },
      ],
    });
  });

  it("refuses non-finite numbers and a non-object input; accepts undefined as no values", () => {
    expect(validateRunInput(definition, { task: "x", count: Number.NaN })).toMatchObject({
      ok: false,
      errors: [{ path: ["input", "count"] }],
    });
    expect(validateRunInput(definition, "task")).toEqual({
      ok: false,
      errors: [{ path: ["input"], message: "The run input must be an object of values by input name" }],
    });
    expect(validateRunInput({ inputs: {} }, undefined)).toEqual({ ok: true, value: {} });
    expect(validateRunInput({ inputs: {} }, { a: 1 })).toEqual({
      ok: false,
      errors: [{ path: ["input", "a"], message: 'Unknown input "a": this workflow takes no inputs' }],
    });
  });

  it("uses the default when required is true and a default exists", () => {
    expect(validateRunInput({ inputs: { n: { type: "number", required: true, default: 1 } } }, {})).toEqual({
      ok: true,
      value: { n: 1 },
    });
  });
});

describe("stepReferences", () => {
  it("maps each step to the earlier steps it reads, in every template field", () => {
    const result = validateWorkflow(realistic());
    if (!result.ok) throw new Error(JSON.stringify(result.errors));
    const refs = stepReferences(result.definition);
    expect([...refs.keys()]).toEqual(["plan", "brief", "implement", "test", "review"]);
    expect(refs.get("plan")).toEqual(new Set());
    expect(refs.get("brief")).toEqual(new Set(["plan"]));
    expect(refs.get("implement")).toEqual(new Set(["brief"]));
    expect(refs.get("test")).toEqual(new Set());
    expect(refs.get("review")).toEqual(new Set(["test", "implement"]));
  });

  it("leaves out references to itself, later or unknown steps, and reads system prompts too", () => {
    const definition = {
      steps: [
        { id: "a", type: "command", run: "{{steps.a.output}} {{steps.b.output}}" },
        {
          id: "b",
          type: "llm",
          model: MODEL,
          prompt: "{{steps.nope.output}} {{ broken",
          system: "{{steps.a.output.stdout}}",
        },
      ],
    } as unknown as WorkflowDefinition;
    const refs = stepReferences(definition);
    expect(refs.get("a")).toEqual(new Set());
    expect(refs.get("b")).toEqual(new Set(["a"]));
  });
});

describe("closestName", () => {
  it("finds a name within two edits (a swap counts as one), case-insensitively", () => {
    expect(closestName("tsak", ["task", "tusk"])).toBe("task");
    expect(closestName("TASK", ["task"])).toBe("task");
    expect(closestName("plna", ["plan", "build"])).toBe("plan");
    expect(closestName("x", ["y", "ab"])).toBeUndefined();
    expect(closestName("completely", ["task"])).toBeUndefined();
  });
});

describe("validateWorkflow: limits", () => {
  it("caps the problems of one template at 20, then says how many more", () => {
    const errors = errorsOf(withSteps([{ id: "a", type: "transform", template: "{{#x}}".repeat(25) }]));
    expect(errors).toHaveLength(21);
    expect(errors[19]?.message).toMatch(/^1:117: /);
    expect(errors[20]).toEqual({
      path: ["steps", 0, "template"],
      message: "…and 5 more problems in this template",
    });
  });

  it("caps the whole list at 200, then says how many more", () => {
    const steps = Array.from({ length: 15 }, (_, i) => ({
      id: `s${i}`,
      type: "transform",
      template: "{{#x}}".repeat(21),
    }));
    const errors = errorsOf(withSteps(steps));
    // 15 templates × (20 + 1 "more") = 315 issues.
    expect(errors).toHaveLength(201);
    expect(errors[200]).toEqual({ path: [], message: "…and 115 more problems" });
  });
});
