import * as AnthropicSdk from "@anthropic-ai/sdk";
import * as OpenAiSdk from "openai";
import { describe, expect, it } from "vitest";
import { providerLabel, redactSecrets, retryAfterMsFrom, toProviderError } from "./errors.server.ts";
import { ProviderError } from "./types.server.ts";

const headers = (entries: Record<string, string>) => new Headers(entries);
const context = { provider: "openai" as const, apiKey: "sk-live-abcdef123456" };

describe("retryAfterMsFrom", () => {
  it("prefers retry-after-ms, then retry-after in seconds or as an HTTP date", () => {
    expect(retryAfterMsFrom(headers({ "retry-after-ms": "250.4", "retry-after": "9" }))).toBe(251);
    expect(retryAfterMsFrom(headers({ "retry-after": "1.5" }))).toBe(1500);
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(retryAfterMsFrom(headers({ "retry-after": "Thu, 01 Jan 2026 00:00:30 GMT" }), now)).toBe(30_000);
    expect(retryAfterMsFrom(headers({ "retry-after": "Wed, 31 Dec 2025 23:00:00 GMT" }), now)).toBe(0);
    expect(retryAfterMsFrom(headers({ "retry-after": "soon" }))).toBeUndefined();
    expect(retryAfterMsFrom(headers({}))).toBeUndefined();
    expect(retryAfterMsFrom(undefined)).toBeUndefined();
  });
});

describe("redactSecrets", () => {
  it("removes the key and key-looking tokens, and caps the length", () => {
    expect(redactSecrets("bad key my-secret-key here", "my-secret-key")).toBe("bad key [redacted] here");
    expect(redactSecrets("Incorrect API key provided: sk-abc***************wxyz.", "other")).toBe(
      "Incorrect API key provided: [redacted].",
    );
    expect(redactSecrets("x".repeat(600), "").length).toBe(501);
  });
});

describe("toProviderError", () => {
  it("maps SDK errors by class and status", () => {
    const cases: Array<[unknown, string, number | undefined]> = [
      [new OpenAiSdk.APIConnectionTimeoutError(), "timeout", undefined],
      [new AnthropicSdk.APIConnectionError({ message: "refused" }), "network", undefined],
      [new OpenAiSdk.APIUserAbortError(), "aborted", undefined],
      [
        OpenAiSdk.APIError.generate(403, { error: { message: "forbidden" } }, undefined, headers({})),
        "auth",
        403,
      ],
      [
        OpenAiSdk.APIError.generate(404, { error: { message: "no model" } }, undefined, headers({})),
        "bad_request",
        404,
      ],
      [
        OpenAiSdk.APIError.generate(422, { error: { message: "bad" } }, undefined, headers({})),
        "bad_request",
        422,
      ],
      [
        AnthropicSdk.APIError.generate(
          529,
          { error: { type: "overloaded_error", message: "busy" } },
          undefined,
          headers({}),
        ),
        "server",
        529,
      ],
      [new SyntaxError("Unexpected end of JSON input"), "protocol", undefined],
    ];
    for (const [error, kind, status] of cases) {
      const mapped = toProviderError(error, context);
      expect(mapped.kind, String(error)).toBe(kind);
      expect(mapped.status).toBe(status);
      expect(mapped.message.startsWith("OpenAI: ")).toBe(true);
    }
  });

  it("maps error events inside a stream by their type", () => {
    const inStream = new AnthropicSdk.APIError(
      undefined,
      { type: "error", error: { type: "rate_limit_error", message: "slow down" } },
      undefined,
      undefined,
    );
    const mapped = toProviderError(inStream, { ...context, provider: "anthropic" });
    expect(mapped.kind).toBe("rate_limited");
    expect(mapped.message).toBe("Anthropic: error in the stream: slow down");
  });

  it("reads Retry-After from a 429 and keeps the key out of the message", () => {
    const error = OpenAiSdk.APIError.generate(
      429,
      { error: { message: `Rate limit for key ${context.apiKey}` } },
      undefined,
      headers({ "retry-after": "2" }),
    );
    const mapped = toProviderError(error, context);
    expect(mapped).toBeInstanceOf(ProviderError);
    expect(mapped.kind).toBe("rate_limited");
    expect(mapped.retryAfterMs).toBe(2000);
    expect(mapped.message).toBe("OpenAI: HTTP 429: Rate limit for key [redacted]");
  });

  it("says aborted whenever the caller's signal is aborted", () => {
    const controller = new AbortController();
    controller.abort();
    expect(toProviderError(new Error("whatever"), { ...context, signal: controller.signal }).kind).toBe(
      "aborted",
    );
  });

  it("names compat endpoints by host only", () => {
    expect(providerLabel("compat", "http://user:pw@127.0.0.1:11434/v1")).toBe(
      "OpenAI-compatible endpoint (127.0.0.1:11434)",
    );
  });
});
