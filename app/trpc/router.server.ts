import {
  apiKeysRouter,
  auditRouter,
  authRouter,
  sessionsRouter,
} from "#app/modules/auth/auth.router.server.ts";
import { systemRouter } from "#app/modules/system/system.router.server.ts";
import { router } from "./init.server.ts";

export const appRouter = router({
  auth: authRouter,
  sessions: sessionsRouter,
  apiKeys: apiKeysRouter,
  audit: auditRouter,
  system: systemRouter,
});

export type AppRouter = typeof appRouter;
