/**
 * The AI module over tRPC and REST: the model list for pickers. Credentials, prompts and usage have routers
 * of their own (mounted beside this one); the quick task streams over SSE (quick-task.http.server.ts).
 */
import { z } from "zod";
import { router, userProcedure } from "#app/trpc/init.server.ts";
import { ZModelOption } from "./ai.types.ts";

export const aiRouter = router({
  models: userProcedure
    .meta({
      openapi: {
        method: "GET",
        path: "/models",
        tags: ["ai"],
        summary: "Models of the catalog, with prices and whether you have credentials for each",
      },
    })
    .input(z.object({}).optional())
    .output(z.object({ items: z.array(ZModelOption) }))
    .query(async ({ ctx }) => ({ items: await ctx.ai.service.listModels(ctx.auth.userId) })),
});
