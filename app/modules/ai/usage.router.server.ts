/**
 * Usage and budgets over tRPC and REST (`/api/v1/usage`, `/api/v1/budgets`). Procedures parse, delegate
 * and return; reading needs `usage:read`, changing budgets `budgets:manage`.
 */
import { z } from "zod";
import { router, scopedProcedure, type TrpcContext } from "#app/trpc/init.server.ts";
import { type BudgetsDeps, deleteBudget, listBudgets, setBudget } from "./budgets.server.ts";
import { usageSummary } from "./usage.server.ts";
import { ZBudgetId, ZBudgetView, ZSetBudgetInput, ZUsageSummary, ZUsageSummaryInput } from "./usage.types.ts";

const read = scopedProcedure("usage:read");
const manage = scopedProcedure("budgets:manage");

const deps = (ctx: TrpcContext & { auth: { apiKeyId: string | null } }): BudgetsDeps => ({
  db: ctx.db,
  ip: ctx.client.ip ?? undefined,
  userAgent: ctx.client.userAgent ?? undefined,
  actorApiKeyId: ctx.auth.apiKeyId,
});

const budgetsRouter = router({
  list: read
    .meta({
      openapi: {
        method: "GET",
        path: "/budgets",
        tags: ["budgets"],
        summary: "Your budgets, with this month's spend for monthly ones",
      },
    })
    .input(z.void())
    .output(z.object({ items: z.array(ZBudgetView) }))
    .query(async ({ ctx }) => ({ items: await listBudgets({ userId: ctx.auth.userId }, deps(ctx)) })),

  set: manage
    .meta({
      openapi: {
        method: "PUT",
        path: "/budgets",
        tags: ["budgets"],
        summary:
          "Create or replace the budget for a scope (user, project, api_key), target and period (monthly, per_run)",
      },
    })
    .input(ZSetBudgetInput)
    .output(ZBudgetView)
    .mutation(async ({ ctx, input }) => {
      const budget = await setBudget({ userId: ctx.auth.userId, ...input }, deps(ctx));
      // The AI service keeps each user's budget list in memory for a few seconds: apply this one now.
      ctx.ai.service.invalidateUser(ctx.auth.userId);
      return budget;
    }),

  delete: manage
    .meta({
      openapi: { method: "DELETE", path: "/budgets/{id}", tags: ["budgets"], summary: "Delete a budget" },
    })
    .input(z.object({ id: ZBudgetId }))
    .output(z.object({ ok: z.literal(true) }))
    .mutation(async ({ ctx, input }) => {
      const result = await deleteBudget({ userId: ctx.auth.userId, id: input.id }, deps(ctx));
      ctx.ai.service.invalidateUser(ctx.auth.userId);
      return result;
    }),
});

export const usageRouter = router({
  summary: read
    .meta({
      openapi: {
        method: "GET",
        path: "/usage",
        tags: ["usage"],
        summary:
          "AI usage and cost from `from` to `to` (UTC days YYYY-MM-DD, both included; default the last 30 days, at most 366)",
      },
    })
    .input(ZUsageSummaryInput)
    .output(ZUsageSummary)
    .query(({ ctx, input }) => usageSummary({ userId: ctx.auth.userId, ...input }, { db: ctx.db })),

  budgets: budgetsRouter,
});
