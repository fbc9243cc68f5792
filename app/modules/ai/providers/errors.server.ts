/**
 * Turning what the official SDKs throw into ProviderError, in words safe to show and log: the provider, the
 * HTTP status and the provider's own message, never the API key.
 */
import * as AnthropicSdk from "@anthropic-ai/sdk";
import * as OpenAiSdk from "openai";
import { ProviderError, type ProviderErrorKind } from "./types.server.ts";

const MAX_MESSAGE_CHARS = 500;

/** "OpenAI", "Anthropic", "OpenAI-compatible endpoint (127.0.0.1:11434)". */
export function providerLabel(kind: "openai" | "anthropic" | "compat", baseUrl?: string): string {
  if (kind === "openai") return "OpenAI";
  if (kind === "anthropic") return "Anthropic";
  let host = "";
  if (baseUrl) {
    try {
      host = new URL(baseUrl).host; // host only: a URL may carry user:password
    } catch {
      host = "";
    }
  }
  return host ? `OpenAI-compatible endpoint (${host})` : "OpenAI-compatible endpoint";
}

/** Removes the key (and anything that looks like a provider key) from a message, and caps its length. */
export function redactSecrets(message: string, apiKey: string): string {
  let out = message;
  if (apiKey.length >= 4) out = out.split(apiKey).join("[redacted]");
  // Providers echo parts of a wrong key ("Incorrect API key provided: sk-abc***xyz").
  out = out.replace(/\b(?:sk|pk|rk|key|hf|gsk|xai)[-_][A-Za-z0-9_\-*.]{5,}[A-Za-z0-9_\-*]/g, "[redacted]");
  if (out.length > MAX_MESSAGE_CHARS) out = `${out.slice(0, MAX_MESSAGE_CHARS)}…`;
  return out;
}

/** Retry-After in milliseconds from `retry-after-ms` or `retry-after` (seconds or an HTTP date). */
export function retryAfterMsFrom(
  headers: { get(name: string): string | null } | undefined | null,
  now: number = Date.now(),
): number | undefined {
  if (!headers || typeof headers.get !== "function") return undefined;
  const ms = headers.get("retry-after-ms");
  if (ms !== null && ms.trim() !== "") {
    const value = Number(ms);
    if (Number.isFinite(value) && value >= 0) return Math.ceil(value);
  }
  const after = headers.get("retry-after");
  if (after === null || after.trim() === "") return undefined;
  const seconds = Number(after);
  if (Number.isFinite(seconds)) return seconds >= 0 ? Math.ceil(seconds * 1000) : undefined;
  const date = Date.parse(after);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

function kindForStatus(status: number): ProviderErrorKind {
  if (status === 429) return "rate_limited";
  if (status === 401 || status === 403) return "auth";
  if (status === 408) return "timeout";
  if (status >= 500) return "server";
  return "bad_request";
}

/** For errors sent inside a stream (no HTTP status): the error type names the kind. */
function kindForErrorType(type: string | null | undefined): ProviderErrorKind {
  switch (type) {
    case "rate_limit_error":
    case "rate_limit_exceeded":
      return "rate_limited";
    case "authentication_error":
    case "permission_error":
      return "auth";
    case "invalid_request_error":
    case "not_found_error":
    case "request_too_large":
      return "bad_request";
    case "timeout_error":
      return "timeout";
    default:
      return "server"; // api_error, overloaded_error, server_error, unknown
  }
}

type SdkApiError = OpenAiSdk.APIError | AnthropicSdk.APIError;

function isSdkApiError(error: unknown): error is SdkApiError {
  return error instanceof OpenAiSdk.APIError || error instanceof AnthropicSdk.APIError;
}

/** The provider's own message from an SDK error body (OpenAI `{error:{message}}`, Anthropic `{error:{message}}`). */
function providerMessage(error: SdkApiError): string {
  const body = error.error as unknown;
  const fromBody = (value: unknown): string | null => {
    if (!value || typeof value !== "object") return null;
    const record = value as Record<string, unknown>;
    if (typeof record.message === "string" && record.message) return record.message;
    if (record.error && typeof record.error === "object") return fromBody(record.error);
    if (typeof record.error === "string" && record.error) return record.error;
    return null;
  };
  const found = fromBody(body);
  if (found) return found;
  if (typeof body === "string" && body) return body;
  // The SDK's message starts with the status ("429 Too many requests"); drop it, we print the status ourselves.
  return (error.message || "no message").replace(/^\d{3}\s+/, "");
}

function errorTypeOf(error: SdkApiError): string | null {
  const body = error.error as unknown;
  if (body && typeof body === "object") {
    const record = body as Record<string, unknown>;
    // Anthropic wraps it: {type: "error", error: {type: "rate_limit_error", ...}}.
    const inner = record.error as Record<string, unknown> | undefined;
    if (inner && typeof inner === "object" && typeof inner.type === "string") return inner.type;
    if (typeof record.type === "string" && record.type !== "error") return record.type;
  }
  return typeof error.type === "string" ? error.type : null;
}

function isNetworkFailure(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current && typeof current === "object"; depth++) {
    const record = current as { code?: unknown; message?: unknown; name?: unknown; cause?: unknown };
    if (typeof record.code === "string" && /^(E[A-Z_]+|UND_ERR_[A-Z_]+)$/.test(record.code)) return true;
    if (
      typeof record.message === "string" &&
      /^(terminated|fetch failed|other side closed)$/i.test(record.message)
    ) {
      return true;
    }
    current = record.cause;
  }
  return false;
}

export type ErrorContext = {
  provider: "openai" | "anthropic" | "compat";
  baseUrl?: string;
  apiKey: string;
  /** The caller's signal: when it is aborted, whatever was thrown means "aborted". */
  signal?: AbortSignal;
};

export function abortedError(label: string): ProviderError {
  return new ProviderError("aborted", `${label}: the request was cancelled`);
}

/** Any error thrown while calling a provider → ProviderError (already-ProviderErrors pass through). */
export function toProviderError(error: unknown, context: ErrorContext): ProviderError {
  if (error instanceof ProviderError) return error;
  const label = providerLabel(context.provider, context.baseUrl);
  if (context.signal?.aborted) return abortedError(label);
  const safe = (text: string) => redactSecrets(text, context.apiKey);

  if (error instanceof OpenAiSdk.APIUserAbortError || error instanceof AnthropicSdk.APIUserAbortError) {
    return new ProviderError("aborted", `${label}: the request was cancelled`, { cause: error });
  }
  if (
    error instanceof OpenAiSdk.APIConnectionTimeoutError ||
    error instanceof AnthropicSdk.APIConnectionTimeoutError
  ) {
    return new ProviderError("timeout", `${label}: the request timed out`, { cause: error });
  }
  if (error instanceof OpenAiSdk.APIConnectionError || error instanceof AnthropicSdk.APIConnectionError) {
    const cause = (error as { cause?: { message?: unknown } }).cause;
    const detail =
      cause && typeof cause.message === "string" && cause.message ? ` (${safe(cause.message)})` : "";
    return new ProviderError("network", `${label}: could not connect${detail}`, { cause: error });
  }
  if (isSdkApiError(error)) {
    const status = typeof error.status === "number" ? error.status : undefined;
    const message = safe(providerMessage(error));
    if (status === undefined) {
      // An error event inside the stream.
      const kind = kindForErrorType(errorTypeOf(error));
      return new ProviderError(kind, `${label}: error in the stream: ${message}`, { cause: error });
    }
    const kind = kindForStatus(status);
    const retryAfterMs = kind === "rate_limited" ? retryAfterMsFrom(error.headers) : undefined;
    const options: { status: number; retryAfterMs?: number; cause: unknown } = { status, cause: error };
    if (retryAfterMs !== undefined) options.retryAfterMs = retryAfterMs;
    return new ProviderError(kind, `${label}: HTTP ${status}: ${message}`, options);
  }
  if (error instanceof SyntaxError) {
    return new ProviderError("protocol", `${label}: malformed data in the stream (${safe(error.message)})`, {
      cause: error,
    });
  }
  if (error && typeof error === "object" && (error as { name?: unknown }).name === "AbortError") {
    return abortedError(label);
  }
  if (isNetworkFailure(error)) {
    const message = error instanceof Error ? error.message : String(error);
    return new ProviderError("network", `${label}: the connection failed (${safe(message)})`, {
      cause: error,
    });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new ProviderError("protocol", `${label}: unexpected failure (${safe(message)})`, { cause: error });
}
