/**
 * The template variables of a run, and rendering a step's templates with them:
 *
 *   inputs.<name>                 the run's (validated) input
 *   steps.<id>.output[.<path>]    outputs of the steps that finished before this one
 *   project.name                  the run's project
 *   project.files["<path>"]       a file of the project (only the paths the templates name are read)
 *
 * A missing variable fails the step with every missing path listed, before any model is called.
 */
import type { DbOrTx } from "#app/db/client.server.ts";
import { parseTemplate, renderTemplate } from "#app/modules/ai/template.ts";

/** A step failed for a reason retrying cannot fix; the run fails with `{code, message, stepId}`. */
export class StepFailure extends Error {
  override readonly name = "StepFailure";
  constructor(
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

export type TemplateVariables = {
  inputs: Record<string, unknown>;
  steps: Record<string, { output: unknown }>;
  project: { id: string; name: string; files: Record<string, string> };
};

/** The `project.files["…"]` paths the templates reference (templates that do not parse name none). */
export function referencedFilePaths(templates: ReadonlyArray<string | undefined>): string[] {
  const paths = new Set<string>();
  for (const body of templates) {
    if (!body) continue;
    const parsed = parseTemplate(body);
    if (!parsed.ok) continue;
    for (const part of parsed.parts) {
      if (part.kind !== "variable") continue;
      const [root, field, path] = part.segments;
      if (root === "project" && field === "files" && typeof path === "string") paths.add(path);
    }
  }
  return [...paths];
}

/**
 * The variables a step's templates see. Reads the project row (unless `project` is given: the engine reads
 * it once per run) and, of its files, only those the templates reference (binary files have no text and
 * count as missing).
 */
export async function buildTemplateVariables(
  db: DbOrTx,
  {
    run,
    project: known,
    stepOutputs,
    templates,
  }: {
    run: { userId: string; projectId: string; input: unknown };
    /** The project's name when the caller has it already. */
    project?: { name: string };
    /** Outputs of the finished steps, by step id. */
    stepOutputs: ReadonlyMap<string, unknown>;
    /** The templates about to be rendered (to know which files to load). */
    templates: ReadonlyArray<string | undefined>;
  },
): Promise<TemplateVariables> {
  const project =
    known ??
    (await db.project.findFirst({
      where: { id: run.projectId, userId: run.userId },
      select: { name: true },
    }));
  const files: Record<string, string> = {};
  const paths = referencedFilePaths(templates);
  if (paths.length > 0) {
    const rows = await db.codeSnippet.findMany({
      where: { projectId: run.projectId, userId: run.userId, path: { in: paths } },
      select: { path: true, content: true, isBinary: true },
    });
    for (const row of rows) if (!row.isBinary) files[row.path] = row.content;
  }
  const steps: Record<string, { output: unknown }> = {};
  for (const [id, output] of stepOutputs) steps[id] = { output };
  const input = run.input;
  return {
    inputs:
      input && typeof input === "object" && !Array.isArray(input) ? (input as Record<string, unknown>) : {},
    steps,
    project: { id: run.projectId, name: project?.name ?? "", files },
  };
}

/**
 * Render one template of a step, or throw a StepFailure naming the step, the field and every missing
 * variable (`TEMPLATE_MISSING_VARIABLES`) or syntax error (`TEMPLATE_INVALID`).
 */
export function renderStepTemplate(
  body: string,
  variables: TemplateVariables,
  where: { stepId: string; field: string },
): string {
  const result = renderTemplate(body, variables);
  if (result.ok) return result.text;
  if (result.missing.length > 0) {
    const list = result.missing.map((path) => `{{${path}}}`).join(", ");
    throw new StepFailure(
      "TEMPLATE_MISSING_VARIABLES",
      `Step "${where.stepId}": the ${where.field === "template" ? "template" : `${where.field} template`} has no value for ${list}`,
      { missing: result.missing },
    );
  }
  const first = result.errors[0];
  throw new StepFailure(
    "TEMPLATE_INVALID",
    `Step "${where.stepId}": the ${where.field} template cannot be rendered${
      first ? ` (${first.line}:${first.column}: ${first.message})` : ""
    }`,
  );
}
