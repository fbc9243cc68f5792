/**
 * Usage and budgets: zod schemas shared by the /usage page, tRPC and REST. No server code here: this file
 * is bundled into the browser. Money is integer micro-dollars (see MICROS_PER_DOLLAR in ai.types.ts),
 * exposed as numbers (bigint is not JSON; micro-dollars stay exact in a double up to $9 billion).
 */
import { z } from "zod";
import { MICROS_PER_DOLLAR } from "./ai.types.ts";

// ─── Dates ───────────────────────────────────────────────────────────────────

/** Longest range a usage summary covers, in days (both ends included). */
export const MAX_USAGE_RANGE_DAYS = 366;
/** Default range when `from` is not given: the last 30 days, today included. */
export const DEFAULT_USAGE_RANGE_DAYS = 30;

const DAY_MS = 86_400_000;
const ISO_DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

/** The UTC midnight starting `day` (YYYY-MM-DD), or null when it is not a real calendar date. */
export function parseIsoDay(day: string): Date | null {
  const match = ISO_DAY.exec(day);
  if (!match) return null;
  const [year, month, date] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const value = new Date(Date.UTC(year, month - 1, date));
  // Date.UTC rolls 2025-02-30 over to March: a round trip tells real dates from rolled-over ones.
  if (value.getUTCFullYear() !== year || value.getUTCMonth() !== month - 1 || value.getUTCDate() !== date) {
    return null;
  }
  return value;
}

/** The UTC calendar day of an instant, as YYYY-MM-DD. */
export function isoDay(instant: Date): string {
  return instant.toISOString().slice(0, 10);
}

/** `day` plus `days` (negative goes back), as YYYY-MM-DD. `day` must be valid. */
export function addDays(day: string, days: number): string {
  const start = parseIsoDay(day);
  if (!start) throw new Error(`not a date: ${day}`);
  return isoDay(new Date(start.getTime() + days * DAY_MS));
}

/** Days from `from` to `to`, both included (1 when equal). */
export function daysInRange(from: string, to: string): number {
  const a = parseIsoDay(from);
  const b = parseIsoDay(to);
  if (!a || !b) throw new Error(`not a date range: ${from}..${to}`);
  return Math.round((b.getTime() - a.getTime()) / DAY_MS) + 1;
}

/** A calendar day (UTC) as `YYYY-MM-DD`. */
export const ZIsoDay = z
  .string()
  .trim()
  .refine((value) => parseIsoDay(value) !== null, "Dates must be real days written YYYY-MM-DD (2025-03-31)");

// ─── Usage summary ───────────────────────────────────────────────────────────

/**
 * `from` and `to` are UTC days, both included. Defaults: `to` = today, `from` = 29 days before `to`.
 * At most MAX_USAGE_RANGE_DAYS days; `from` after `to` is refused.
 */
export const ZUsageSummaryInput = z
  .object({
    from: ZIsoDay.optional(),
    to: ZIsoDay.optional(),
    /** Only this project's calls. */
    projectId: z.uuid({ message: "projectId must be a UUID" }).optional(),
  })
  .superRefine((value, ctx) => {
    // Zod runs this even when a day failed its own check: only compare real days.
    if (!value.from || !value.to || !parseIsoDay(value.from) || !parseIsoDay(value.to)) return;
    const days = daysInRange(value.from, value.to);
    if (days < 1) ctx.addIssue({ code: "custom", path: ["from"], message: "`from` must not be after `to`" });
    if (days > MAX_USAGE_RANGE_DAYS) {
      ctx.addIssue({
        code: "custom",
        path: ["from"],
        message: `A usage range covers at most ${MAX_USAGE_RANGE_DAYS} days`,
      });
    }
  });
export type TUsageSummaryInput = z.input<typeof ZUsageSummaryInput>;

const int = () => z.number().int();

export const ZUsageTotals = z.object({
  calls: int(),
  tokensIn: int(),
  tokensOut: int(),
  costMicros: int(),
  /** Calls answered from the exact cache (cost nothing). */
  cachedCalls: int(),
  /** Calls that failed or were aborted (AiCall.error set). */
  errors: int(),
});
export type UsageTotals = z.infer<typeof ZUsageTotals>;

export const ZUsageDay = z.object({
  /** UTC day, YYYY-MM-DD. */
  day: z.string(),
  costMicros: int(),
  calls: int(),
  tokensIn: int(),
  tokensOut: int(),
});
export type UsageDay = z.infer<typeof ZUsageDay>;

export const ZUsageByModel = z.object({
  /** `provider:model` as recorded (`openai:gpt-4.1-mini`). */
  model: z.string(),
  calls: int(),
  tokensIn: int(),
  tokensOut: int(),
  costMicros: int(),
  /** Mean latency of the calls that recorded one; null when none did. */
  avgLatencyMs: z.number().nullable(),
  /** Median time to first token; null when no call recorded one. */
  p50TtftMs: z.number().nullable(),
});
export type UsageByModel = z.infer<typeof ZUsageByModel>;

export const ZUsageByProject = z.object({
  /** null: calls made outside any project (or whose project was deleted). */
  projectId: z.string().nullable(),
  projectName: z.string().nullable(),
  calls: int(),
  tokensIn: int(),
  tokensOut: int(),
  costMicros: int(),
});
export type UsageByProject = z.infer<typeof ZUsageByProject>;

export const ZUsageRun = z.object({
  runId: z.string(),
  projectId: z.string(),
  workflowName: z.string().nullable(),
  projectName: z.string().nullable(),
  status: z.enum(["queued", "running", "succeeded", "failed", "cancelled", "dead"]),
  /** Cost, tokens and calls of the run's AI calls inside the range. */
  costMicros: int(),
  tokens: int(),
  calls: int(),
  /** When the run started (its creation time while queued). */
  startedAt: z.date(),
});
export type UsageRun = z.infer<typeof ZUsageRun>;

export const ZUsageCall = z.object({
  id: z.string(),
  model: z.string(),
  tokensIn: int(),
  tokensOut: int(),
  costMicros: int(),
  cached: z.boolean(),
  error: z.string().nullable(),
  ttftMs: z.number().int().nullable(),
  latencyMs: z.number().int().nullable(),
  createdAt: z.date(),
  projectId: z.string().nullable(),
  projectName: z.string().nullable(),
  runId: z.string().nullable(),
  /** The prompt template version the call rendered, if any. */
  templateVersion: z.object({ templateName: z.string(), number: int() }).nullable(),
});
export type UsageCall = z.infer<typeof ZUsageCall>;

export const ZUsageSummary = z.object({
  /** The range actually covered (defaults applied), UTC days, both included. */
  from: z.string(),
  to: z.string(),
  totals: ZUsageTotals,
  /** Every day of the range, oldest first, zero-filled. */
  perDay: z.array(ZUsageDay),
  /** Most expensive first. */
  byModel: z.array(ZUsageByModel),
  /** Top 10 by cost. */
  byProject: z.array(ZUsageByProject),
  /** Top 10 runs by their cost inside the range. */
  topRuns: z.array(ZUsageRun),
  /** The 50 newest calls of the range, newest first. */
  recentCalls: z.array(ZUsageCall),
});
export type UsageSummary = z.infer<typeof ZUsageSummary>;

// ─── Budgets ─────────────────────────────────────────────────────────────────

export const BUDGET_SCOPES = ["user", "project", "api_key"] as const;
export type BudgetScope = (typeof BUDGET_SCOPES)[number];
export const BUDGET_PERIODS = ["monthly", "per_run"] as const;
export type BudgetPeriod = (typeof BUDGET_PERIODS)[number];

/** Largest budget accepted, in US dollars. */
export const MAX_BUDGET_USD = 1_000_000;

export const ZBudgetId = z.uuid({ message: "id must be a UUID" });

/**
 * Create or replace the budget for (scope, target, period): there is at most one per combination.
 * `scope` user = all of your usage (no target); project needs `projectId`; api_key needs `apiKeyId`.
 * `limitUsd` is in dollars (more than 0, at most MAX_BUDGET_USD), stored to the micro-dollar.
 */
export const ZSetBudgetInput = z
  .object({
    scope: z.enum(BUDGET_SCOPES, { message: "Scope must be user, project or api_key" }),
    period: z.enum(BUDGET_PERIODS, { message: "Period must be monthly or per_run" }).default("monthly"),
    projectId: z.uuid({ message: "projectId must be a UUID" }).optional(),
    apiKeyId: z.uuid({ message: "apiKeyId must be a UUID" }).optional(),
    limitUsd: z
      .number({ message: "Enter an amount in US dollars" })
      .refine(Number.isFinite, "Enter an amount in US dollars")
      .refine((usd) => Math.round(usd * MICROS_PER_DOLLAR) > 0, "The amount must be more than $0")
      .refine(
        (usd) => usd <= MAX_BUDGET_USD,
        `The amount must be at most $${MAX_BUDGET_USD.toLocaleString("en-US")}`,
      ),
  })
  .superRefine((value, ctx) => {
    if (value.scope === "user" && (value.projectId || value.apiKeyId)) {
      ctx.addIssue({
        code: "custom",
        path: ["scope"],
        message: "A budget on all your usage takes no projectId or apiKeyId",
      });
    }
    if (value.scope === "project") {
      if (!value.projectId) {
        ctx.addIssue({ code: "custom", path: ["projectId"], message: "Choose the project this budget caps" });
      }
      if (value.apiKeyId) {
        ctx.addIssue({ code: "custom", path: ["apiKeyId"], message: "A project budget takes no apiKeyId" });
      }
    }
    if (value.scope === "api_key") {
      if (!value.apiKeyId) {
        ctx.addIssue({ code: "custom", path: ["apiKeyId"], message: "Choose the API key this budget caps" });
      }
      if (value.projectId) {
        ctx.addIssue({
          code: "custom",
          path: ["projectId"],
          message: "An API key budget takes no projectId",
        });
      }
    }
  });
export type TSetBudgetInput = z.input<typeof ZSetBudgetInput>;

export const ZBudgetView = z.object({
  id: z.string(),
  scope: z.enum(BUDGET_SCOPES),
  period: z.enum(BUDGET_PERIODS),
  projectId: z.string().nullable(),
  apiKeyId: z.string().nullable(),
  /** "All usage", the project's name, or the key's name and prefix ("CI (agt_AbC12xYz…)"). */
  targetName: z.string(),
  limitMicros: int(),
  /** Monthly: spent this UTC calendar month. Per run: null (the cap applies to each run). */
  spentMicros: int().nullable(),
  /** Monthly: what is left this month (never below 0). Per run: null. */
  remainingMicros: int().nullable(),
  createdAt: z.date(),
  updatedAt: z.date(),
});
export type BudgetView = z.infer<typeof ZBudgetView>;

/** What a budget can target, for the add/edit form. */
export const ZBudgetTargets = z.object({
  projects: z.array(z.object({ id: z.string(), name: z.string() })),
  /** Active keys (neither revoked nor expired). */
  apiKeys: z.array(z.object({ id: z.string(), name: z.string(), prefix: z.string() })),
});
export type BudgetTargets = z.infer<typeof ZBudgetTargets>;

/** How full a monthly budget is: "ok" below 80 %, "warning" from 80 %, "exceeded" at 100 %. */
export function budgetLevel(spentMicros: number, limitMicros: number): "ok" | "warning" | "exceeded" {
  if (limitMicros <= 0 || spentMicros >= limitMicros) return "exceeded";
  return spentMicros >= limitMicros * 0.8 ? "warning" : "ok";
}
