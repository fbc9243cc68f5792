/**
 * Budgets: spending caps on AI calls. A budget is (scope, period, target, limit):
 * - scope `user` caps all of the user's calls, `project` the calls of one project, `api_key` the calls
 *   made through one API key (directly or by the runs it started);
 * - period `monthly` caps what is spent in the current UTC calendar month, `per_run` what any one run
 *   spends.
 * There is at most one budget per (user, scope, target, period); setting it again replaces the limit.
 *
 * The AI proxy checks budgets before and during every model call: `applicableBudgets` (one indexed
 * query on Budget) then `budgetSpend` (one round trip on AiCall, whatever the number of budgets).
 */
import { type Db, type DbOrTx, Prisma } from "#app/db/client.server.ts";
import { AppError } from "#app/lib/app-error.ts";
import { clock, isUuid, parseInput } from "#app/lib/use-case.ts";
import { recordAuditEvent } from "#app/modules/auth/audit.server.ts";
import { requestContext } from "#app/modules/auth/deps.server.ts";
import { startOfMonthUtc } from "#app/modules/projects/projects.server.ts";
import { MICROS_PER_DOLLAR } from "./ai.types.ts";
import {
  type BudgetTargets,
  type BudgetView,
  type TSetBudgetInput,
  ZBudgetId,
  ZSetBudgetInput,
} from "./usage.types.ts";

/** A Budget row as Prisma returns it. */
export type Budget = Prisma.BudgetModel;

export type BudgetsDeps = {
  db: Db;
  /** The clock. Default `() => new Date()`; tests pass a fixed one. */
  now?: () => Date;
  /** Recorded on audit events. */
  ip?: string;
  userAgent?: string;
  /** The API key the caller authenticated with, if any: audit events then name it as the actor. */
  actorApiKeyId?: string | null;
};

const sql = Prisma.sql;
const join = Prisma.join;
/** Our own column aliases (s0, s1, ...), never user input. */
const rawIdentifier = (name: string) => Prisma.raw(`"${name}"`);

const budgetNotFound = () => new AppError("NOT_FOUND", "Budget not found");

const VIEW_SELECT = {
  id: true,
  scope: true,
  period: true,
  projectId: true,
  apiKeyId: true,
  limitMicros: true,
  createdAt: true,
  updatedAt: true,
  project: { select: { name: true } },
  apiKey: { select: { name: true, prefix: true } },
} as const satisfies Prisma.BudgetSelect;

type ViewRow = Prisma.BudgetGetPayload<{ select: typeof VIEW_SELECT }>;

const SCOPE_ORDER = { user: 0, project: 1, api_key: 2 } as const;

function targetName(row: ViewRow): string {
  if (row.scope === "project") return row.project?.name ?? "Deleted project";
  if (row.scope === "api_key")
    return row.apiKey ? `${row.apiKey.name} (${row.apiKey.prefix}…)` : "Deleted key";
  return "All usage";
}

function toView(row: ViewRow, spent: Map<string, number>): BudgetView {
  const limitMicros = Number(row.limitMicros);
  const spentMicros = row.period === "monthly" ? (spent.get(row.id) ?? 0) : null;
  return {
    id: row.id,
    scope: row.scope,
    period: row.period,
    projectId: row.projectId,
    apiKeyId: row.apiKeyId,
    targetName: targetName(row),
    limitMicros,
    spentMicros,
    remainingMicros: spentMicros === null ? null : Math.max(0, limitMicros - spentMicros),
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/**
 * The user's budgets with what each has used: monthly budgets carry the month-to-date spend (UTC
 * calendar month) and what remains; per-run budgets carry null (they apply to each run). Ordered: all
 * usage, then projects, then API keys; monthly before per run.
 */
export async function listBudgets(input: { userId: string }, deps: BudgetsDeps): Promise<BudgetView[]> {
  if (!isUuid(input.userId)) return [];
  const rows = await deps.db.budget.findMany({
    where: { userId: input.userId },
    select: VIEW_SELECT,
    orderBy: [{ createdAt: "asc" }, { id: "asc" }],
  });
  const spent = await budgetSpend(deps.db, {
    budgets: rows,
    userId: input.userId,
    now: clock(deps),
  });
  return rows
    .map((row) => toView(row, spent))
    .sort(
      (a, b) =>
        SCOPE_ORDER[a.scope] - SCOPE_ORDER[b.scope] ||
        a.targetName.localeCompare(b.targetName) ||
        (a.period === b.period ? 0 : a.period === "monthly" ? -1 : 1),
    );
}

/** What the user can put a budget on: their projects (archived too) and their active API keys. */
export async function listBudgetTargets(
  input: { userId: string },
  deps: BudgetsDeps,
): Promise<BudgetTargets> {
  if (!isUuid(input.userId)) return { projects: [], apiKeys: [] };
  const now = clock(deps);
  const [projects, apiKeys] = await Promise.all([
    deps.db.project.findMany({
      where: { userId: input.userId },
      select: { id: true, name: true },
      orderBy: [{ name: "asc" }, { id: "asc" }],
    }),
    deps.db.apiKey.findMany({
      where: {
        userId: input.userId,
        revokedAt: null,
        OR: [{ expiresAt: null }, { expiresAt: { gt: now } }],
      },
      select: { id: true, name: true, prefix: true },
      orderBy: [{ name: "asc" }, { id: "asc" }],
    }),
  ]);
  return { projects, apiKeys };
}

/**
 * Create or replace the budget for (scope, target, period). The project or API key must be the
 * caller's (NOT_FOUND otherwise, like a missing one); the limit is more than $0 and at most
 * $1,000,000 (BAD_REQUEST). Audit "budget.set" with the previous limit when it replaced one.
 */
export async function setBudget(
  input: { userId: string } & TSetBudgetInput,
  deps: BudgetsDeps,
): Promise<BudgetView> {
  const { scope, period, projectId, apiKeyId, limitUsd } = parseInput(ZSetBudgetInput, input);
  const { userId } = input;
  if (!isUuid(userId)) throw new AppError("NOT_FOUND", "User not found");
  const limitMicros = BigInt(Math.round(limitUsd * MICROS_PER_DOLLAR));
  const now = clock(deps);
  const context = requestContext({}, deps);

  const row = await deps.db.$transaction(async (tx) => {
    // No unique index covers (user, scope, target, period) (the target columns are nullable), so
    // concurrent sets of the same user are serialised here instead: two requests cannot both create.
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`budget:${userId}`}, 0))`;
    if (projectId) {
      const project = await tx.project.findFirst({ where: { id: projectId, userId }, select: { id: true } });
      if (!project) throw new AppError("NOT_FOUND", "Project not found");
    }
    if (apiKeyId) {
      const key = await tx.apiKey.findFirst({ where: { id: apiKeyId, userId }, select: { id: true } });
      if (!key) throw new AppError("NOT_FOUND", "API key not found");
    }
    const target = { userId, scope, period, projectId: projectId ?? null, apiKeyId: apiKeyId ?? null };
    const existing = await tx.budget.findFirst({ where: target, select: { id: true, limitMicros: true } });
    const saved = existing
      ? await tx.budget.update({
          where: { id: existing.id },
          data: { limitMicros, updatedAt: now },
          select: VIEW_SELECT,
        })
      : await tx.budget.create({
          data: { ...target, limitMicros, createdAt: now, updatedAt: now },
          select: VIEW_SELECT,
        });
    await recordAuditEvent(tx, {
      userId,
      action: "budget.set",
      targetType: "budget",
      targetId: saved.id,
      ...context,
      data: {
        scope,
        period,
        projectId: projectId ?? null,
        apiKeyId: apiKeyId ?? null,
        limitMicros: Number(limitMicros),
        previousLimitMicros: existing ? Number(existing.limitMicros) : null,
      },
    });
    return saved;
  });
  const spent =
    row.period === "monthly"
      ? await budgetSpend(deps.db, { budgets: [row], userId, now })
      : new Map<string, number>();
  return toView(row, spent);
}

/** Delete one of the user's budgets; NOT_FOUND when it is not theirs. Audit "budget.deleted". */
export async function deleteBudget(
  input: { userId: string; id: string },
  deps: BudgetsDeps,
): Promise<{ ok: true }> {
  if (!isUuid(input.userId) || !ZBudgetId.safeParse(input.id).success) throw budgetNotFound();
  const context = requestContext({}, deps);
  await deps.db.$transaction(async (tx) => {
    const budget = await tx.budget.findFirst({
      where: { id: input.id, userId: input.userId },
      select: { id: true, scope: true, period: true, projectId: true, apiKeyId: true, limitMicros: true },
    });
    if (!budget) throw budgetNotFound();
    // Ownership is part of the delete's filter too: nothing of another user's can go.
    const { count } = await tx.budget.deleteMany({ where: { id: budget.id, userId: input.userId } });
    if (count === 0) throw budgetNotFound();
    await recordAuditEvent(tx, {
      userId: input.userId,
      action: "budget.deleted",
      targetType: "budget",
      targetId: budget.id,
      ...context,
      data: {
        scope: budget.scope,
        period: budget.period,
        projectId: budget.projectId,
        apiKeyId: budget.apiKeyId,
        limitMicros: Number(budget.limitMicros),
      },
    });
  });
  return { ok: true };
}

// ─── Hot path: the AI proxy's checks ─────────────────────────────────────────

/**
 * The budgets that govern a call made by `userId`, in `projectId` (if any), through `apiKeyId` (if
 * any): the user's own, the project's and the key's, monthly and per run. One query (Budget's
 * (userId, scope) index).
 */
export async function applicableBudgets(
  db: DbOrTx,
  input: { userId: string; projectId?: string | null; apiKeyId?: string | null },
): Promise<Budget[]> {
  if (!isUuid(input.userId)) return [];
  const targets: Prisma.BudgetWhereInput[] = [{ scope: "user" }];
  if (input.projectId && isUuid(input.projectId))
    targets.push({ scope: "project", projectId: input.projectId });
  if (input.apiKeyId && isUuid(input.apiKeyId)) targets.push({ scope: "api_key", apiKeyId: input.apiKeyId });
  return db.budget.findMany({
    where: { userId: input.userId, OR: targets },
    orderBy: [{ createdAt: "asc" }, { id: "asc" }],
  });
}

/** The fields of a budget that budgetSpend reads (a full Budget row fits). */
export type BudgetForSpend = Pick<Budget, "id" | "scope" | "period" | "projectId" | "apiKeyId">;

/**
 * What each budget has used, in micro-dollars, keyed by budget id:
 * - monthly: the AiCall cost since the 1st of `now`'s month (UTC) of the budget's scope (all of
 *   `userId`'s calls, the project's calls, or the key's calls);
 * - per run: the cost so far of run `runId` (0 when no run is given).
 *
 * ONE round trip whatever the number of budgets: one conditional sum (`SUM(..) FILTER (WHERE ..)`) per
 * distinct scope, over the union of the rows they need, each arm of the WHERE matching an index:
 * AiCall (userId, createdAt), (projectId, createdAt), (apiKeyId, createdAt) and (runId). Every arm
 * also filters on `userId`, so a budget can never count another user's calls.
 */
export async function budgetSpend(
  db: DbOrTx,
  input: { budgets: readonly BudgetForSpend[]; userId: string; runId?: string | null; now: Date },
): Promise<Map<string, number>> {
  const result = new Map<string, number>();
  if (input.budgets.length === 0) return result;
  const { userId } = input;
  const runId = input.runId && isUuid(input.runId) ? input.runId : null;
  const monthStart = startOfMonthUtc(input.now);

  // One predicate per distinct thing to sum; budgets sharing a scope and target share a column.
  const predicates = new Map<string, Prisma.Sql>();
  const columnOf = new Map<string, string>();
  for (const budget of input.budgets) {
    let key: string | null = null;
    let predicate: Prisma.Sql | null = null;
    if (budget.period === "per_run") {
      if (!runId) continue;
      key = "run";
      predicate = sql`"userId" = ${userId}::uuid AND "runId" = ${runId}::uuid`;
    } else if (budget.scope === "user") {
      key = "user";
      predicate = sql`"userId" = ${userId}::uuid AND "createdAt" >= ${monthStart}::timestamp`;
    } else if (budget.scope === "project" && budget.projectId) {
      key = `project:${budget.projectId}`;
      predicate = sql`"projectId" = ${budget.projectId}::uuid AND "userId" = ${userId}::uuid AND "createdAt" >= ${monthStart}::timestamp`;
    } else if (budget.scope === "api_key" && budget.apiKeyId) {
      key = `api_key:${budget.apiKeyId}`;
      predicate = sql`"apiKeyId" = ${budget.apiKeyId}::uuid AND "userId" = ${userId}::uuid AND "createdAt" >= ${monthStart}::timestamp`;
    }
    if (!key || !predicate) {
      result.set(budget.id, 0);
      continue;
    }
    if (!predicates.has(key)) predicates.set(key, predicate);
    columnOf.set(budget.id, `s${[...predicates.keys()].indexOf(key)}`);
  }
  if (predicates.size === 0) {
    for (const budget of input.budgets) result.set(budget.id, 0);
    return result;
  }

  // A user-wide month covers every project's and key's month: reading its rows once is enough.
  const arms = [...predicates.entries()]
    .filter(
      ([key]) => !(predicates.has("user") && (key.startsWith("project:") || key.startsWith("api_key:"))),
    )
    .map(([, predicate]) => sql`(${predicate})`);
  const sums = [...predicates.values()].map(
    (predicate, index) =>
      sql`COALESCE(SUM("costMicros") FILTER (WHERE ${predicate}), 0)::bigint AS ${rawIdentifier(`s${index}`)}`,
  );
  const [row] = await db.$queryRaw<Array<Record<string, bigint>>>`
    SELECT ${join(sums, ", ")}
    FROM "AiCall"
    WHERE ${join(arms, " OR ")}`;
  for (const budget of input.budgets) {
    if (result.has(budget.id)) continue;
    const column = columnOf.get(budget.id);
    result.set(budget.id, column && row ? Number(row[column] ?? 0n) : 0);
  }
  return result;
}
