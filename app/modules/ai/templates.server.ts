/**
 * Prompt templates: named, versioned `{{variable}}` bodies a user keeps for all projects or for one.
 * Every body change is a new immutable version (number, body, variables, sha256), so a model call can
 * name the exact text it used (AiCall.templateVersionId) and a workflow can pin one.
 *
 * Names are unique per user within one scope (one project, or "all projects"), compared without case.
 * There is no database constraint for it, so writes to one user's templates are serialised by a
 * transaction-scoped advisory lock; the same lock makes version numbers gap-free under concurrent saves.
 */

import { createHash } from "node:crypto";
import type { Db, DbTx, Prisma } from "#app/db/client.server.ts";
import { AppError } from "#app/lib/app-error.ts";
import { afterCursor, type Page, pageOf, takeFor } from "#app/lib/pagination.server.ts";
import { clock, isUuid, parseInput } from "#app/lib/use-case.ts";
import { assertProjectOwned } from "#app/modules/projects/deps.server.ts";
import { parseTemplate, previewTemplate, renderTemplate, type TemplateIssue } from "./template.ts";
import {
  type RenderedTemplate,
  type TCreateTemplateInput,
  type TemplateDetail,
  type TemplatePreview,
  type TemplateSummary,
  type TemplateVersionDetail,
  type TemplateView,
  ZCreateTemplateInput,
  ZTemplateBody,
  ZTemplateName,
  ZTemplateVariables,
  ZTemplateVersionNumber,
} from "./templates.types.ts";

export type TemplatesDeps = {
  db: Db;
  /** The clock. Default `() => new Date()`; tests pass a fixed one. */
  now?: () => Date;
};

/** How many parse errors a BAD_REQUEST carries in its details (the message names the first few). */
const MAX_REPORTED_ERRORS = 100;
const ERRORS_IN_MESSAGE = 5;

const TEMPLATE_SELECT = {
  id: true,
  name: true,
  projectId: true,
  latestVersion: true,
  createdAt: true,
  updatedAt: true,
  project: { select: { id: true, name: true } },
} as const satisfies Prisma.PromptTemplateSelect;

const VERSION_SELECT = {
  id: true,
  number: true,
  body: true,
  variables: true,
  hash: true,
  createdAt: true,
} as const satisfies Prisma.PromptTemplateVersionSelect;

type TemplateRow = Prisma.PromptTemplateGetPayload<{ select: typeof TEMPLATE_SELECT }>;

export const templateNotFound = () => new AppError("NOT_FOUND", "Prompt template not found");
const versionNotFound = (number: number) =>
  new AppError("NOT_FOUND", `Prompt template version ${number} not found`);

export function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** `line 3:14 Unclosed "{{"…; line 5:1 …` for the first few issues. */
export function describeIssues(issues: readonly TemplateIssue[]): string {
  const shown = issues
    .slice(0, ERRORS_IN_MESSAGE)
    .map((issue) => `line ${issue.line}:${issue.column} ${issue.message}`);
  const more = issues.length - shown.length;
  return shown.join("; ") + (more > 0 ? `; and ${more} more` : "");
}

/** The body's variables, or BAD_REQUEST listing every syntax error with its line:column. */
function checkedVariables(body: string): string[] {
  const parsed = parseTemplate(body);
  if (parsed.ok) return parsed.variables;
  const count = parsed.errors.length;
  throw new AppError(
    "BAD_REQUEST",
    `The template has ${count} syntax error${count === 1 ? "" : "s"}: ${describeIssues(parsed.errors)}`,
    { errors: parsed.errors.slice(0, MAX_REPORTED_ERRORS), errorCount: count },
  );
}

/**
 * Serialise writes to one user's templates (name uniqueness, version numbers) until the transaction
 * ends. A 64-bit hash of a namespaced key, so it cannot collide with other modules' locks by accident.
 */
async function lockUserTemplates(tx: DbTx, userId: string): Promise<void> {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`prompt-templates:${userId}`}, 0))`;
}

async function assertNameFree(
  tx: DbTx,
  input: { userId: string; projectId: string | null; name: string; exceptId?: string },
): Promise<void> {
  const clash = await tx.promptTemplate.findFirst({
    where: {
      userId: input.userId,
      projectId: input.projectId,
      name: { equals: input.name, mode: "insensitive" },
      ...(input.exceptId ? { id: { not: input.exceptId } } : {}),
    },
    select: { id: true, name: true },
  });
  if (clash) {
    throw new AppError(
      "CONFLICT",
      `A prompt template named "${clash.name}" already exists ${input.projectId ? "in this project" : "for all projects"}`,
      { templateId: clash.id },
    );
  }
}

async function findTemplate(db: Db | DbTx, userId: string, templateId: string): Promise<TemplateRow> {
  if (!isUuid(templateId) || !isUuid(userId)) throw templateNotFound();
  const row = await db.promptTemplate.findFirst({
    where: { id: templateId, userId },
    select: TEMPLATE_SELECT,
  });
  if (!row) throw templateNotFound();
  return row;
}

async function findVersion(db: Db | DbTx, userId: string, templateId: string, number: number) {
  const version = await db.promptTemplateVersion.findFirst({
    where: { templateId, userId, number },
    select: VERSION_SELECT,
  });
  if (!version) throw versionNotFound(number);
  return version;
}

async function viewOf(db: Db | DbTx, row: TemplateRow): Promise<TemplateView> {
  const latest = await db.promptTemplateVersion.findFirstOrThrow({
    where: { templateId: row.id, number: row.latestVersion },
    select: VERSION_SELECT,
  });
  return { ...row, latest };
}

/** Append version `latest + 1` with `body` (already checked) and bump the template. Inside the user lock. */
async function appendVersion(
  tx: DbTx,
  template: TemplateRow,
  userId: string,
  body: string,
  variables: string[],
  now: Date,
): Promise<void> {
  const number = template.latestVersion + 1;
  await tx.promptTemplateVersion.create({
    data: { userId, templateId: template.id, number, body, variables, hash: sha256Hex(body), createdAt: now },
  });
  await tx.promptTemplate.update({
    where: { id: template.id },
    data: { latestVersion: number, updatedAt: now },
  });
}

/**
 * Create a template with its version 1. `name` is trimmed (1–100 characters) and must be free in its scope
 * (CONFLICT otherwise); `projectId` must be one of the caller's projects (NOT_FOUND otherwise), absent or
 * null for all projects; a body with syntax errors is a BAD_REQUEST listing them with line:column.
 */
export async function createTemplate(
  input: { userId: string } & TCreateTemplateInput,
  deps: TemplatesDeps,
): Promise<TemplateView> {
  const { name, body, projectId = null } = parseInput(ZCreateTemplateInput, input);
  const variables = checkedVariables(body);
  const now = clock(deps);
  return deps.db.$transaction(async (tx) => {
    if (projectId) await assertProjectOwned(tx, input.userId, projectId);
    await lockUserTemplates(tx, input.userId);
    await assertNameFree(tx, { userId: input.userId, projectId, name });
    const created = await tx.promptTemplate.create({
      data: {
        userId: input.userId,
        projectId,
        name,
        latestVersion: 1,
        createdAt: now,
        updatedAt: now,
        versions: {
          create: { userId: input.userId, number: 1, body, variables, hash: sha256Hex(body), createdAt: now },
        },
      },
      select: TEMPLATE_SELECT,
    });
    return viewOf(tx, created);
  });
}

/**
 * Rename and/or change the body. A body that differs from the latest version's makes a new immutable
 * version; the same body, or a rename alone, makes none. With `baseVersion`, CONFLICT (details:
 * `latestVersion`) when someone saved since that version. Answers the template with its latest version.
 */
export async function updateTemplate(
  input: { userId: string; templateId: string; name?: string; body?: string; baseVersion?: number },
  deps: TemplatesDeps,
): Promise<TemplateView> {
  const name = input.name === undefined ? undefined : parseInput(ZTemplateName, input.name);
  const body = input.body === undefined ? undefined : parseInput(ZTemplateBody, input.body);
  const baseVersion =
    input.baseVersion === undefined ? undefined : parseInput(ZTemplateVersionNumber, input.baseVersion);
  const now = clock(deps);
  return deps.db.$transaction(async (tx) => {
    if (!isUuid(input.templateId) || !isUuid(input.userId)) throw templateNotFound();
    await lockUserTemplates(tx, input.userId);
    const template = await findTemplate(tx, input.userId, input.templateId);
    if (baseVersion !== undefined && baseVersion !== template.latestVersion) {
      throw new AppError(
        "CONFLICT",
        `This prompt was saved as version ${template.latestVersion} since you opened version ${baseVersion}: reload it and apply your changes again`,
        { latestVersion: template.latestVersion },
      );
    }
    let changed = false;
    if (name !== undefined && name !== template.name) {
      await assertNameFree(tx, {
        userId: input.userId,
        projectId: template.projectId,
        name,
        exceptId: template.id,
      });
      await tx.promptTemplate.update({ where: { id: template.id }, data: { name, updatedAt: now } });
      changed = true;
    }
    if (body !== undefined) {
      const latest = await findVersion(tx, input.userId, template.id, template.latestVersion);
      if (latest.body !== body) {
        await appendVersion(tx, template, input.userId, body, checkedVariables(body), now);
        changed = true;
      }
    }
    const row = changed ? await findTemplate(tx, input.userId, template.id) : template;
    return viewOf(tx, row);
  });
}

/**
 * The caller's templates, most recently changed first, with their latest version's variables. With
 * `projectId` (one of the caller's projects, else NOT_FOUND): the templates available there, its own and
 * the ones for all projects.
 */
export async function listTemplates(
  input: { userId: string; projectId?: string },
  deps: TemplatesDeps,
): Promise<TemplateSummary[]> {
  return (await listTemplatesPage(input, deps)).items;
}

/** A page of listTemplates (`limit` of them after `cursor`; all without a limit). BAD_REQUEST for a bad cursor. */
export async function listTemplatesPage(
  input: { userId: string; projectId?: string; limit?: number; cursor?: string },
  deps: TemplatesDeps,
): Promise<Page<TemplateSummary>> {
  if (input.projectId !== undefined) await assertProjectOwned(deps.db, input.userId, input.projectId);
  const after = await afterCursor(input.cursor, "updatedAt", (id) =>
    deps.db.promptTemplate.findFirst({
      where: { id, userId: input.userId },
      select: { id: true, updatedAt: true },
    }),
  );
  const rows = await deps.db.promptTemplate.findMany({
    where: {
      userId: input.userId,
      AND: [
        input.projectId !== undefined ? { OR: [{ projectId: input.projectId }, { projectId: null }] } : {},
        after,
      ],
    },
    select: {
      ...TEMPLATE_SELECT,
      versions: { orderBy: { number: "desc" }, take: 1, select: { variables: true } },
    },
    orderBy: [{ updatedAt: "desc" }, { id: "desc" }],
    take: takeFor(input.limit),
  });
  const page = pageOf(rows, input.limit);
  return {
    items: page.items.map(({ versions, ...row }) => ({ ...row, variables: versions[0]?.variables ?? [] })),
    nextCursor: page.nextCursor,
  };
}

/** How many model calls each of these versions made (AiCall.templateVersionId), the caller's only. */
async function usageOf(db: Db, userId: string, versionIds: string[]): Promise<Map<string, number>> {
  if (versionIds.length === 0) return new Map();
  const groups = await db.aiCall.groupBy({
    by: ["templateVersionId"],
    where: { userId, templateVersionId: { in: versionIds } },
    _count: { _all: true },
  });
  return new Map(groups.map((group) => [group.templateVersionId ?? "", group._count._all]));
}

/** A template with every version (newest first) and each version's call count. NOT_FOUND for others'. */
export async function getTemplate(
  input: { userId: string; templateId: string },
  deps: TemplatesDeps,
): Promise<TemplateDetail> {
  const template = await findTemplate(deps.db, input.userId, input.templateId);
  const versions = await deps.db.promptTemplateVersion.findMany({
    where: { templateId: template.id, userId: input.userId },
    select: VERSION_SELECT,
    orderBy: { number: "desc" },
  });
  const usage = await usageOf(
    deps.db,
    input.userId,
    versions.map((version) => version.id),
  );
  const detailed = versions.map((version) => ({ ...version, usage: usage.get(version.id) ?? 0 }));
  const latest = detailed.find((version) => version.number === template.latestVersion);
  if (!latest) throw templateNotFound();
  const { usage: _usage, ...latestView } = latest;
  return { ...template, latest: latestView, versions: detailed };
}

/** One version with its body and call count; NOT_FOUND for a missing number or another user's template. */
export async function getTemplateVersion(
  input: { userId: string; templateId: string; number: number },
  deps: TemplatesDeps,
): Promise<TemplateVersionDetail> {
  const number = parseInput(ZTemplateVersionNumber, input.number);
  const template = await findTemplate(deps.db, input.userId, input.templateId);
  const version = await findVersion(deps.db, input.userId, template.id, number);
  const usage = await usageOf(deps.db, input.userId, [version.id]);
  return { ...version, usage: usage.get(version.id) ?? 0 };
}

/**
 * Delete a template and all its versions. Model calls that used them keep their spend (their link is
 * set to null by the database).
 */
export async function deleteTemplate(
  input: { userId: string; templateId: string },
  deps: TemplatesDeps,
): Promise<{ ok: true }> {
  if (!isUuid(input.templateId) || !isUuid(input.userId)) throw templateNotFound();
  const { count } = await deps.db.promptTemplate.deleteMany({
    where: { id: input.templateId, userId: input.userId },
  });
  if (count === 0) throw templateNotFound();
  return { ok: true };
}

/**
 * Make an old version's body the newest version (a new number: history is never rewritten). Restoring
 * the body the template already has changes nothing.
 */
export async function restoreTemplateVersion(
  input: { userId: string; templateId: string; number: number },
  deps: TemplatesDeps,
): Promise<TemplateView> {
  const number = parseInput(ZTemplateVersionNumber, input.number);
  const now = clock(deps);
  return deps.db.$transaction(async (tx) => {
    if (!isUuid(input.templateId) || !isUuid(input.userId)) throw templateNotFound();
    await lockUserTemplates(tx, input.userId);
    const template = await findTemplate(tx, input.userId, input.templateId);
    const old = await findVersion(tx, input.userId, template.id, number);
    const latest = await findVersion(tx, input.userId, template.id, template.latestVersion);
    if (old.body === latest.body) return { ...template, latest };
    await appendVersion(tx, template, input.userId, old.body, checkedVariables(old.body), now);
    return viewOf(tx, await findTemplate(tx, input.userId, template.id));
  });
}

async function versionToRender(
  input: { userId: string; templateId: string; version?: number; variables: unknown },
  deps: TemplatesDeps,
) {
  const variables = parseInput(ZTemplateVariables, input.variables ?? {});
  const template = await findTemplate(deps.db, input.userId, input.templateId);
  const number =
    input.version === undefined ? template.latestVersion : parseInput(ZTemplateVersionNumber, input.version);
  const version = await findVersion(deps.db, input.userId, template.id, number);
  return { version, variables };
}

/**
 * Render a version (default: the latest) with `variables`. Every missing variable is reported at once,
 * as BAD_REQUEST "Missing template variables: a, b" (details.missing), before anything is sent anywhere:
 * callers render first and call a model only with the text. Link the call to `templateVersionId`.
 */
export async function renderTemplateVersion(
  input: { userId: string; templateId: string; version?: number; variables: Record<string, unknown> },
  deps: TemplatesDeps,
): Promise<RenderedTemplate> {
  const { version, variables } = await versionToRender(input, deps);
  const rendered = renderTemplate(version.body, variables);
  if (!rendered.ok) {
    if (rendered.missing.length > 0) {
      throw new AppError("BAD_REQUEST", `Missing template variables: ${rendered.missing.join(", ")}`, {
        missing: rendered.missing,
        errors: rendered.errors,
      });
    }
    throw new AppError("BAD_REQUEST", `The template cannot be rendered: ${describeIssues(rendered.errors)}`, {
      missing: [],
      errors: rendered.errors,
    });
  }
  return { text: rendered.text, templateVersionId: version.id, number: version.number };
}

/**
 * What a version (default: the latest) renders to with `variables`, for a preview: never fails on
 * missing values (they stay as their tags and are listed in `missing`), never calls a model.
 */
export async function previewTemplateVersion(
  input: { userId: string; templateId: string; version?: number; variables: Record<string, unknown> },
  deps: TemplatesDeps,
): Promise<TemplatePreview> {
  const { version, variables } = await versionToRender(input, deps);
  const preview = previewTemplate(version.body, variables);
  if (preview.errors.length > 0) {
    throw new AppError("BAD_REQUEST", `The template cannot be rendered: ${describeIssues(preview.errors)}`, {
      errors: preview.errors,
    });
  }
  return {
    text: preview.text,
    missing: preview.missing,
    templateVersionId: version.id,
    number: version.number,
  };
}
