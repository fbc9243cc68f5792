/**
 * Errors the CLI reports: one line on stderr and an exit code. API errors (tRPC or REST) become CliErrors
 * with a message a person can act on.
 */
import { TRPCClientError } from "@trpc/client";

/** Exit codes (docs/cli.md): 0 ok, 1 error or failed run, 2 usage, 3 not authenticated / not allowed, 130 cancelled. */
export const EXIT = { ok: 0, error: 1, usage: 2, auth: 3, cancelled: 130 } as const;

export class CliError extends Error {
  override readonly name = "CliError";
  constructor(
    message: string,
    readonly exitCode: number = EXIT.error,
    /** The API's error code (UNAUTHORIZED, CONFLICT, …) when it came from the server. */
    readonly code?: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

export class UsageError extends CliError {
  constructor(message: string) {
    super(message, EXIT.usage, "USAGE");
  }
}

/** The CLI error for an API error of `code` (REST or tRPC) with the server's `message`. */
export function apiError(
  code: string,
  message: string,
  url: string,
  details?: Record<string, unknown>,
): CliError {
  switch (code) {
    case "UNAUTHORIZED":
      return new CliError(
        `Not logged in, or the API key was revoked or has expired (${message}). Run \`agentry login\` for ${url}.`,
        EXIT.auth,
        code,
      );
    case "FORBIDDEN": {
      const scope = /`([a-z]+:[a-z]+)`/.exec(message)?.[1];
      return new CliError(
        scope
          ? `Forbidden: this API key lacks the \`${scope}\` scope. Create a key with it (Settings → API keys) and run \`agentry login\` again.`
          : `Forbidden: ${message}`,
        EXIT.auth,
        code,
      );
    }
    case "TOO_MANY_REQUESTS":
      return new CliError(`Rate limited: ${message}`, EXIT.error, code, details);
    default:
      return new CliError(message, EXIT.error, code, details);
  }
}

/** Any error thrown by a command → a CliError (unexpected ones keep their message). */
export function toCliError(error: unknown, url: string): CliError {
  if (error instanceof CliError) return error;
  if (error instanceof TRPCClientError) {
    if (error.cause instanceof CliError) return error.cause;
    const data = (error.data ?? {}) as {
      code?: string;
      details?: Record<string, unknown>;
      issues?: { formErrors?: string[]; fieldErrors?: Record<string, string[] | undefined> };
    };
    if (data.code) return apiError(data.code, messageOf(error.message, data), url, data.details);
    return networkError(error.cause ?? error, url);
  }
  if (error instanceof TypeError && /fetch failed/i.test(error.message)) return networkError(error, url);
  return new CliError(error instanceof Error ? error.message : String(error));
}

function networkError(error: unknown, url: string): CliError {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const why = cause?.code ?? cause?.message ?? (error as Error).message;
  return new CliError(`Cannot reach the Agentry server at ${url} (${why}). Check --url / AGENTRY_URL.`);
}

/** A readable message: zod input errors (their message is JSON) as `field: problem`, and service issues. */
function messageOf(
  message: string,
  data: {
    details?: Record<string, unknown>;
    issues?: { formErrors?: string[]; fieldErrors?: Record<string, string[] | undefined> };
  },
): string {
  if (data.issues) {
    const parts = [
      ...(data.issues.formErrors ?? []),
      ...Object.entries(data.issues.fieldErrors ?? {}).flatMap(([field, errors]) =>
        (errors ?? []).map((e) => `${field}: ${e}`),
      ),
    ];
    if (parts.length > 0) return `Invalid input: ${parts.join("; ")}`;
  }
  const issues = data.details?.issues;
  if (Array.isArray(issues) && issues.length > 1) {
    const list = issues
      .map((issue: { path?: unknown[]; message?: string }) =>
        issue.path?.length ? `${issue.path.join(".")}: ${issue.message}` : String(issue.message),
      )
      .join("; ");
    return `${message} (${list})`;
  }
  return message;
}
