import { systemRouter } from "#app/modules/system/system.router.server.ts";
import { router } from "./init.server.ts";

export const appRouter = router({
  system: systemRouter,
});

export type AppRouter = typeof appRouter;
