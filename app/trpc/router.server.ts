import {
  apiKeysRouter,
  auditRouter,
  authRouter,
  sessionsRouter,
} from "#app/modules/auth/auth.router.server.ts";
import { projectsRouter } from "#app/modules/projects/projects.router.server.ts";
import { systemRouter } from "#app/modules/system/system.router.server.ts";
import { router } from "./init.server.ts";

export const appRouter = router({
  auth: authRouter,
  sessions: sessionsRouter,
  apiKeys: apiKeysRouter,
  audit: auditRouter,
  system: systemRouter,
  projects: projectsRouter,
});

export type AppRouter = typeof appRouter;
