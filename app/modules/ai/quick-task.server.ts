/**
 * The quick task: one prompt about some of a project's files, answered by one model call and streamed to the
 * browser. The synchronous path of the architecture (no queue, no run): what it costs is still recorded and
 * budgeted like every other call.
 */
import type { Db } from "#app/db/client.server.ts";
import { AppError } from "#app/lib/app-error.ts";
import { parseInput } from "#app/lib/use-case.ts";
import { getProject, readFile } from "#app/modules/projects/index.server.ts";
import { type ChatRequest, QUICK_TASK_MAX_CHARS, type QuickTaskInput, ZQuickTaskInput } from "./ai.types.ts";
import { renderTemplateVersion } from "./templates.server.ts";

/**
 * The instructions every quick task starts with. They describe the job, not an answer: the answer is the
 * model's.
 */
const SYSTEM_PROMPT = [
  "You are a senior software engineer helping a developer with their project.",
  "Answer the request about the files provided. Be specific and concise.",
  "When you propose code, use fenced code blocks and name the file each block belongs to.",
].join(" ");

/** The chat request for a quick task: the project's chosen files (checked to be the caller's) and the prompt. */
export async function prepareQuickTask(
  { userId, projectId, input }: { userId: string; projectId: string; input: QuickTaskInput },
  deps: { db: Db },
): Promise<{ request: ChatRequest; templateVersionId: string | null }> {
  const task = parseInput(ZQuickTaskInput, input);
  const project = await getProject({ userId, projectId }, deps);
  let prompt = task.prompt;
  let templateVersionId: string | null = null;
  if (task.template) {
    // Missing variables are reported here, before any model call.
    const rendered = await renderTemplateVersion(
      {
        userId,
        templateId: task.template.id,
        version: task.template.version,
        variables: {
          ...task.template.variables,
          project: { name: project.name, description: project.description ?? "" },
        },
      },
      deps,
    );
    prompt = task.prompt ? `${rendered.text}\n\n${task.prompt}` : rendered.text;
    templateVersionId = rendered.templateVersionId;
  }
  let total = 0;
  const sections: string[] = [];
  for (const path of task.files) {
    const file = await readFile({ userId, projectId, path }, deps);
    total += file.content.length;
    if (total > QUICK_TASK_MAX_CHARS) {
      throw new AppError(
        "PAYLOAD_TOO_LARGE",
        `The chosen files are larger than ${Math.round(QUICK_TASK_MAX_CHARS / 1024)} KB together (at ${path}); choose fewer`,
      );
    }
    sections.push(`--- ${file.path} ---\n${file.content}`);
  }
  const user = sections.length > 0 ? `${sections.join("\n\n")}\n\nRequest:\n${prompt}` : prompt;
  return {
    request: {
      model: task.model,
      temperature: task.temperature,
      messages: [
        { role: "system", content: `${SYSTEM_PROMPT} The project is "${project.name}".` },
        { role: "user", content: user },
      ],
    },
    templateVersionId,
  };
}
