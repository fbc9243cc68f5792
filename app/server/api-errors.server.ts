import type { NextFunction, Request, Response } from "express";

/**
 * One JSON error shape for the whole REST API: `{ error: { code, message, issues? } }`, where `code` is a
 * stable string (BAD_REQUEST, UNAUTHORIZED, FORBIDDEN, NOT_FOUND, CONFLICT, TOO_MANY_REQUESTS, ...).
 */
export type ApiErrorBody = {
  error: {
    code: string;
    message: string;
    issues?: Array<{ path: Array<string | number>; message: string }>;
    /** Facts for the caller to act on, e.g. a conflict's `currentVersion`. */
    details?: Record<string, unknown>;
  };
};

export function jsonError(
  res: Response,
  status: number,
  code: string,
  message: string,
  issues?: ApiErrorBody["error"]["issues"],
  details?: ApiErrorBody["error"]["details"],
) {
  const body: ApiErrorBody = {
    error: { code, message, ...(issues ? { issues } : {}), ...(details ? { details } : {}) },
  };
  res.status(status).json(body);
}

type OpenApiErrorBody = {
  data?: { details?: Record<string, unknown> };
  code?: unknown;
  message?: unknown;
  issues?: Array<{ path?: Array<string | number>; message?: string }>;
};

function reshape(raw: string, req: Request): string {
  let parsed: OpenApiErrorBody;
  try {
    parsed = JSON.parse(raw) as OpenApiErrorBody;
  } catch {
    return raw;
  }
  if (!parsed || typeof parsed !== "object" || "error" in parsed || typeof parsed.code !== "string")
    return raw;
  const issues = Array.isArray(parsed.issues)
    ? parsed.issues.map((issue) => ({
        path: issue.path ?? [],
        message: String(issue.message ?? "Invalid value"),
      }))
    : undefined;
  // The adapter's own 404 for a path no procedure serves says only "Not found"; say which.
  const message =
    parsed.code === "NOT_FOUND" && parsed.message === "Not found"
      ? `No API route for ${req.method} ${req.originalUrl.split("?")[0]}`
      : String(parsed.message ?? "Request failed");
  const body: ApiErrorBody = {
    error: {
      code: parsed.code,
      message,
      ...(issues && issues.length > 0 ? { issues } : {}),
      ...(parsed.data?.details ? { details: parsed.data.details } : {}),
    },
  };
  return JSON.stringify(body);
}

/**
 * trpc-to-openapi writes its own error body ({ message, code, issues, data }); rewrite it into ours on the
 * way out, so every REST error has the same shape and no internal detail (tRPC's `data`) leaks.
 */
export function restErrorShape(req: Request, res: Response, next: NextFunction) {
  const end = res.end.bind(res) as (...args: unknown[]) => Response;
  (res as unknown as { end: (...args: unknown[]) => Response }).end = (...args: unknown[]) => {
    const [chunk] = args;
    const isJson = String(res.getHeader("content-type") ?? "").includes("application/json");
    if (res.statusCode >= 400 && isJson && (typeof chunk === "string" || Buffer.isBuffer(chunk))) {
      const rewritten = reshape(Buffer.isBuffer(chunk) ? chunk.toString("utf8") : chunk, req);
      res.removeHeader("content-length");
      return end(rewritten, ...args.slice(1).filter((a) => typeof a === "function"));
    }
    return end(...args);
  };
  next();
}
