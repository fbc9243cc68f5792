/**
 * One contract, three providers: the OpenAI, Anthropic and OpenAI-compatible adapters behave the same against
 * the mock LLM (which speaks both wire protocols), and so does the retry layer above them.
 */

import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type MockLlm, type RecordedRequest, startMockLlm } from "#tests/mocks/llm/server.ts";
import type { ChatMessage, ProviderKind, StreamEvent, ToolCall, ToolDefinition } from "../ai.types.ts";
import { adapterFor } from "./index.server.ts";
import { type RetryInfo, type RetryPolicy, streamWithRetries } from "./retry.server.ts";
import { collect, failure } from "./stream-testing.ts";
import {
  type ProviderAdapter,
  type ProviderConnection,
  ProviderError,
  type ProviderRequest,
} from "./types.server.ts";

const RIGHT_KEY = "mock-right-key-0000";
const WRONG_KEY = "sk-wrong-key-123456789abcdef";

let mock: MockLlm;
let keyedMock: MockLlm;

beforeAll(async () => {
  [mock, keyedMock] = await Promise.all([startMockLlm(), startMockLlm({ apiKey: RIGHT_KEY })]);
});
afterAll(async () => {
  await Promise.all([mock?.close(), keyedMock?.close()]);
});
beforeEach(() => {
  mock.reset();
  keyedMock.reset();
});

type Case = { kind: ProviderKind; protocol: "openai" | "anthropic"; apiKey: string };

const CASES: Case[] = [
  { kind: "openai", protocol: "openai", apiKey: "mock-openai-key" },
  { kind: "anthropic", protocol: "anthropic", apiKey: "mock-anthropic-key" },
  // Keyless, like a local Ollama.
  { kind: "compat", protocol: "openai", apiKey: "" },
];

function baseUrlFor(server: MockLlm, protocol: Case["protocol"]): string {
  return protocol === "openai" ? `${server.url}/v1` : server.url;
}

function events(
  adapter: ProviderAdapter,
  connection: ProviderConnection,
  request: ProviderRequest,
  signal?: AbortSignal,
) {
  return adapter.stream(connection, request, { signal: signal ?? new AbortController().signal });
}

function finishOf(list: StreamEvent[]): Extract<StreamEvent, { type: "finish" }> {
  const finishes = list.filter((e): e is Extract<StreamEvent, { type: "finish" }> => e.type === "finish");
  expect(finishes).toHaveLength(1);
  expect(list.at(-1)).toBe(finishes[0]);
  return finishes[0]!;
}

function textDeltas(list: StreamEvent[]): string[] {
  return list.flatMap((e) => (e.type === "text" ? [e.delta] : []));
}

function body(request: RecordedRequest | undefined): Record<string, unknown> {
  expect(request).toBeDefined();
  return request!.body as Record<string, unknown>;
}

const READ_FILE: ToolDefinition = {
  name: "read_file",
  description: "Read a file of the project",
  parameters: {
    type: "object",
    properties: { path: { type: "string" }, limit: { type: "integer" } },
    required: ["path", "limit"],
  },
};

describe.each(CASES)("provider contract: $kind", ({ kind, protocol, apiKey }) => {
  const adapter = adapterFor(kind);
  const connection = (headers?: Record<string, string>): ProviderConnection => ({
    provider: kind,
    baseUrl: baseUrlFor(mock, protocol),
    apiKey,
    ...(headers ? { headers } : {}),
  });

  it("is the adapter of its kind", () => {
    expect(adapter.kind).toBe(kind);
  });

  it("streams text deltas incrementally; they concatenate to the final text", async () => {
    const request: ProviderRequest = {
      model: "slow",
      messages: [{ role: "user", content: "count" }],
    };
    const seen: StreamEvent[] = [];
    let responseOpenAtFirstDelta: boolean | null = null;
    const headers = { "x-mock-chunks": "5", "x-mock-chunk-delay-ms": "25" };
    for await (const event of events(adapter, connection(headers), request)) {
      if (event.type === "text" && responseOpenAtFirstDelta === null) {
        // The first delta reaches us while the mock is still writing the answer: no buffering.
        responseOpenAtFirstDelta = mock.requests[0]?.endedAt === null;
      }
      seen.push(event);
    }
    expect(responseOpenAtFirstDelta).toBe(true);
    expect(textDeltas(seen)).toEqual(["tok0 ", "tok1 ", "tok2 ", "tok3 ", "tok4 "]);
    const finish = finishOf(seen);
    expect(finish.text).toBe("tok0 tok1 tok2 tok3 tok4 ");
    expect(finish.reason).toBe("stop");
    expect(finish.toolCalls).toEqual([]);
    expect(mock.requests).toHaveLength(1);
    expect(mock.requests[0]).toMatchObject({ protocol, stream: true, model: "slow", clientClosed: false });
    const headers0 = mock.requests[0]!.headers;
    // The key travels as the protocol wants it; a keyless compat server gets a placeholder.
    if (kind === "anthropic")
      expect(headers0["x-api-key"] ?? headers0.authorization).toMatch(/mock-anthropic-key$/);
    else expect(headers0.authorization).toBe(`Bearer ${apiKey || "none"}`);
  });

  it("reports the mock's deterministic token counts in finish", async () => {
    const system = "You are terse.";
    const user = "hello there friend";
    const list = await collect(
      events(adapter, connection(), {
        model: "echo",
        messages: [
          { role: "system", content: system },
          { role: "user", content: user },
        ],
      }),
    );
    const finish = finishOf(list);
    expect(finish.text).toBe("Echo: hello there friend");
    expect(textDeltas(list)).toEqual(["Echo: ", "hello ", "there ", "friend"]);
    // input = ceil(characters of system + messages / 4); output = one token per chunk.
    expect(finish.usage).toEqual({ tokensIn: Math.ceil((system.length + user.length) / 4), tokensOut: 4 });
    if (kind === "anthropic") {
      // Anthropic reports input tokens up front (message_start).
      expect(list[0]).toEqual({ type: "usage", usage: { tokensIn: finish.usage.tokensIn, tokensOut: 1 } });
    }

    // A scripted reply with explicit usage.
    mock.script(`usage-${kind}`, [{ reply: "two words", usage: { input: 1234, output: 56 } }]);
    const scripted = finishOf(
      await collect(
        events(adapter, connection(), {
          model: `script:usage-${kind}`,
          messages: [{ role: "user", content: "x" }],
        }),
      ),
    );
    expect(scripted.usage).toEqual({ tokensIn: 1234, tokensOut: 56 });
    expect(scripted.text).toBe("two words");
  });

  it("streams a tool call in argument deltas, then maps the call and its result back onto the wire", async () => {
    const messages: ChatMessage[] = [
      { role: "system", content: "Use tools." },
      { role: "user", content: "Read the README" },
    ];
    const first = await collect(
      events(adapter, connection(), { model: "tools", messages, tools: [READ_FILE] }),
    );
    const finish = finishOf(first);
    expect(finish.reason).toBe("tool_calls");
    expect(finish.toolCalls).toHaveLength(1);
    const call = finish.toolCalls[0]!;
    expect(call.name).toBe("read_file");
    expect(call.id).toMatch(/\S/);
    expect(JSON.parse(call.arguments)).toEqual({ path: "test", limit: 1 });

    const starts = first.filter((e) => e.type === "tool_call_start");
    expect(starts).toEqual([{ type: "tool_call_start", index: 0, id: call.id, name: "read_file" }]);
    const deltas = first.flatMap((e) => (e.type === "tool_call_delta" ? [e] : []));
    expect(deltas.length).toBeGreaterThanOrEqual(2);
    expect(deltas.every((d) => d.index === 0)).toBe(true);
    expect(deltas.map((d) => d.argumentsDelta).join("")).toBe(call.arguments);
    // Start comes before its deltas, finish last.
    expect(first.findIndex((e) => e.type === "tool_call_start")).toBeLessThan(
      first.findIndex((e) => e.type === "tool_call_delta"),
    );

    // Second turn: the assistant's call and the tool's result go back to the provider.
    const followUp: ChatMessage[] = [
      ...messages,
      { role: "assistant", content: "", toolCalls: [call] },
      { role: "tool", toolCallId: call.id, content: "# Agentry" },
    ];
    const second = await collect(
      events(adapter, connection(), { model: "tools", messages: followUp, tools: [READ_FILE] }),
    );
    const final = finishOf(second);
    expect(final.text).toBe("Tool result: # Agentry");
    expect(final.reason).toBe("stop");
    expect(final.toolCalls).toEqual([]);

    expect(mock.requests).toHaveLength(2);
    const wire = body(mock.requests[1]);
    if (protocol === "openai") {
      expect(wire.tools).toEqual([
        {
          type: "function",
          function: {
            name: READ_FILE.name,
            description: READ_FILE.description,
            parameters: READ_FILE.parameters,
          },
        },
      ]);
      expect(wire.messages).toEqual([
        { role: "system", content: "Use tools." },
        { role: "user", content: "Read the README" },
        {
          role: "assistant",
          content: null,
          tool_calls: [
            { id: call.id, type: "function", function: { name: "read_file", arguments: call.arguments } },
          ],
        },
        { role: "tool", tool_call_id: call.id, content: "# Agentry" },
      ]);
    } else {
      expect(wire.tools).toEqual([
        { name: READ_FILE.name, description: READ_FILE.description, input_schema: READ_FILE.parameters },
      ]);
      expect(wire.system).toBe("Use tools.");
      expect(wire.messages).toEqual([
        { role: "user", content: "Read the README" },
        {
          role: "assistant",
          content: [{ type: "tool_use", id: call.id, name: "read_file", input: { path: "test", limit: 1 } }],
        },
        { role: "user", content: [{ type: "tool_result", tool_use_id: call.id, content: "# Agentry" }] },
      ]);
    }
  });

  it("handles several tool calls with text, their results together, and arguments that are not JSON", async () => {
    const id = `multi-${kind}`;
    mock.script(id, [
      {
        text: "Reading both.",
        toolCalls: [
          { name: "read_file", arguments: { path: "a.ts", limit: 10 } },
          { name: "read_file", arguments: { path: "b.ts", limit: 20 } },
        ],
      },
      { reply: "Both files are short." },
    ]);
    const messages: ChatMessage[] = [{ role: "user", content: "Compare a.ts and b.ts" }];
    const first = await collect(
      events(adapter, connection(), { model: `script:${id}`, messages, tools: [READ_FILE] }),
    );
    const finish = finishOf(first);
    expect(finish.text).toBe("Reading both.");
    expect(finish.reason).toBe("tool_calls");
    expect(finish.toolCalls.map((c) => [c.name, JSON.parse(c.arguments)])).toEqual([
      ["read_file", { path: "a.ts", limit: 10 }],
      ["read_file", { path: "b.ts", limit: 20 }],
    ]);
    expect(new Set(finish.toolCalls.map((c) => c.id)).size).toBe(2);
    for (const index of [0, 1]) {
      const joined = first
        .flatMap((e) => (e.type === "tool_call_delta" && e.index === index ? [e.argumentsDelta] : []))
        .join("");
      expect(joined).toBe(finish.toolCalls[index]!.arguments);
    }

    const [a, b] = finish.toolCalls as [ToolCall, ToolCall];
    const broken: ToolCall = { id: "call_broken", name: "read_file", arguments: '{"path": "c.ts", ' };
    const followUp: ChatMessage[] = [
      ...messages,
      { role: "assistant", content: "Reading both.", toolCalls: [a, b] },
      { role: "tool", toolCallId: a.id, content: "export const a = 1;" },
      { role: "tool", toolCallId: b.id, content: "ENOENT", isError: true },
      { role: "assistant", content: "", toolCalls: [broken] },
      { role: "tool", toolCallId: broken.id, content: "bad arguments" },
    ];
    const final = finishOf(
      await collect(
        events(adapter, connection(), { model: `script:${id}`, messages: followUp, tools: [READ_FILE] }),
      ),
    );
    expect(final.text).toBe("Both files are short.");

    const wire = body(mock.requests[1]);
    if (protocol === "openai") {
      expect(wire.messages).toEqual([
        { role: "user", content: "Compare a.ts and b.ts" },
        {
          role: "assistant",
          content: "Reading both.",
          tool_calls: [a, b].map((c) => ({
            id: c.id,
            type: "function",
            function: { name: c.name, arguments: c.arguments },
          })),
        },
        { role: "tool", tool_call_id: a.id, content: "export const a = 1;" },
        { role: "tool", tool_call_id: b.id, content: "ENOENT" },
        {
          role: "assistant",
          content: null,
          tool_calls: [
            {
              id: "call_broken",
              type: "function",
              function: { name: "read_file", arguments: broken.arguments },
            },
          ],
        },
        { role: "tool", tool_call_id: "call_broken", content: "bad arguments" },
      ]);
    } else {
      expect(wire.messages).toEqual([
        { role: "user", content: "Compare a.ts and b.ts" },
        {
          role: "assistant",
          content: [
            { type: "text", text: "Reading both." },
            { type: "tool_use", id: a.id, name: "read_file", input: { path: "a.ts", limit: 10 } },
            { type: "tool_use", id: b.id, name: "read_file", input: { path: "b.ts", limit: 20 } },
          ],
        },
        // Consecutive tool results: one user message.
        {
          role: "user",
          content: [
            { type: "tool_result", tool_use_id: a.id, content: "export const a = 1;" },
            { type: "tool_result", tool_use_id: b.id, content: "ENOENT", is_error: true },
          ],
        },
        // Invalid JSON arguments: an empty input, the conversation goes on.
        {
          role: "assistant",
          content: [{ type: "tool_use", id: "call_broken", name: "read_file", input: {} }],
        },
        {
          role: "user",
          content: [{ type: "tool_result", tool_use_id: "call_broken", content: "bad arguments" }],
        },
      ]);
    }
  });

  it("places system messages where the protocol wants them", async () => {
    await collect(
      events(adapter, connection(), {
        model: "echo",
        messages: [
          { role: "system", content: "Rule one." },
          { role: "system", content: "Rule two." },
          { role: "user", content: "hi" },
        ],
      }),
    );
    const wire = body(mock.requests[0]);
    if (protocol === "openai") {
      expect(wire.system).toBeUndefined();
      expect(wire.messages).toEqual([
        { role: "system", content: "Rule one." },
        { role: "system", content: "Rule two." },
        { role: "user", content: "hi" },
      ]);
    } else {
      expect(wire.system).toBe("Rule one.\n\nRule two.");
      expect(wire.messages).toEqual([{ role: "user", content: "hi" }]);
    }
  });

  it("puts the parameters on the wire", async () => {
    await collect(
      events(adapter, connection(), {
        model: "tools",
        messages: [{ role: "user", content: "hi" }],
        temperature: 0.2,
        topP: 0.9,
        seed: 42,
        maxTokens: 123,
        stop: ["END"],
        responseFormat: "json",
        tools: [READ_FILE],
        toolChoice: { name: "read_file" },
      }),
    );
    await collect(
      events(adapter, connection(), { model: "echo", messages: [{ role: "user", content: "hi" }] }),
    );
    const [withParams, bare] = [body(mock.requests[0]), body(mock.requests[1])];
    expect(withParams).toMatchObject({ model: "tools", stream: true, temperature: 0.2, top_p: 0.9 });
    if (protocol === "openai") {
      expect(withParams).toMatchObject({
        seed: 42,
        stop: ["END"],
        response_format: { type: "json_object" },
        stream_options: { include_usage: true },
        tool_choice: { type: "function", function: { name: "read_file" } },
      });
      // OpenAI's newer models take only max_completion_tokens; older compatible servers only max_tokens.
      if (kind === "openai") {
        expect(withParams.max_completion_tokens).toBe(123);
        expect(withParams.max_tokens).toBeUndefined();
      } else {
        expect(withParams.max_tokens).toBe(123);
        expect(withParams.max_completion_tokens).toBeUndefined();
      }
      expect(bare).not.toHaveProperty("max_tokens");
      expect(bare).not.toHaveProperty("max_completion_tokens");
    } else {
      expect(withParams).toMatchObject({
        max_tokens: 123,
        stop_sequences: ["END"],
        tool_choice: { type: "tool", name: "read_file" },
      });
      expect(withParams).not.toHaveProperty("seed");
      // max_tokens is required by Anthropic: a default when the request has none.
      expect(bare.max_tokens).toBe(4096);
    }
    expect(bare).not.toHaveProperty("temperature");
    expect(bare).not.toHaveProperty("tools");
    expect(bare).not.toHaveProperty("tool_choice");
  });

  it("maps 429 to rate_limited with the provider's Retry-After", async () => {
    const error = await failure(
      events(adapter, connection({ "x-mock-retry-after": "1.5" }), {
        model: "rate-limit",
        messages: [{ role: "user", content: "hi" }],
      }),
    );
    expect(error.kind).toBe("rate_limited");
    expect(error.status).toBe(429);
    expect(error.retryAfterMs).toBe(1500);
    expect(error.retryable).toBe(true);
    expect(error.message).toContain("HTTP 429");
  });

  it("maps 5xx and overload to server errors", async () => {
    const error = await failure(
      events(adapter, connection(), { model: "error-500", messages: [{ role: "user", content: "hi" }] }),
    );
    expect(error.kind).toBe("server");
    expect(error.status).toBe(500);
    expect(error.message).toContain("HTTP 500");
    expect(error.message).toContain("Internal server error (mock)");

    const overloaded = await failure(
      events(adapter, connection(), { model: "overloaded", messages: [{ role: "user", content: "hi" }] }),
    );
    expect(overloaded.kind).toBe("server");
    expect(overloaded.status).toBe(protocol === "anthropic" ? 529 : 503);
  });

  it("maps a wrong key to auth without revealing the key", async () => {
    const wrong: ProviderConnection = {
      provider: kind,
      baseUrl: baseUrlFor(keyedMock, protocol),
      apiKey: WRONG_KEY,
    };
    const error = await failure(
      events(adapter, wrong, { model: "echo", messages: [{ role: "user", content: "hi" }] }),
    );
    expect(error.kind).toBe("auth");
    expect(error.status).toBe(401);
    expect(error.message).toContain("HTTP 401");
    expect(error.message).not.toContain(WRONG_KEY);
    expect(error.message).not.toContain(WRONG_KEY.slice(3, 15));
    expect(keyedMock.requests).toHaveLength(1);
    expect(keyedMock.requests[0]?.status).toBe(401);

    const listError = await adapter
      .listModels(wrong, { signal: new AbortController().signal })
      .catch((e: unknown) => e);
    expect(listError).toBeInstanceOf(ProviderError);
    expect((listError as ProviderError).kind).toBe("auth");
    expect((listError as ProviderError).message).not.toContain(WRONG_KEY);

    if (kind === "anthropic") {
      // Anthropic cannot go keyless: a clear auth error, no request.
      const keyless = await failure(
        events(adapter, { ...wrong, apiKey: "" }, { model: "echo", messages: [] }),
      );
      expect(keyless.kind).toBe("auth");
      expect(keyless.message).toBe("Anthropic: no API key is configured");
      expect(keyedMock.requests).toHaveLength(2);
    }

    // And the right key works.
    const right: ProviderConnection = { ...wrong, apiKey: RIGHT_KEY };
    const ok = finishOf(
      await collect(events(adapter, right, { model: "echo", messages: [{ role: "user", content: "hi" }] })),
    );
    expect(ok.text).toBe("Echo: hi");
  });

  it("maps a dropped connection to network", async () => {
    const seen: StreamEvent[] = [];
    const error = await failure(
      events(adapter, connection(), { model: "drop", messages: [{ role: "user", content: "hi" }] }),
      seen,
    );
    expect(error.kind).toBe("network");
    expect(textDeltas(seen)).toEqual(["tok0 ", "tok1 "]);
    expect(seen.some((e) => e.type === "finish")).toBe(false);
  });

  it("maps malformed stream data to protocol", async () => {
    const seen: StreamEvent[] = [];
    const error = await failure(
      events(adapter, connection(), { model: "malformed", messages: [{ role: "user", content: "hi" }] }),
      seen,
    );
    expect(error.kind).toBe("protocol");
    expect(textDeltas(seen)).toEqual(["tok0 "]);
  });

  it("aborts mid-stream: ProviderError aborted, and the upstream connection closes", async () => {
    const controller = new AbortController();
    const seen: StreamEvent[] = [];
    const pending = failure(
      events(
        adapter,
        connection({ "x-mock-chunk-delay-ms": "50" }),
        { model: "slow", messages: [{ role: "user", content: "hi" }] },
        controller.signal,
      ),
      seen,
    );
    await expect.poll(() => textDeltas(seen).length).toBeGreaterThanOrEqual(1);
    controller.abort();
    const error = await pending;
    expect(error.kind).toBe("aborted");
    await mock.waitFor((requests) => requests[0]?.clientClosed === true, 2000);
    expect(textDeltas(seen).length).toBeLessThan(64);
  });

  it("lists the endpoint's models", async () => {
    const models = await adapter.listModels(connection(), { signal: new AbortController().signal });
    expect(models).toEqual(["echo", "demo", "tools", "slow", "gpt-4.1-mini", "claude-sonnet-4-5"]);
    expect(mock.requests.at(-1)).toMatchObject({ method: "GET", path: "/v1/models" });
  });

  describe("through streamWithRetries", () => {
    const policy: RetryPolicy = {
      maxRetries: 2,
      baseDelayMs: 1,
      maxDelayMs: 5000,
      firstTokenTimeoutMs: 300,
      idleTimeoutMs: 150,
    };
    const noSleep = { sleep: async () => {} };

    it("retries a 429 and succeeds with two upstream requests", async () => {
      const id = `retry-${kind}`;
      mock.script(id, [{ status: 429, retryAfter: 2 }, { reply: "second time lucky" }]);
      const retries: RetryInfo[] = [];
      const list = await collect(
        streamWithRetries(
          (signal) =>
            events(
              adapter,
              connection(),
              { model: `script:${id}`, messages: [{ role: "user", content: "hi" }] },
              signal,
            ),
          policy,
          new AbortController().signal,
          { ...noSleep, random: () => 0, onRetry: (info) => retries.push(info) },
        ),
      );
      expect(finishOf(list).text).toBe("second time lucky");
      expect(mock.requests.map((r) => r.status)).toEqual([429, 200]);
      expect(retries).toHaveLength(1);
      expect(retries[0]).toMatchObject({ attempt: 1, delayMs: 2000 });
      expect(retries[0]?.error.kind).toBe("rate_limited");
    });

    it("times out a stalled stream and closes the connection", async () => {
      const seen: StreamEvent[] = [];
      const error = await failure(
        streamWithRetries(
          (signal) =>
            events(
              adapter,
              connection(),
              { model: "stall", messages: [{ role: "user", content: "hi" }] },
              signal,
            ),
          policy,
          new AbortController().signal,
          noSleep,
        ),
        seen,
      );
      expect(error.kind).toBe("timeout");
      // Output had gone out (the first chunk), so no retry.
      expect(textDeltas(seen)).toEqual(["tok0 "]);
      await mock.waitFor((requests) => requests.length === 1 && requests[0]?.clientClosed === true, 2000);
    });

    it("retries a server that never answers, closing each attempt", async () => {
      const error = await failure(
        streamWithRetries(
          (signal) =>
            events(
              adapter,
              connection(),
              { model: "stall-before", messages: [{ role: "user", content: "hi" }] },
              signal,
            ),
          { ...policy, maxRetries: 1, firstTokenTimeoutMs: 100 },
          new AbortController().signal,
          noSleep,
        ),
      );
      expect(error.kind).toBe("timeout");
      expect(error.message).toContain("gave up after 2 attempts");
      await mock.waitFor((requests) => requests.length === 2 && requests.every((r) => r.clientClosed), 2000);
    });

    it("closes the upstream request when the consumer stops early", async () => {
      const seen: StreamEvent[] = [];
      for await (const event of streamWithRetries(
        (signal) =>
          events(
            adapter,
            connection(),
            { model: "slow", messages: [{ role: "user", content: "hi" }] },
            signal,
          ),
        policy,
        new AbortController().signal,
        noSleep,
      )) {
        seen.push(event);
        if (event.type === "text") break;
      }
      expect(textDeltas(seen)).toEqual(["tok0 "]);
      await mock.waitFor((requests) => requests.length === 1 && requests[0]?.clientClosed === true, 2000);
    });

    it("does not retry a drop after output", async () => {
      const seen: StreamEvent[] = [];
      const error = await failure(
        streamWithRetries(
          (signal) =>
            events(
              adapter,
              connection(),
              { model: "drop", messages: [{ role: "user", content: "hi" }] },
              signal,
            ),
          policy,
          new AbortController().signal,
          noSleep,
        ),
        seen,
      );
      expect(error.kind).toBe("network");
      expect(textDeltas(seen)).toEqual(["tok0 ", "tok1 "]);
      expect(mock.requests).toHaveLength(1);
    });
  });
});
