import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ZCatalogFile } from "#app/modules/ai/ai.types.ts";
import { parseTemplate, renderTemplate } from "#app/modules/ai/template.ts";
import { type Step, TEMPLATE_FIELDS } from "./definition.ts";
import {
  getWorkflowTemplate,
  instantiateTemplate,
  TEMPLATE_MODEL,
  WORKFLOW_TEMPLATES,
} from "./starter-templates.ts";
import { stepReferences, validateRunInput, validateWorkflow } from "./validate.ts";

const catalog = ZCatalogFile.parse(
  JSON.parse(readFileSync(new URL("../ai/catalog/models.json", import.meta.url), "utf8")),
);
const catalogIds = new Set(catalog.models.map((model) => model.id));
const isKnownModel = (id: string) => catalogIds.has(id);

function validated(id: string) {
  const template = getWorkflowTemplate(id);
  if (!template) throw new Error(`no template ${id}`);
  const result = validateWorkflow(template.definition, { isKnownModel });
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.definition;
}

function step(steps: Step[], id: string): Step {
  const found = steps.find((s) => s.id === id);
  if (!found) throw new Error(`no step ${id}`);
  return found;
}

function templateText(s: Step): string {
  return TEMPLATE_FIELDS[s.type].map((field) => (s as Record<string, unknown>)[field] ?? "").join("\n");
}

describe("WORKFLOW_TEMPLATES", () => {
  it("has unique ids, names and descriptions, with the three starters first", () => {
    const ids = WORKFLOW_TEMPLATES.map((t) => t.id);
    expect(ids.slice(0, 3)).toEqual(["plan-implement-test-review", "explain-code", "fix-failing-tests"]);
    expect(new Set(ids).size).toBe(ids.length);
    for (const template of WORKFLOW_TEMPLATES) {
      expect(template.name.length).toBeGreaterThan(0);
      expect(template.description.length).toBeGreaterThan(20);
    }
  });

  it.each(WORKFLOW_TEMPLATES.map((t) => [t.id, t] as const))(
    "%s validates with no errors and no warnings against the shipped catalog",
    (_id, template) => {
      expect(catalogIds.has(TEMPLATE_MODEL)).toBe(true);
      const result = validateWorkflow(template.definition, { isKnownModel });
      expect(result).toMatchObject({ ok: true, warnings: [] });
    },
  );

  it("is frozen, so no caller can change a template for everyone", () => {
    const template = WORKFLOW_TEMPLATES[0]!;
    expect(Object.isFrozen(WORKFLOW_TEMPLATES)).toBe(true);
    expect(Object.isFrozen(template.definition.steps[0])).toBe(true);
    expect(() => {
      (template as { name: string }).name = "changed";
    }).toThrow(TypeError);
  });
});

describe("plan-implement-test-review", () => {
  const definition = validated("plan-implement-test-review");

  it("takes a required task and a test command defaulting to npm test", () => {
    expect(definition.inputs).toMatchObject({
      task: { type: "text", required: true },
      test_command: { type: "string", default: "npm test" },
    });
    expect(validateRunInput(definition, {})).toEqual({
      ok: false,
      errors: [{ path: ["input", "task"], message: 'Input "task" is required' }],
    });
    expect(validateRunInput(definition, { task: "Add a health check" })).toEqual({
      ok: true,
      value: { task: "Add a health check", test_command: "npm test" },
    });
  });

  it("plans, implements, tests (continuing on failure) and reviews as JSON", () => {
    expect(definition.steps.map((s) => [s.id, s.type])).toEqual([
      ["plan", "llm"],
      ["implement", "agent"],
      ["test", "command"],
      ["review", "llm"],
    ]);
    const plan = step(definition.steps, "plan");
    expect(plan.type === "llm" && plan.prompt).toContain("{{inputs.task}}");
    expect(plan.type === "llm" && plan.prompt).toMatch(/numbered list/);

    const implement = step(definition.steps, "implement");
    expect(implement.type === "agent" && implement.instructions).toContain("{{inputs.task}}");
    expect(implement.type === "agent" && implement.instructions).toContain("{{steps.plan.output}}");

    expect(step(definition.steps, "test")).toMatchObject({
      type: "command",
      run: "{{inputs.test_command}}",
      continueOnError: true,
    });

    const review = step(definition.steps, "review");
    expect(review).toMatchObject({
      type: "llm",
      output: "json",
      schema: {
        type: "object",
        properties: {
          verdict: { type: "string", enum: ["pass", "fail"] },
          summary: { type: "string" },
          issues: { type: "array", items: { type: "string" } },
        },
        required: ["verdict", "summary", "issues"],
      },
    });
    const text = templateText(review);
    for (const variable of [
      "{{steps.test.output.exitCode}}",
      "{{steps.test.output.stdout}}",
      "{{steps.plan.output}}",
    ]) {
      expect(text).toContain(variable);
    }
  });

  it("wires each step to the steps it reads", () => {
    const refs = stepReferences(definition);
    expect(Object.fromEntries([...refs].map(([id, set]) => [id, [...set].sort()]))).toEqual({
      plan: [],
      implement: ["plan"],
      test: [],
      review: ["implement", "plan", "test"],
    });
  });

  it("renders the review prompt from a run's values", () => {
    const review = step(definition.steps, "review");
    if (review.type !== "llm") throw new Error("review is an llm step");
    const rendered = renderTemplate(review.prompt, {
      inputs: { task: "Add /health", test_command: "npm test" },
      steps: {
        plan: { output: "1. Add the route" },
        implement: { output: "Added app/routes/health.ts" },
        test: { output: { exitCode: 1, stdout: "1 failed", stderr: "" } },
      },
    });
    expect(rendered.ok).toBe(true);
    if (rendered.ok) {
      expect(rendered.text).toContain("exited with code 1");
      expect(rendered.text).toContain("1 failed");
      expect(rendered.text).toContain("1. Add the route");
    }
  });
});

describe("explain-code", () => {
  const definition = validated("explain-code");

  it("takes code (text) and an optional focus, and has one llm step reading both", () => {
    expect(definition.inputs).toMatchObject({
      code: { type: "text" },
      focus: { type: "string", required: false },
    });
    expect(definition.steps).toHaveLength(1);
    const explain = definition.steps[0]!;
    expect(explain.type).toBe("llm");
    expect(parseTemplate(templateText(explain)).variables).toEqual(["inputs.code", "inputs.focus"]);
  });

  it("renders without a focus (the run input fills it with an empty string)", () => {
    const input = validateRunInput(definition, { code: "const x = 1;" });
    expect(input).toEqual({ ok: true, value: { code: "const x = 1;", focus: "" } });
    const explain = definition.steps[0]!;
    if (explain.type !== "llm" || !input.ok) throw new Error("unexpected");
    expect(renderTemplate(explain.prompt, { inputs: input.value }).ok).toBe(true);
  });
});

describe("fix-failing-tests", () => {
  const definition = validated("fix-failing-tests");

  it("runs the tests, lets the agent fix them using the output, then runs them again, failing the run", () => {
    expect(definition.inputs).toMatchObject({ test_command: { type: "string", default: "npm test" } });
    expect(definition.steps.map((s) => s.type)).toEqual(["command", "agent", "command"]);
    const [first, fix, again] = definition.steps;
    expect(first).toMatchObject({ run: "{{inputs.test_command}}", continueOnError: true });
    expect(again).toMatchObject({ run: "{{inputs.test_command}}", continueOnError: false });
    const instructions = templateText(fix!);
    expect(instructions).toContain(`{{steps.${first!.id}.output.stdout}}`);
    expect(instructions).toContain(`{{steps.${first!.id}.output.exitCode}}`);
    expect(stepReferences(definition).get(fix!.id)).toEqual(new Set([first!.id]));
  });
});

describe("instantiateTemplate", () => {
  it("sets every llm and agent step's model, leaves command steps alone, and applies defaults", () => {
    const model = "anthropic:claude-sonnet-4-5";
    const definition = instantiateTemplate("plan-implement-test-review", { model });
    expect(definition.steps.map((s) => ("model" in s ? s.model : null))).toEqual([model, model, null, model]);
    expect(definition.version).toBe(1);
    expect(step(definition.steps, "test")).toMatchObject({ timeoutSeconds: 300 });
    expect(validateWorkflow(definition, { isKnownModel })).toMatchObject({ ok: true, warnings: [] });
  });

  it("returns a fresh copy, never the template itself", () => {
    const a = instantiateTemplate("explain-code", { model: "openai:gpt-4o" });
    a.steps[0]!.name = "changed";
    const b = instantiateTemplate("explain-code", { model: "openai:gpt-4o" });
    expect(b.steps[0]!.name).not.toBe("changed");
    expect(getWorkflowTemplate("explain-code")?.definition.steps[0]).toMatchObject({ model: TEMPLATE_MODEL });
  });

  it("leaves a bad model id for the validator to report, and throws for an unknown template or empty model", () => {
    const definition = instantiateTemplate("fix-failing-tests", { model: "nope" });
    expect(validateWorkflow(definition)).toMatchObject({
      ok: false,
      errors: [{ path: ["steps", 1, "model"], message: expect.stringContaining('"nope"') }],
    });
    expect(() => instantiateTemplate("missing", { model: TEMPLATE_MODEL })).toThrow(
      'Unknown workflow template "missing"',
    );
    expect(() => instantiateTemplate("explain-code", { model: "" })).toThrow(/Choose a model/);
  });
});
