/**
 * Projects: create, list with dashboard summaries, read, update (rename, describe, archive), delete.
 */
import type { Prisma } from "#app/db/client.server.ts";
import { afterCursor, pageOf, takeFor } from "#app/lib/pagination.server.ts";
import { clock, isUuid, type ProjectsDeps, parseInput, projectNotFound } from "./deps.server.ts";
import {
  type ProjectSummary,
  type ProjectView,
  type TCreateProjectInput,
  type TUpdateProjectInput,
  ZCreateProjectInput,
  ZUpdateProjectInput,
} from "./projects.types.ts";

const VIEW_SELECT = {
  id: true,
  name: true,
  description: true,
  archivedAt: true,
  createdAt: true,
  updatedAt: true,
  lastActivityAt: true,
} as const satisfies Prisma.ProjectSelect;

/** The first instant of the current month in UTC: where month-to-date cost starts. */
export function startOfMonthUtc(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
}

/** Create a project owned by `userId` (name trimmed, 1–100; description ≤ 2000). */
export async function createProject(
  input: { userId: string } & TCreateProjectInput,
  deps: ProjectsDeps,
): Promise<ProjectView> {
  const { name, description } = parseInput(ZCreateProjectInput, input);
  const now = clock(deps);
  return deps.db.project.create({
    data: {
      userId: input.userId,
      name,
      description: description || null,
      lastActivityAt: now,
      createdAt: now,
    },
    select: VIEW_SELECT,
  });
}

type SummaryRow = Prisma.ProjectGetPayload<{
  select: typeof VIEW_SELECT & { _count: { select: { files: true } } };
}>;

/**
 * Add the dashboard facts to project rows, in three queries whatever their number: file count, last run
 * (the newest WorkflowRun), and month-to-date cost (AiCall.costMicros since the 1st, UTC).
 */
async function summarise(rows: SummaryRow[], userId: string, deps: ProjectsDeps): Promise<ProjectSummary[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((row) => row.id);
  const [costs, runs] = await Promise.all([
    deps.db.aiCall.groupBy({
      by: ["projectId"],
      where: { userId, projectId: { in: ids }, createdAt: { gte: startOfMonthUtc(clock(deps)) } },
      _sum: { costMicros: true },
    }),
    deps.db.$queryRaw<Array<{ projectId: string; id: string; status: string; createdAt: Date }>>`
      SELECT DISTINCT ON ("projectId") "projectId"::text, id::text, status::text, "createdAt"
      FROM "WorkflowRun"
      WHERE "userId" = ${userId}::uuid AND "projectId" = ANY(${ids}::uuid[])
      ORDER BY "projectId", "createdAt" DESC, id DESC`,
  ]);
  const costOf = new Map(costs.map((c) => [c.projectId, Number(c._sum.costMicros ?? 0n)]));
  const runOf = new Map(runs.map((r) => [r.projectId, r]));
  return rows.map(({ _count, ...view }) => {
    const run = runOf.get(view.id);
    return {
      ...view,
      fileCount: _count.files,
      lastRun: run
        ? {
            id: run.id,
            status: run.status as NonNullable<ProjectSummary["lastRun"]>["status"],
            createdAt: run.createdAt,
          }
        : null,
      monthToDateCostMicros: costOf.get(view.id) ?? 0,
    };
  });
}

/**
 * The user's projects with their summaries, most recently active first. Archived projects are left out
 * unless `includeArchived` (default false).
 */
export async function listProjects(
  input: { userId: string; includeArchived?: boolean },
  deps: ProjectsDeps,
): Promise<ProjectSummary[]> {
  return (await listProjectsPage(input, deps)).items;
}

/**
 * A page of the caller's projects, most recently active first. `nextCursor` is the last project's id; the
 * next page starts after that project's current activity time (a project touched in between may move to
 * an earlier page). A cursor that is not one of the caller's projects is a BAD_REQUEST. Without `limit`,
 * every project and a null cursor.
 */
export async function listProjectsPage(
  input: { userId: string; includeArchived?: boolean; limit?: number; cursor?: string },
  deps: ProjectsDeps,
): Promise<{ items: ProjectSummary[]; nextCursor: string | null }> {
  const where: Prisma.ProjectWhereInput = {
    userId: input.userId,
    ...(input.includeArchived ? {} : { archivedAt: null }),
    ...(await afterCursor(input.cursor, "lastActivityAt", (id) =>
      deps.db.project.findFirst({
        where: { id, userId: input.userId },
        select: { id: true, lastActivityAt: true },
      }),
    )),
  };
  const rows = await deps.db.project.findMany({
    where,
    select: { ...VIEW_SELECT, _count: { select: { files: true } } },
    orderBy: [{ lastActivityAt: "desc" }, { id: "desc" }],
    take: takeFor(input.limit),
  });
  const page = pageOf(rows, input.limit);
  return { items: await summarise(page.items, input.userId, deps), nextCursor: page.nextCursor };
}

/** One project with its summary, or NOT_FOUND (also for another user's project). */
export async function getProject(
  input: { userId: string; projectId: string },
  deps: ProjectsDeps,
): Promise<ProjectSummary> {
  if (!isUuid(input.projectId)) throw projectNotFound();
  const row = await deps.db.project.findFirst({
    where: { id: input.projectId, userId: input.userId },
    select: { ...VIEW_SELECT, _count: { select: { files: true } } },
  });
  if (!row) throw projectNotFound();
  const [summary] = await summarise([row], input.userId, deps);
  return summary!;
}

/**
 * Rename, describe (null clears), archive (`archived: true`) or unarchive a project. Counts as activity.
 * NOT_FOUND for another user's project.
 */
export async function updateProject(
  input: { userId: string } & TUpdateProjectInput,
  deps: ProjectsDeps,
): Promise<ProjectView> {
  const { id, name, description, archived } = parseInput(ZUpdateProjectInput, input);
  const now = clock(deps);
  const data: Prisma.ProjectUpdateManyMutationInput = { lastActivityAt: now };
  if (name !== undefined) data.name = name;
  if (description !== undefined) data.description = description || null;
  if (archived !== undefined) {
    // Archiving again keeps the first archive date.
    const current = await deps.db.project.findFirst({
      where: { id, userId: input.userId },
      select: { archivedAt: true },
    });
    if (!current) throw projectNotFound();
    data.archivedAt = archived ? (current.archivedAt ?? now) : null;
  }
  const { count } = await deps.db.project.updateMany({ where: { id, userId: input.userId }, data });
  if (count === 0) throw projectNotFound();
  return deps.db.project.findFirstOrThrow({ where: { id, userId: input.userId }, select: VIEW_SELECT });
}

/**
 * Delete a project for good, with its files, their history, workflows and runs (database cascades).
 * AiCall rows stay (their project link is set to null) so spend is never erased.
 */
export async function deleteProject(
  input: { userId: string; projectId: string },
  deps: ProjectsDeps,
): Promise<{ ok: true }> {
  if (!isUuid(input.projectId)) throw projectNotFound();
  const { count } = await deps.db.project.deleteMany({
    where: { id: input.projectId, userId: input.userId },
  });
  if (count === 0) throw projectNotFound();
  return { ok: true };
}
