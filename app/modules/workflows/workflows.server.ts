/**
 * Workflows: named, versioned definitions (inputs and steps) in a project. Every definition change is a
 * new immutable WorkflowVersion (number, validated definition, sha256 of its canonical JSON), so a run pins
 * the exact definition it executes and history is never rewritten (restore appends a copy).
 *
 * Names are unique per project among workflows that are not archived, compared without case. There is no
 * database constraint for it, so writes to one user's workflows are serialised by a transaction-scoped
 * advisory lock (as prompt templates do); the same lock makes version numbers gap-free under concurrent
 * saves.
 */

import { createHash } from "node:crypto";
import { createTwoFilesPatch } from "diff";
import type { Db, DbOrTx, DbTx, Prisma } from "#app/db/client.server.ts";
import { AppError } from "#app/lib/app-error.ts";
import { afterCursor, type Page, pageOf, takeFor } from "#app/lib/pagination.server.ts";
import { clock, isUuid, parseInput } from "#app/lib/use-case.ts";
import { canonicalJson } from "#app/modules/ai/cache.server.ts";
import { assertProjectOwned } from "#app/modules/projects/deps.server.ts";
import { type DefinitionIssue, type WorkflowDefinition, ZWorkflowDefinition } from "./definition.ts";
import { getWorkflowTemplate, instantiateTemplate, WORKFLOW_TEMPLATES } from "./starter-templates.ts";
import { validateWorkflow } from "./validate.ts";
import {
  type TUpdateWorkflowInput,
  type ValidationResult,
  type WorkflowDiff,
  type WorkflowSummary,
  type WorkflowTemplateView,
  type WorkflowVersionDetail,
  type WorkflowVersionSummary,
  type WorkflowView,
  ZCreateWorkflowFields,
  ZModelIdInput,
  ZUpdateWorkflowFields,
  ZWorkflowName,
  ZWorkflowVersionNumber,
} from "./workflows.types.ts";

export type WorkflowsDeps = {
  db: Db;
  /**
   * Whether a model id can be called (catalog entry, or an open-ended `compat:` endpoint). Passed to the
   * validator; absent: models are not checked beyond their shape.
   */
  isKnownModel?: (id: string) => boolean;
  /** The clock. Default `() => new Date()`; tests pass a fixed one. */
  now?: () => Date;
};

/** Runs in these states still need their workflow: deleting it is refused. */
const ACTIVE_RUN_STATUSES = ["queued", "running"] as const;
/** How long a diff may compute before it gives up (jsdiff is O(N·D) on very different texts). */
const DIFF_TIMEOUT_MS = 2_000;

const WORKFLOW_SELECT = {
  id: true,
  projectId: true,
  name: true,
  description: true,
  latestVersion: true,
  archivedAt: true,
  createdAt: true,
  updatedAt: true,
} as const satisfies Prisma.AIWorkflowSelect;

const VERSION_SELECT = {
  id: true,
  number: true,
  hash: true,
  note: true,
  createdAt: true,
  definition: true,
} as const satisfies Prisma.WorkflowVersionSelect;

type WorkflowRow = Prisma.AIWorkflowGetPayload<{ select: typeof WORKFLOW_SELECT }>;
type VersionRow = Prisma.WorkflowVersionGetPayload<{ select: typeof VERSION_SELECT }>;

export const workflowNotFound = () => new AppError("NOT_FOUND", "Workflow not found");
const versionNotFound = (number: number) => new AppError("NOT_FOUND", `Workflow version ${number} not found`);

/** sha256 (hex) of the canonical JSON of a definition: equal definitions hash equally whatever their key order. */
export function definitionHash(definition: unknown): string {
  return createHash("sha256").update(canonicalJson(definition)).digest("hex");
}

/** `steps[1].prompt` for ["steps", 1, "prompt"]. */
export function formatIssuePath(path: ReadonlyArray<string | number>): string {
  let text = "";
  for (const part of path) {
    if (typeof part === "number") text += `[${part}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(part)) text += text === "" ? part : `.${part}`;
    else text += `[${JSON.stringify(part)}]`;
  }
  return text;
}

function describeIssue(issue: DefinitionIssue): string {
  const where = formatIssuePath(issue.path);
  return where ? `${where}: ${issue.message}` : issue.message;
}

/** The validated definition (defaults applied) and its warnings, or BAD_REQUEST listing every problem. */
function checkedDefinition(
  input: unknown,
  deps: WorkflowsDeps,
): { definition: WorkflowDefinition; warnings: DefinitionIssue[] } {
  const result = validateWorkflow(input, { isKnownModel: deps.isKnownModel });
  if (result.ok) return { definition: result.definition, warnings: result.warnings };
  const count = result.errors.length;
  const first = result.errors[0];
  throw new AppError(
    "BAD_REQUEST",
    `The workflow definition has ${count} problem${count === 1 ? "" : "s"}: ${first ? describeIssue(first) : "invalid"}`,
    { issues: result.errors },
  );
}

/**
 * What the validator says today about a stored definition: its warnings, or its errors as warnings (it
 * was valid when saved; a model may have gone since).
 */
function warningsOf(definition: unknown, deps: WorkflowsDeps): DefinitionIssue[] {
  const result = validateWorkflow(definition, { isKnownModel: deps.isKnownModel });
  return result.ok ? result.warnings : result.errors;
}

/** Check a definition without saving it (the builder's live validation). Never throws for a bad one. */
export function checkWorkflowDefinition(definition: unknown, deps: Pick<WorkflowsDeps, "isKnownModel">) {
  const result = validateWorkflow(definition, { isKnownModel: deps.isKnownModel });
  return (
    result.ok
      ? { ok: true, errors: [], warnings: result.warnings }
      : { ok: false, errors: result.errors, warnings: [] }
  ) satisfies ValidationResult;
}

/**
 * A stored definition in the format's own key order (version, inputs, steps; each step's fields as the
 * format lists them). The column is `json`, which keeps the text as written (jsonb would reorder keys,
 * shortest first, and lose the declared order of inputs). Stored definitions were validated; one that no
 * longer parses (a format change) is answered as stored.
 */
function asDefinition(json: Prisma.JsonValue): WorkflowDefinition {
  const parsed = ZWorkflowDefinition.safeParse(json);
  return parsed.success ? parsed.data : (json as unknown as WorkflowDefinition);
}
const asJson = (definition: WorkflowDefinition) => definition as unknown as Prisma.InputJsonValue;

function stepsOf(json: Prisma.JsonValue): Array<{ id?: unknown; type?: unknown }> {
  const steps = (json as { steps?: unknown } | null)?.steps;
  return Array.isArray(steps) ? (steps as Array<{ id?: unknown; type?: unknown }>) : [];
}

/**
 * Serialise writes to one user's workflows (name uniqueness, version numbers) until the transaction ends.
 * A 64-bit hash of a namespaced key, so it cannot collide with other modules' locks by accident.
 */
async function lockUserWorkflows(tx: DbTx, userId: string): Promise<void> {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`workflows:${userId}`}, 0))`;
}

async function findWorkflow(db: DbOrTx, userId: string, workflowId: string): Promise<WorkflowRow> {
  if (!isUuid(workflowId) || !isUuid(userId)) throw workflowNotFound();
  const row = await db.aIWorkflow.findFirst({ where: { id: workflowId, userId }, select: WORKFLOW_SELECT });
  if (!row) throw workflowNotFound();
  return row;
}

async function findVersion(
  db: DbOrTx,
  userId: string,
  workflowId: string,
  number: number,
): Promise<VersionRow> {
  const version = await db.workflowVersion.findFirst({
    where: { workflowId, userId, number },
    select: VERSION_SELECT,
  });
  if (!version) throw versionNotFound(number);
  return version;
}

/** The clashing live workflow of the project with this name (case-insensitive), if any. */
async function nameClash(
  tx: DbTx,
  input: { userId: string; projectId: string; name: string; exceptId?: string },
): Promise<{ id: string; name: string } | null> {
  return tx.aIWorkflow.findFirst({
    where: {
      userId: input.userId,
      projectId: input.projectId,
      archivedAt: null,
      name: { equals: input.name, mode: "insensitive" },
      ...(input.exceptId ? { id: { not: input.exceptId } } : {}),
    },
    select: { id: true, name: true },
  });
}

async function assertNameFree(
  tx: DbTx,
  input: { userId: string; projectId: string; name: string; exceptId?: string },
): Promise<void> {
  const clash = await nameClash(tx, input);
  if (clash) {
    throw new AppError("CONFLICT", `A workflow named "${clash.name}" already exists in this project`, {
      workflowId: clash.id,
    });
  }
}

/** `name`, else "name 2", "name 3"... : the first one free in the project (inside the user lock). */
async function freeName(
  tx: DbTx,
  input: { userId: string; projectId: string; name: string },
): Promise<string> {
  for (let n = 1; n <= 1000; n++) {
    const suffix = n === 1 ? "" : ` ${n}`;
    const candidate = `${input.name.slice(0, 100 - suffix.length).trimEnd()}${suffix}`;
    if (!(await nameClash(tx, { ...input, name: candidate }))) return candidate;
  }
  throw new AppError("CONFLICT", `Too many workflows are named "${input.name}" in this project`);
}

function viewOf(row: WorkflowRow, version: VersionRow, deps: WorkflowsDeps, warnings?: DefinitionIssue[]) {
  const { definition, ...meta } = version;
  return {
    ...row,
    version: meta,
    definition: asDefinition(definition),
    warnings: warnings ?? warningsOf(definition, deps),
  } satisfies WorkflowView;
}

/** Append version `latest + 1` and bump the workflow. Inside the user lock. */
async function appendVersion(
  tx: DbTx,
  workflow: WorkflowRow,
  input: { userId: string; definition: WorkflowDefinition; hash: string; note: string | null; now: Date },
): Promise<void> {
  const number = workflow.latestVersion + 1;
  await tx.workflowVersion.create({
    data: {
      userId: input.userId,
      workflowId: workflow.id,
      number,
      definition: asJson(input.definition),
      hash: input.hash,
      note: input.note,
      createdAt: input.now,
    },
  });
  await tx.aIWorkflow.update({
    where: { id: workflow.id },
    data: { latestVersion: number, updatedAt: input.now },
  });
}

async function insertWorkflow(
  tx: DbTx,
  input: {
    userId: string;
    projectId: string;
    name: string;
    description: string | null;
    definition: WorkflowDefinition;
    now: Date;
  },
): Promise<{ row: WorkflowRow; version: VersionRow }> {
  const row = await tx.aIWorkflow.create({
    data: {
      userId: input.userId,
      projectId: input.projectId,
      name: input.name,
      description: input.description,
      latestVersion: 1,
      createdAt: input.now,
      updatedAt: input.now,
    },
    select: WORKFLOW_SELECT,
  });
  const version = await tx.workflowVersion.create({
    data: {
      userId: input.userId,
      workflowId: row.id,
      number: 1,
      definition: asJson(input.definition),
      hash: definitionHash(input.definition),
      createdAt: input.now,
    },
    select: VERSION_SELECT,
  });
  return { row, version };
}

/**
 * Create a workflow with its version 1 in one of the caller's projects (NOT_FOUND otherwise). `name` is
 * trimmed (1–100) and must be free among the project's workflows that are not archived (CONFLICT); the
 * definition is validated (BAD_REQUEST "The workflow definition has N problems: …", `details.issues`)
 * and stored as validated, defaults applied.
 */
export async function createWorkflow(
  input: { userId: string; projectId: string; name: string; description?: string; definition: unknown },
  deps: WorkflowsDeps,
): Promise<WorkflowView> {
  const { name, description } = parseInput(ZCreateWorkflowFields, input);
  const now = clock(deps);
  return deps.db.$transaction(async (tx) => {
    // Ownership before the definition: someone else's id answers NOT_FOUND whatever the body.
    await assertProjectOwned(tx, input.userId, input.projectId);
    const { definition, warnings } = checkedDefinition(input.definition, deps);
    await lockUserWorkflows(tx, input.userId);
    await assertNameFree(tx, { userId: input.userId, projectId: input.projectId, name });
    const { row, version } = await insertWorkflow(tx, {
      userId: input.userId,
      projectId: input.projectId,
      name,
      description: description || null,
      definition,
      now,
    });
    return viewOf(row, version, deps, warnings);
  });
}

/**
 * Rename, describe (null clears), archive/unarchive, and/or save a definition. A definition whose hash
 * differs from the latest version's makes a new immutable version (with `note`); the same definition, or
 * metadata alone, makes none. With `baseVersion`, CONFLICT (details: `latestVersion`) when someone saved
 * since. Unarchiving or renaming onto a name taken by a live workflow of the project is a CONFLICT.
 * Answers the workflow with its latest version.
 */
export async function updateWorkflow(
  input: { userId: string; workflowId: string } & Omit<TUpdateWorkflowInput, "id">,
  deps: WorkflowsDeps,
): Promise<WorkflowView> {
  const fields = parseInput(ZUpdateWorkflowFields, {
    name: input.name,
    description: input.description,
    note: input.note,
    baseVersion: input.baseVersion,
    archived: input.archived,
  });
  const now = clock(deps);
  return deps.db.$transaction(async (tx) => {
    if (!isUuid(input.workflowId) || !isUuid(input.userId)) throw workflowNotFound();
    await lockUserWorkflows(tx, input.userId);
    const workflow = await findWorkflow(tx, input.userId, input.workflowId);
    // After the ownership check: someone else's id answers NOT_FOUND whatever the body.
    const checked = input.definition === undefined ? undefined : checkedDefinition(input.definition, deps);
    if (fields.baseVersion !== undefined && fields.baseVersion !== workflow.latestVersion) {
      throw new AppError(
        "CONFLICT",
        `This workflow was saved as version ${workflow.latestVersion} since you opened version ${fields.baseVersion}: reload it and apply your changes again`,
        { latestVersion: workflow.latestVersion },
      );
    }

    const name = fields.name !== undefined && fields.name !== workflow.name ? fields.name : undefined;
    const description = fields.description === undefined ? undefined : fields.description || null;
    // Archiving again keeps the first archive date.
    const archivedAt =
      fields.archived === undefined
        ? workflow.archivedAt
        : fields.archived
          ? (workflow.archivedAt ?? now)
          : null;
    const data: Prisma.AIWorkflowUpdateInput = {};
    if (name !== undefined) data.name = name;
    if (description !== undefined && description !== workflow.description) data.description = description;
    if (archivedAt !== workflow.archivedAt) data.archivedAt = archivedAt;
    // A live workflow's name must be free: on a rename, and when it comes back from the archive.
    if (archivedAt === null && (name !== undefined || workflow.archivedAt !== null)) {
      await assertNameFree(tx, {
        userId: input.userId,
        projectId: workflow.projectId,
        name: name ?? workflow.name,
        exceptId: workflow.id,
      });
    }
    if (Object.keys(data).length > 0) {
      await tx.aIWorkflow.update({ where: { id: workflow.id }, data: { ...data, updatedAt: now } });
    }

    let warnings: DefinitionIssue[] | undefined;
    if (checked) {
      const hash = definitionHash(checked.definition);
      const latest = await findVersion(tx, input.userId, workflow.id, workflow.latestVersion);
      if (latest.hash !== hash) {
        await appendVersion(tx, workflow, {
          userId: input.userId,
          definition: checked.definition,
          hash,
          note: fields.note || null,
          now,
        });
      }
      warnings = checked.warnings;
    }
    const row = await findWorkflow(tx, input.userId, workflow.id);
    const version = await findVersion(tx, input.userId, row.id, row.latestVersion);
    return viewOf(row, version, deps, warnings);
  });
}

/** Archive: hidden from the default list, its name free for a new workflow. Runs and history stay. */
export function archiveWorkflow(input: { userId: string; workflowId: string }, deps: WorkflowsDeps) {
  return updateWorkflow({ ...input, archived: true }, deps);
}

/** Unarchive (CONFLICT when a live workflow of the project has taken its name meanwhile). */
export function unarchiveWorkflow(input: { userId: string; workflowId: string }, deps: WorkflowsDeps) {
  return updateWorkflow({ ...input, archived: false }, deps);
}

/**
 * A project's workflows (NOT_FOUND for a project that is not the caller's), most recently changed first,
 * with the latest version's step count and types and the newest run. Archived ones only on request.
 */
export async function listWorkflows(
  input: { userId: string; projectId: string; includeArchived?: boolean },
  deps: WorkflowsDeps,
): Promise<WorkflowSummary[]> {
  return (await listWorkflowsPage(input, deps)).items;
}

/** A page of listWorkflows (`limit` of them after `cursor`; all without a limit). BAD_REQUEST for a bad cursor. */
export async function listWorkflowsPage(
  input: { userId: string; projectId: string; includeArchived?: boolean; limit?: number; cursor?: string },
  deps: WorkflowsDeps,
): Promise<Page<WorkflowSummary>> {
  await assertProjectOwned(deps.db, input.userId, input.projectId);
  const read = await deps.db.aIWorkflow.findMany({
    where: {
      userId: input.userId,
      projectId: input.projectId,
      ...(input.includeArchived ? {} : { archivedAt: null }),
      ...(await afterCursor(input.cursor, "updatedAt", (id) =>
        deps.db.aIWorkflow.findFirst({
          where: { id, userId: input.userId, projectId: input.projectId },
          select: { id: true, updatedAt: true },
        }),
      )),
    },
    select: WORKFLOW_SELECT,
    orderBy: [{ updatedAt: "desc" }, { id: "desc" }],
    take: takeFor(input.limit),
  });
  const { items: rows, nextCursor } = pageOf(read, input.limit);
  return { items: await summariesOf(rows, input.userId, deps), nextCursor };
}

/** Step types (of the latest version) and the last run of each workflow row, the caller's only. */
async function summariesOf(
  rows: Array<Omit<WorkflowSummary, "stepCount" | "stepTypes" | "lastRun">>,
  userId: string,
  deps: WorkflowsDeps,
): Promise<WorkflowSummary[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((row) => row.id);
  const [shapes, runs] = await Promise.all([
    deps.db.$queryRaw<Array<{ workflowId: string; stepTypes: unknown }>>`
      SELECT v."workflowId"::text AS "workflowId",
             jsonb_path_query_array(v.definition::jsonb, '$.steps[*].type') AS "stepTypes"
      FROM "WorkflowVersion" v
      JOIN "AIWorkflow" w ON w.id = v."workflowId" AND v.number = w."latestVersion"
      WHERE w."userId" = ${userId}::uuid AND w.id = ANY(${ids}::uuid[])`,
    deps.db.$queryRaw<
      Array<{ workflowId: string; id: string; status: string; createdAt: Date; finishedAt: Date | null }>
    >`
      SELECT DISTINCT ON ("workflowId") "workflowId"::text, id::text, status::text, "createdAt", "finishedAt"
      FROM "WorkflowRun"
      WHERE "userId" = ${userId}::uuid AND "workflowId" = ANY(${ids}::uuid[])
      ORDER BY "workflowId", "createdAt" DESC, id DESC`,
  ]);
  const typesOf = new Map(
    shapes.map((s) => [s.workflowId, Array.isArray(s.stepTypes) ? s.stepTypes.map(String) : []]),
  );
  const runOf = new Map(runs.map((r) => [r.workflowId, r]));
  return rows.map((row) => {
    const stepTypes = typesOf.get(row.id) ?? [];
    const run = runOf.get(row.id);
    return {
      ...row,
      stepCount: stepTypes.length,
      stepTypes,
      lastRun: run
        ? {
            id: run.id,
            status: run.status as NonNullable<WorkflowSummary["lastRun"]>["status"],
            createdAt: run.createdAt,
            finishedAt: run.finishedAt,
          }
        : null,
    };
  });
}

/** A workflow with its latest version's definition, or version `version`'s. NOT_FOUND for others'. */
export async function getWorkflow(
  input: { userId: string; workflowId: string; version?: number },
  deps: WorkflowsDeps,
): Promise<WorkflowView> {
  const number = input.version === undefined ? undefined : parseInput(ZWorkflowVersionNumber, input.version);
  const row = await findWorkflow(deps.db, input.userId, input.workflowId);
  const version = await findVersion(deps.db, input.userId, row.id, number ?? row.latestVersion);
  return viewOf(row, version, deps);
}

/** How many runs are pinned to each of these versions, the caller's only. */
async function runCounts(db: Db, userId: string, versionIds: string[]): Promise<Map<string, number>> {
  if (versionIds.length === 0) return new Map();
  const groups = await db.workflowRun.groupBy({
    by: ["workflowVersionId"],
    where: { userId, workflowVersionId: { in: versionIds } },
    _count: { _all: true },
  });
  return new Map(groups.map((group) => [group.workflowVersionId, group._count._all]));
}

/** Every version of a workflow, newest first, without definitions, with step and run counts. */
export async function listVersions(
  input: { userId: string; workflowId: string },
  deps: WorkflowsDeps,
): Promise<WorkflowVersionSummary[]> {
  return (await listVersionsPage(input, deps)).items;
}

/**
 * A page of a workflow's versions, newest first: `limit` of them (all without it) before version `cursor`
 * (the previous page's `nextCursor`, a version number). BAD_REQUEST for a cursor that is not a number.
 */
export async function listVersionsPage(
  input: { userId: string; workflowId: string; limit?: number; cursor?: string },
  deps: WorkflowsDeps,
): Promise<{ items: WorkflowVersionSummary[]; nextCursor: string | null }> {
  let before = 2_147_483_647;
  if (input.cursor !== undefined) {
    if (!/^\d{1,9}$/.test(input.cursor))
      throw new AppError("BAD_REQUEST", "Invalid cursor: pass the nextCursor of the previous page");
    before = Number(input.cursor);
  }
  const take = input.limit === undefined ? null : input.limit + 1;
  const row = await findWorkflow(deps.db, input.userId, input.workflowId);
  // Step counts in SQL: a long history of large definitions is not loaded to count steps.
  const versions = await deps.db.$queryRaw<
    Array<{
      id: string;
      number: number;
      hash: string;
      note: string | null;
      createdAt: Date;
      stepCount: number;
    }>
  >`
    SELECT id::text, number, hash, note, "createdAt",
           json_array_length(definition -> 'steps')::int AS "stepCount"
    FROM "WorkflowVersion"
    WHERE "workflowId" = ${row.id}::uuid AND "userId" = ${input.userId}::uuid AND number < ${before}
    ORDER BY number DESC
    LIMIT ${take}`;
  const page = input.limit === undefined ? versions : versions.slice(0, input.limit);
  const counts = await runCounts(
    deps.db,
    input.userId,
    page.map((v) => v.id),
  );
  return {
    items: page.map((version) => ({ ...version, runCount: counts.get(version.id) ?? 0 })),
    nextCursor: versions.length > page.length ? String(page[page.length - 1]!.number) : null,
  };
}

/** One version with its definition, step count and run count. NOT_FOUND for a missing number or others'. */
export async function getVersion(
  input: { userId: string; workflowId: string; number: number },
  deps: WorkflowsDeps,
): Promise<WorkflowVersionDetail> {
  const number = parseInput(ZWorkflowVersionNumber, input.number);
  const row = await findWorkflow(deps.db, input.userId, input.workflowId);
  const version = await findVersion(deps.db, input.userId, row.id, number);
  const counts = await runCounts(deps.db, input.userId, [version.id]);
  return {
    ...version,
    definition: asDefinition(version.definition),
    stepCount: stepsOf(version.definition).length,
    runCount: counts.get(version.id) ?? 0,
  };
}

/** Which steps were added, removed or changed from `a` to `b` (by step id), and whether inputs changed. */
export function summariseChanges(a: WorkflowDefinition, b: WorkflowDefinition): WorkflowDiff["summary"] {
  const before = new Map(a.steps.map((step) => [step.id, canonicalJson(step)]));
  const after = new Map(b.steps.map((step) => [step.id, canonicalJson(step)]));
  const kept = (steps: WorkflowDefinition["steps"], other: Map<string, string>) =>
    steps.filter((step) => other.has(step.id)).map((step) => step.id);
  const keptBefore = kept(a.steps, after);
  const keptAfter = kept(b.steps, before);
  return {
    added: b.steps.filter((step) => !before.has(step.id)).map((step) => step.id),
    removed: a.steps.filter((step) => !after.has(step.id)).map((step) => step.id),
    changed: keptAfter.filter((id) => before.get(id) !== after.get(id)),
    inputsChanged: canonicalJson(a.inputs ?? {}) !== canonicalJson(b.inputs ?? {}),
    reordered: keptBefore.some((id, index) => keptAfter[index] !== id),
  };
}

/**
 * What changed from version `from` to version `to`: a unified diff of the definitions as indented JSON
 * (jsdiff, 3 lines of context) and a summary by step id. UNPROCESSABLE_CONTENT when the two are too
 * different to diff in time.
 */
export async function diffVersions(
  input: { userId: string; workflowId: string; from: number; to: number },
  deps: WorkflowsDeps,
): Promise<WorkflowDiff> {
  const from = parseInput(ZWorkflowVersionNumber, input.from);
  const to = parseInput(ZWorkflowVersionNumber, input.to);
  const row = await findWorkflow(deps.db, input.userId, input.workflowId);
  const [a, b] = await Promise.all([
    findVersion(deps.db, input.userId, row.id, from),
    findVersion(deps.db, input.userId, row.id, to),
  ]);
  const before = asDefinition(a.definition);
  const after = asDefinition(b.definition);
  const patch = createTwoFilesPatch(
    "a/workflow.json",
    "b/workflow.json",
    `${JSON.stringify(before, null, 2)}\n`,
    `${JSON.stringify(after, null, 2)}\n`,
    `version ${from}`,
    `version ${to}`,
    { context: 3, timeout: DIFF_TIMEOUT_MS },
  );
  if (patch === undefined) {
    throw new AppError("UNPROCESSABLE_CONTENT", "These versions differ too much to show a diff");
  }
  return {
    from,
    to,
    patch,
    summary: summariseChanges(before, after),
  };
}

/**
 * Make version `number`'s definition the newest version (a new number, note "Restored from version N":
 * history is never rewritten). Restoring the definition the workflow already has changes nothing. The old
 * definition is validated again (BAD_REQUEST if it no longer is, e.g. its model is gone).
 */
export async function restoreVersion(
  input: { userId: string; workflowId: string; number: number },
  deps: WorkflowsDeps,
): Promise<WorkflowView> {
  const number = parseInput(ZWorkflowVersionNumber, input.number);
  const now = clock(deps);
  return deps.db.$transaction(async (tx) => {
    if (!isUuid(input.workflowId) || !isUuid(input.userId)) throw workflowNotFound();
    await lockUserWorkflows(tx, input.userId);
    const workflow = await findWorkflow(tx, input.userId, input.workflowId);
    const old = await findVersion(tx, input.userId, workflow.id, number);
    const latest = await findVersion(tx, input.userId, workflow.id, workflow.latestVersion);
    const { definition, warnings } = checkedDefinition(old.definition, deps);
    const hash = definitionHash(definition);
    if (hash === latest.hash) return viewOf(workflow, latest, deps, warnings);
    await appendVersion(tx, workflow, {
      userId: input.userId,
      definition,
      hash,
      note: `Restored from version ${number}`,
      now,
    });
    const row = await findWorkflow(tx, input.userId, workflow.id);
    return viewOf(row, await findVersion(tx, input.userId, row.id, row.latestVersion), deps, warnings);
  });
}

/**
 * Delete a workflow with its versions. CONFLICT while it has runs queued or running. Its finished runs go
 * with it (the database cascades WorkflowRun → StepRun, RunEvent); their model calls stay in the ledger
 * (AiCall.runId is set to null) and so do change sets and file versions they produced (runId set to null).
 * Archive a workflow instead to keep its run history.
 */
export async function deleteWorkflow(
  input: { userId: string; workflowId: string },
  deps: WorkflowsDeps,
): Promise<{ ok: true }> {
  if (!isUuid(input.workflowId) || !isUuid(input.userId)) throw workflowNotFound();
  return deps.db.$transaction(async (tx) => {
    // Row lock first: a run being created holds a key-share lock on the workflow until it commits, so once
    // we hold this lock every run that will ever reference the workflow is visible to the count below, and
    // a run created later fails its foreign key instead of being cascaded away unseen.
    const locked = await tx.$queryRaw<Array<{ id: string }>>`
      SELECT id::text FROM "AIWorkflow"
      WHERE id = ${input.workflowId}::uuid AND "userId" = ${input.userId}::uuid
      FOR UPDATE`;
    if (locked.length === 0) throw workflowNotFound();
    const active = await tx.workflowRun.count({
      where: { workflowId: input.workflowId, status: { in: [...ACTIVE_RUN_STATUSES] } },
    });
    if (active > 0) {
      throw new AppError(
        "CONFLICT",
        `This workflow has ${active} run${active === 1 ? "" : "s"} queued or running: cancel ${active === 1 ? "it" : "them"} or wait for ${active === 1 ? "it" : "them"} to finish`,
        { activeRuns: active },
      );
    }
    await tx.aIWorkflow.delete({ where: { id: input.workflowId } });
    return { ok: true as const };
  });
}

/** The starter templates a new workflow can begin from. */
export function listWorkflowTemplates(): WorkflowTemplateView[] {
  return WORKFLOW_TEMPLATES.map((template) => {
    // Defaults applied, as a saved workflow would show them.
    const definition = ZWorkflowDefinition.parse(template.definition);
    return {
      id: template.id,
      name: template.name,
      description: template.description,
      definition,
      stepCount: definition.steps.length,
    };
  });
}

/**
 * Create a workflow from a starter template, its model steps set to `model` (absent: the template's own
 * models). Without `name`, the template's name, made unique in the project ("Name 2"...); with one, a
 * taken name is a CONFLICT. NOT_FOUND for an unknown template or a project that is not the caller's.
 */
export async function createWorkflowFromTemplate(
  input: { userId: string; projectId: string; templateId: string; name?: string; model?: string },
  deps: WorkflowsDeps,
): Promise<WorkflowView> {
  const template = getWorkflowTemplate(input.templateId);
  if (!template) throw new AppError("NOT_FOUND", `Workflow template not found: ${input.templateId}`);
  const name = input.name === undefined ? undefined : parseInput(ZWorkflowName, input.name);
  const model = input.model === undefined ? undefined : parseInput(ZModelIdInput, input.model);
  const raw = model === undefined ? template.definition : instantiateTemplate(template.id, { model });
  const now = clock(deps);
  return deps.db.$transaction(async (tx) => {
    await assertProjectOwned(tx, input.userId, input.projectId);
    const { definition, warnings } = checkedDefinition(raw, deps);
    await lockUserWorkflows(tx, input.userId);
    const scope = { userId: input.userId, projectId: input.projectId };
    if (name !== undefined) await assertNameFree(tx, { ...scope, name });
    const { row, version } = await insertWorkflow(tx, {
      ...scope,
      name: name ?? (await freeName(tx, { ...scope, name: template.name })),
      description: template.description || null,
      definition,
      now,
    });
    return viewOf(row, version, deps, warnings);
  });
}
