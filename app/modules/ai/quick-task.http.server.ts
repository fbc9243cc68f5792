/**
 *   POST /api/v1/projects/:id/quick-task   {prompt, files[], model, temperature?}        runs:write
 *
 * Streams the answer as Server-Sent Events: `start`, `text` (deltas as they arrive), then `done` (usage,
 * cost, timings) or `error`. Failures before the first event (bad input, no credentials, a budget that is
 * already spent, a provider that refuses) answer with the API's JSON error and its status instead, so
 * clients see a plain 4xx/5xx. Closing the connection cancels the call, upstream included.
 */
import express, { type Response } from "express";
import type { Db } from "#app/db/client.server.ts";
import { type AppError, isAppError } from "#app/lib/app-error.ts";
import type { Logger } from "#app/lib/logger.server.ts";
import type { AuthRuntime } from "#app/modules/auth/runtime.server.ts";
import { jsonError } from "#app/server/api-errors.server.ts";
import { principalOf, requireApiScope } from "#app/server/guards.server.ts";
import type { QuickTaskEvent } from "./ai.types.ts";
import { prepareQuickTask } from "./quick-task.server.ts";
import type { AiRuntime } from "./runtime.server.ts";
import { toAppError } from "./service.server.ts";

const HEARTBEAT_MS = 15_000;

export function quickTaskRoutes({
  db,
  logger,
  ai,
  runtime,
}: {
  db: Db;
  logger: Logger;
  ai: AiRuntime;
  runtime?: Pick<AuthRuntime, "rateLimits">;
}): express.Router {
  const routes = express.Router();
  routes.post(
    "/api/v1/projects/:id/quick-task",
    requireApiScope({ scope: "runs:write", runtime, idParam: { name: "id", notFound: "Project not found" } }),
    express.json({ limit: "64kb" }),
    async (req, res, next) => {
      const auth = principalOf(res);
      const controller = new AbortController();
      let finished = false;
      // The client went away (stop button, closed tab): cancel the call.
      res.on("close", () => {
        if (!finished) controller.abort();
      });
      let streaming = false;
      let heartbeat: NodeJS.Timeout | undefined;
      const send = (message: QuickTaskEvent) => {
        res.write(`event: ${message.event}\ndata: ${JSON.stringify(message.data)}\n\n`);
      };
      try {
        const { request, templateVersionId } = await prepareQuickTask(
          { userId: auth.userId, projectId: String(req.params.id), input: req.body ?? {} },
          { db },
        );
        const entry = ai.catalog.get(request.model);
        const stream = ai.service.stream(request, {
          userId: auth.userId,
          projectId: String(req.params.id),
          apiKeyId: auth.apiKeyId,
          templateVersionId,
          signal: controller.signal,
        });
        for await (const event of stream) {
          if (!streaming) {
            streaming = true;
            res.writeHead(200, {
              "Content-Type": "text/event-stream; charset=utf-8",
              "Cache-Control": "no-cache, no-transform",
              "X-Accel-Buffering": "no",
              Connection: "keep-alive",
            });
            res.socket?.setNoDelay(true);
            heartbeat = setInterval(() => res.write(": ping\n\n"), HEARTBEAT_MS);
            send({
              event: "start",
              data: {
                model: request.model,
                label: entry?.label ?? request.model,
                demo: request.model.startsWith("compat:demo/"),
              },
            });
          }
          if (event.type === "text") send({ event: "text", data: { delta: event.delta } });
        }
        const result = await stream.result;
        send({
          event: "done",
          data: {
            callId: result.callId,
            finishReason: result.finishReason,
            usage: result.usage,
            costMicros: result.costMicros,
            cached: result.cached,
            ttftMs: result.ttftMs,
            latencyMs: result.latencyMs,
          },
        });
        finished = true;
        res.end();
      } catch (error) {
        finished = true;
        if (controller.signal.aborted) {
          res.end();
          return;
        }
        const appError: AppError = isAppError(error) ? error : toAppError(error, null);
        if (
          appError.status >= 500 &&
          appError.code !== "BAD_GATEWAY" &&
          appError.code !== "GATEWAY_TIMEOUT"
        ) {
          logger.error({ err: error, requestId: res.locals.requestId }, "quick task failed");
        }
        if (!streaming) {
          if (!isAppError(error) && !(error instanceof Error && error.name === "ProviderError"))
            return next(error);
          if (appError.code === "TOO_MANY_REQUESTS" && appError.details?.retryAfterSeconds) {
            res.setHeader("Retry-After", String(appError.details.retryAfterSeconds));
          }
          jsonError(res, appError.status, appError.code, appError.message, undefined, appError.details);
          return;
        }
        send({
          event: "error",
          data: { code: appError.code, message: appError.message, details: appError.details },
        });
        res.end();
      } finally {
        if (heartbeat) clearInterval(heartbeat);
      }
    },
  );
  return routes;
}

export type { Response };
