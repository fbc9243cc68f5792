import { agentTaskRouter } from "#app/modules/agent/agent-task.router.server.ts";
import { changeSetsRouter } from "#app/modules/agent/changesets.router.server.ts";
import { aiRouter } from "#app/modules/ai/ai.router.server.ts";
import { credentialsRouter } from "#app/modules/ai/credentials.router.server.ts";
import { templatesRouter } from "#app/modules/ai/templates.router.server.ts";
import { usageRouter } from "#app/modules/ai/usage.router.server.ts";
import {
  apiKeysRouter,
  auditRouter,
  authRouter,
  sessionsRouter,
} from "#app/modules/auth/auth.router.server.ts";
import { notificationsRouter } from "#app/modules/notifications/notifications.router.server.ts";
import { projectsRouter } from "#app/modules/projects/projects.router.server.ts";
import { runsRouter } from "#app/modules/runs/runs.router.server.ts";
import { systemRouter } from "#app/modules/system/system.router.server.ts";
import { workflowsRouter } from "#app/modules/workflows/workflows.router.server.ts";
import { router } from "./init.server.ts";

export const appRouter = router({
  auth: authRouter,
  sessions: sessionsRouter,
  apiKeys: apiKeysRouter,
  audit: auditRouter,
  system: systemRouter,
  projects: projectsRouter,
  ai: aiRouter,
  providers: credentialsRouter,
  prompts: templatesRouter,
  usage: usageRouter,
  workflows: workflowsRouter,
  runs: runsRouter,
  notifications: notificationsRouter,
  changesets: changeSetsRouter,
  agentTask: agentTaskRouter,
});

export type AppRouter = typeof appRouter;
