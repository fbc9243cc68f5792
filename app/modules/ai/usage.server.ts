/**
 * Usage: what the user's AI calls cost and how they behaved, over a range of UTC days. Every figure is
 * aggregated by PostgreSQL (GROUP BY over AiCall's (userId, createdAt) index); JavaScript only zero-fills
 * the days and adds up at most 366 daily rows.
 */
import { type Db, Prisma } from "#app/db/client.server.ts";
import { AppError } from "#app/lib/app-error.ts";
import { clock, isUuid, parseInput } from "#app/lib/use-case.ts";
import { assertProjectOwned } from "#app/modules/projects/deps.server.ts";
import {
  addDays,
  DEFAULT_USAGE_RANGE_DAYS,
  daysInRange,
  isoDay,
  MAX_USAGE_RANGE_DAYS,
  parseIsoDay,
  type TUsageSummaryInput,
  type UsageByModel,
  type UsageByProject,
  type UsageCall,
  type UsageDay,
  type UsageRun,
  type UsageSummary,
  ZUsageSummaryInput,
} from "./usage.types.ts";

export type UsageDeps = {
  db: Db;
  /** The clock ("today" for default ranges). Default `() => new Date()`. */
  now?: () => Date;
};

const sql = Prisma.sql;

/** How many projects and runs the summary ranks, and how many recent calls it lists. */
const TOP_PROJECTS = 10;
const TOP_RUNS = 10;
const RECENT_CALLS = 50;

const num = (value: bigint | number | null | undefined): number => (value == null ? 0 : Number(value));

/**
 * The range a summary covers, defaults applied: `to` = today (UTC), `from` = 29 days before `to`.
 * BAD_REQUEST when `from` is after `to` or the range is longer than MAX_USAGE_RANGE_DAYS.
 */
export function resolveUsageRange(
  input: { from?: string; to?: string },
  now: Date,
): { from: string; to: string; start: Date; end: Date } {
  const to = input.to ?? isoDay(now);
  const from = input.from ?? addDays(to, -(DEFAULT_USAGE_RANGE_DAYS - 1));
  const days = daysInRange(from, to);
  if (days < 1) throw new AppError("BAD_REQUEST", "`from` must not be after `to`");
  if (days > MAX_USAGE_RANGE_DAYS) {
    throw new AppError("BAD_REQUEST", `A usage range covers at most ${MAX_USAGE_RANGE_DAYS} days`);
  }
  const start = parseIsoDay(from)!;
  const end = parseIsoDay(addDays(to, 1))!;
  return { from, to, start, end };
}

type DayRow = {
  day: string;
  calls: number;
  tokensIn: bigint;
  tokensOut: bigint;
  costMicros: bigint;
  cachedCalls: number;
  errors: number;
};

type ModelRow = {
  provider: string;
  model: string;
  calls: number;
  tokensIn: bigint;
  tokensOut: bigint;
  costMicros: bigint;
  avgLatencyMs: number | null;
  p50TtftMs: number | null;
};

type ProjectRow = {
  projectId: string | null;
  projectName: string | null;
  calls: number;
  tokensIn: bigint;
  tokensOut: bigint;
  costMicros: bigint;
};

type RunRow = {
  runId: string;
  projectId: string;
  status: UsageRun["status"];
  startedAt: Date;
  workflowName: string | null;
  projectName: string | null;
  calls: number;
  tokens: bigint;
  costMicros: bigint;
};

/**
 * The user's AI usage from `from` to `to` (UTC days, both included; default the last 30 days),
 * optionally of one project (NOT_FOUND when it is not theirs): totals, cost per day (every day,
 * zero-filled), per model, top 10 projects and runs by cost, and the 50 newest calls.
 */
export async function usageSummary(
  input: { userId: string } & TUsageSummaryInput,
  deps: UsageDeps,
): Promise<UsageSummary> {
  const parsed = parseInput(ZUsageSummaryInput, {
    from: input.from,
    to: input.to,
    projectId: input.projectId,
  });
  const range = resolveUsageRange(parsed, clock(deps));
  const { userId } = input;
  const projectId = parsed.projectId;
  if (projectId) await assertProjectOwned(deps.db, userId, projectId);
  if (!isUuid(userId)) throw new AppError("NOT_FOUND", "User not found");

  // Every query reads the same rows: the user's calls in the range (and the project's, if asked).
  const where = sql`"userId" = ${userId}::uuid
    AND "createdAt" >= ${range.start}::timestamp AND "createdAt" < ${range.end}::timestamp
    ${projectId ? sql`AND "projectId" = ${projectId}::uuid` : Prisma.empty}`;

  const { db } = deps;
  const [days, models, projects, runs, calls] = await Promise.all([
    db.$queryRaw<DayRow[]>`
      SELECT to_char("createdAt", 'YYYY-MM-DD') AS day,
        count(*)::int AS calls,
        COALESCE(sum("tokensIn"), 0)::bigint AS "tokensIn",
        COALESCE(sum("tokensOut"), 0)::bigint AS "tokensOut",
        COALESCE(sum("costMicros"), 0)::bigint AS "costMicros",
        (count(*) FILTER (WHERE cached))::int AS "cachedCalls",
        (count(*) FILTER (WHERE error IS NOT NULL))::int AS errors
      FROM "AiCall"
      WHERE ${where}
      GROUP BY 1`,
    db.$queryRaw<ModelRow[]>`
      SELECT provider, model,
        count(*)::int AS calls,
        COALESCE(sum("tokensIn"), 0)::bigint AS "tokensIn",
        COALESCE(sum("tokensOut"), 0)::bigint AS "tokensOut",
        COALESCE(sum("costMicros"), 0)::bigint AS "costMicros",
        avg("latencyMs")::float8 AS "avgLatencyMs",
        percentile_cont(0.5) WITHIN GROUP (ORDER BY "ttftMs")::float8 AS "p50TtftMs"
      FROM "AiCall"
      WHERE ${where}
      GROUP BY provider, model
      ORDER BY 6 DESC, 3 DESC, provider, model`,
    db.$queryRaw<ProjectRow[]>`
      WITH top AS (
        SELECT "projectId",
          count(*)::int AS calls,
          COALESCE(sum("tokensIn"), 0)::bigint AS "tokensIn",
          COALESCE(sum("tokensOut"), 0)::bigint AS "tokensOut",
          COALESCE(sum("costMicros"), 0)::bigint AS "costMicros"
        FROM "AiCall"
        WHERE ${where}
        GROUP BY "projectId"
        ORDER BY 5 DESC, 2 DESC, "projectId"
        LIMIT ${TOP_PROJECTS}
      )
      SELECT top."projectId"::text AS "projectId", p.name AS "projectName",
        top.calls, top."tokensIn", top."tokensOut", top."costMicros"
      FROM top
      LEFT JOIN "Project" p ON p.id = top."projectId" AND p."userId" = ${userId}::uuid
      ORDER BY top."costMicros" DESC, top.calls DESC, top."projectId"`,
    db.$queryRaw<RunRow[]>`
      WITH top AS (
        SELECT "runId",
          count(*)::int AS calls,
          COALESCE(sum("tokensIn" + "tokensOut"), 0)::bigint AS tokens,
          COALESCE(sum("costMicros"), 0)::bigint AS "costMicros"
        FROM "AiCall"
        WHERE ${where} AND "runId" IS NOT NULL
        GROUP BY "runId"
        ORDER BY 4 DESC, 2 DESC, "runId"
        LIMIT ${TOP_RUNS}
      )
      SELECT r.id::text AS "runId", r."projectId"::text AS "projectId", r.status::text AS status,
        COALESCE(r."startedAt", r."createdAt") AS "startedAt",
        w.name AS "workflowName", p.name AS "projectName",
        top.calls, top.tokens, top."costMicros"
      FROM top
      JOIN "WorkflowRun" r ON r.id = top."runId" AND r."userId" = ${userId}::uuid
      LEFT JOIN "AIWorkflow" w ON w.id = r."workflowId"
      LEFT JOIN "Project" p ON p.id = r."projectId"
      ORDER BY top."costMicros" DESC, top.calls DESC, r.id`,
    db.aiCall.findMany({
      where: {
        userId,
        createdAt: { gte: range.start, lt: range.end },
        ...(projectId ? { projectId } : {}),
      },
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      take: RECENT_CALLS,
      select: {
        id: true,
        provider: true,
        model: true,
        tokensIn: true,
        tokensOut: true,
        costMicros: true,
        cached: true,
        error: true,
        ttftMs: true,
        latencyMs: true,
        createdAt: true,
        projectId: true,
        runId: true,
        project: { select: { name: true } },
        templateVersion: { select: { number: true, template: { select: { name: true } } } },
      },
    }),
  ]);

  const totals = { calls: 0, tokensIn: 0, tokensOut: 0, costMicros: 0, cachedCalls: 0, errors: 0 };
  const byDay = new Map<string, DayRow>();
  for (const row of days) {
    byDay.set(row.day, row);
    totals.calls += row.calls;
    totals.tokensIn += num(row.tokensIn);
    totals.tokensOut += num(row.tokensOut);
    totals.costMicros += num(row.costMicros);
    totals.cachedCalls += row.cachedCalls;
    totals.errors += row.errors;
  }
  const perDay: UsageDay[] = [];
  const dayCount = daysInRange(range.from, range.to);
  for (let day = range.from, i = 0; i < dayCount; day = addDays(day, 1), i++) {
    const row = byDay.get(day);
    perDay.push({
      day,
      costMicros: num(row?.costMicros),
      calls: row?.calls ?? 0,
      tokensIn: num(row?.tokensIn),
      tokensOut: num(row?.tokensOut),
    });
  }

  const byModel: UsageByModel[] = models.map((row) => ({
    model: `${row.provider}:${row.model}`,
    calls: row.calls,
    tokensIn: num(row.tokensIn),
    tokensOut: num(row.tokensOut),
    costMicros: num(row.costMicros),
    avgLatencyMs: row.avgLatencyMs === null ? null : Math.round(row.avgLatencyMs),
    p50TtftMs: row.p50TtftMs === null ? null : Math.round(row.p50TtftMs),
  }));

  const byProject: UsageByProject[] = projects.map((row) => ({
    projectId: row.projectId,
    projectName: row.projectName,
    calls: row.calls,
    tokensIn: num(row.tokensIn),
    tokensOut: num(row.tokensOut),
    costMicros: num(row.costMicros),
  }));

  const topRuns: UsageRun[] = runs.map((row) => ({
    runId: row.runId,
    projectId: row.projectId,
    workflowName: row.workflowName,
    projectName: row.projectName,
    status: row.status,
    costMicros: num(row.costMicros),
    tokens: num(row.tokens),
    calls: row.calls,
    startedAt: row.startedAt,
  }));

  const recentCalls: UsageCall[] = calls.map((call) => ({
    id: call.id,
    model: `${call.provider}:${call.model}`,
    tokensIn: call.tokensIn,
    tokensOut: call.tokensOut,
    costMicros: Number(call.costMicros),
    cached: call.cached,
    error: call.error,
    ttftMs: call.ttftMs,
    latencyMs: call.latencyMs,
    createdAt: call.createdAt,
    projectId: call.projectId,
    projectName: call.project?.name ?? null,
    runId: call.runId,
    templateVersion: call.templateVersion
      ? { templateName: call.templateVersion.template.name, number: call.templateVersion.number }
      : null,
  }));

  return { from: range.from, to: range.to, totals, perDay, byModel, byProject, topRuns, recentCalls };
}

/** Whether the user has ever made an AI call (the /usage page's first-time empty state). */
export async function hasUsage(input: { userId: string }, deps: UsageDeps): Promise<boolean> {
  if (!isUuid(input.userId)) return false;
  const call = await deps.db.aiCall.findFirst({ where: { userId: input.userId }, select: { id: true } });
  return call !== null;
}
