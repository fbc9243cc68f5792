/**
 * The contract every provider adapter implements: one streaming call and a model list, over the official SDK
 * of its protocol. Adapters translate; they never retry (retry.server.ts does, above them), never record
 * usage (the proxy does) and never log secrets.
 */
import type { ChatRequest, ProviderKind, StreamEvent } from "../ai.types.ts";

/** Where and how to reach a provider. The secret stays in this object: never log it, never put it in an error. */
export type ProviderConnection = {
  provider: ProviderKind;
  /**
   * Base URL as the user or operator gave it. OpenAI/compat: ending in /v1 (`http://127.0.0.1:11434/v1`);
   * Anthropic: without /v1 (`https://api.anthropic.com`). Undefined = the SDK's default.
   */
  baseUrl?: string;
  /** May be "" for keyless local servers (Ollama). */
  apiKey: string;
  /** Extra headers for every request (tests use them to pick a mock scenario). */
  headers?: Record<string, string>;
};

export type ProviderCallOptions = {
  /** Aborting it must abort the upstream HTTP request (the server sees the connection close). */
  signal: AbortSignal;
};

/** A request as the adapter gets it: `model` is the provider's own model name (`gpt-4.1-mini`), not our id. */
export type ProviderRequest = Omit<ChatRequest, "model"> & { model: string };

export interface ProviderAdapter {
  readonly kind: ProviderKind;
  /**
   * Stream one answer. Yields text and tool-call deltas as they arrive and ends with exactly one `finish`
   * event carrying the usage, the whole text and the complete tool calls. Throws ProviderError on any
   * failure, including a stream that ends without its terminal message or carries malformed data.
   */
  stream(
    connection: ProviderConnection,
    request: ProviderRequest,
    options: ProviderCallOptions,
  ): AsyncIterable<StreamEvent>;
  /** Model names the endpoint lists (for "test connection" and pickers). Throws ProviderError. */
  listModels(connection: ProviderConnection, options: ProviderCallOptions): Promise<string[]>;
}

export type ProviderErrorKind =
  /** 429 */
  | "rate_limited"
  /** 5xx, 529 (overloaded) */
  | "server"
  /** connection refused/reset/dropped mid-stream */
  | "network"
  /** no answer or no chunk in time */
  | "timeout"
  /** 401/403 */
  | "auth"
  /** 400/404/422: the request or model is wrong; retrying will not help */
  | "bad_request"
  /** the answer broke the protocol (malformed chunk, stream ended without its terminal event) */
  | "protocol"
  /** the caller aborted */
  | "aborted";

/** A failed provider call, in words safe to show to the user and to log (never the key). */
export class ProviderError extends Error {
  override readonly name = "ProviderError";
  constructor(
    readonly kind: ProviderErrorKind,
    message: string,
    readonly options: { status?: number; retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
  }
  get status(): number | undefined {
    return this.options.status;
  }
  /** From Retry-After / retry-after-ms, when the provider sent one. */
  get retryAfterMs(): number | undefined {
    return this.options.retryAfterMs;
  }
  /** Worth retrying (before any output reached the caller): 429, 5xx, network, timeout, protocol. */
  get retryable(): boolean {
    return (
      this.kind === "rate_limited" ||
      this.kind === "server" ||
      this.kind === "network" ||
      this.kind === "timeout" ||
      this.kind === "protocol"
    );
  }
}
