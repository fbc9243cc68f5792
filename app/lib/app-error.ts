/**
 * Errors that services throw on purpose. One mapper (below) turns their codes
 * into HTTP and tRPC statuses, so services never think about transports.
 */
export const APP_ERROR_STATUS = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  /** A spending cap (budget) would be or was exceeded. */
  PAYMENT_REQUIRED: 402,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNPROCESSABLE_CONTENT: 422,
  TOO_MANY_REQUESTS: 429,
  INTERNAL_SERVER_ERROR: 500,
  /** An upstream (AI provider) answered with an error or broke the protocol. */
  BAD_GATEWAY: 502,
  SERVICE_UNAVAILABLE: 503,
  /** An upstream (AI provider) did not answer in time. */
  GATEWAY_TIMEOUT: 504,
} as const;

export type AppErrorCode = keyof typeof APP_ERROR_STATUS;

export class AppError extends Error {
  override readonly name = "AppError";
  constructor(
    readonly code: AppErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }

  get status(): number {
    return APP_ERROR_STATUS[this.code];
  }
}

/**
 * Structural, not just `instanceof`: the Remix server bundle and the process bundle each carry their own
 * copy of this class, and an error thrown by one is checked by the other.
 */
export function isAppError(error: unknown): error is AppError {
  if (error instanceof AppError) return true;
  return (
    error instanceof Error &&
    error.name === "AppError" &&
    typeof (error as unknown as { code?: unknown }).code === "string" &&
    (error as unknown as { code: string }).code in APP_ERROR_STATUS
  );
}
