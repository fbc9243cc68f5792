/**
 * The mock LLM provider, proven with the official `@anthropic-ai/sdk` (no database needed).
 */
import Anthropic, {
  AuthenticationError,
  BadRequestError,
  OverloadedError,
  RateLimitError,
} from "@anthropic-ai/sdk";
import type { Tool } from "@anthropic-ai/sdk/resources/messages";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_MODELS, type MockLlm, startMockLlm } from "./server.ts";

let mock: MockLlm;
let client: Anthropic;

beforeAll(async () => {
  mock = await startMockLlm();
  client = new Anthropic({ baseURL: mock.url, apiKey: "mock", maxRetries: 0 });
});
afterAll(async () => {
  await mock.close();
});
beforeEach(() => {
  mock.reset();
});

const READ_FILE: Tool = {
  name: "read_file",
  description: "Read a file",
  input_schema: {
    type: "object",
    properties: { path: { type: "string" }, limit: { type: "integer" }, mode: { enum: ["text", "bytes"] } },
    required: ["path", "limit", "mode"],
  },
};

describe("messages", () => {
  it("answers messages.create with text, stop reason and usage", async () => {
    const message = await client.messages.create({
      model: "claude-mock",
      max_tokens: 1024,
      system: "Be brief.",
      messages: [{ role: "user", content: [{ type: "text", text: "hello mock world" }] }],
    });
    expect(message).toMatchObject({
      type: "message",
      role: "assistant",
      model: "claude-mock",
      content: [{ type: "text", text: "Echo: hello mock world" }],
      stop_reason: "end_turn",
      stop_sequence: null,
      // input: ceil((9 + 16) / 4) = 7; output: 4 chunks
      usage: { input_tokens: 7, output_tokens: 4 },
    });
    expect(message.id).toMatch(/^msg_/);
    expect(message._request_id).toBe("req_mock1");
    expect(mock.requests[0]).toMatchObject({
      protocol: "anthropic",
      path: "/v1/messages",
      model: "claude-mock",
      scenario: "echo",
      stream: false,
      status: 200,
    });
    // @anthropic-ai/sdk 1.x sends the key as a bearer token (older versions: x-api-key)
    expect(mock.requests[0]?.headers.authorization ?? mock.requests[0]?.headers["x-api-key"]).toMatch(
      /^(Bearer )?mock$/,
    );
    expect(mock.requests[0]?.headers["anthropic-version"]).toBeTruthy();
  });

  it("streams text that messages.stream() accumulates, with usage", async () => {
    const deltas: string[] = [];
    const stream = client.messages.stream({
      model: "echo",
      max_tokens: 1024,
      messages: [{ role: "user", content: "one two three" }],
    });
    stream.on("text", (delta) => deltas.push(delta));
    const message = await stream.finalMessage();
    expect(deltas).toEqual(["Echo: ", "one ", "two ", "three"]);
    expect(message.content).toEqual([{ type: "text", text: "Echo: one two three" }]);
    expect(message.stop_reason).toBe("end_turn");
    expect(message.usage).toMatchObject({ input_tokens: 4, output_tokens: 4 });
    expect(mock.requests[0]).toMatchObject({ stream: true, status: 200 });
  });

  it("streams a tool_use block whose input the SDK parses", async () => {
    const partials: string[] = [];
    const stream = client.messages.stream({
      model: "tools",
      max_tokens: 1024,
      messages: [{ role: "user", content: "read it" }],
      tools: [READ_FILE],
    });
    stream.on("inputJson", (partial) => partials.push(partial));
    const message = await stream.finalMessage();
    expect(message.stop_reason).toBe("tool_use");
    expect(message.content).toEqual([
      {
        type: "tool_use",
        id: expect.stringMatching(/^toolu_\d+$/),
        name: "read_file",
        input: { path: "test", limit: 1, mode: "text" },
      },
    ]);
    expect(partials.length).toBeGreaterThanOrEqual(2);
    // output: ceil(JSON length / 4)
    expect(message.usage.output_tokens).toBe(
      Math.ceil(JSON.stringify({ path: "test", limit: 1, mode: "text" }).length / 4),
    );
  });

  it("streams scripted text and several tool_use blocks, then replies with the tool result", async () => {
    mock.script("agent", [
      {
        text: "Reading both.",
        toolCalls: [
          { name: "read_file", arguments: { path: "a.ts", limit: 10, mode: "text" } },
          { name: "read_file", arguments: { path: "b.ts", limit: 5, mode: "bytes" }, id: "toolu_custom" },
        ],
      },
      { reply: "Both read." },
    ]);
    const first = await client.messages
      .stream({
        model: "script:agent",
        max_tokens: 1024,
        messages: [{ role: "user", content: "go" }],
        tools: [READ_FILE],
      })
      .finalMessage();
    expect(first.content).toEqual([
      { type: "text", text: "Reading both." },
      {
        type: "tool_use",
        id: expect.stringMatching(/^toolu_\d+$/),
        name: "read_file",
        input: { path: "a.ts", limit: 10, mode: "text" },
      },
      {
        type: "tool_use",
        id: "toolu_custom",
        name: "read_file",
        input: { path: "b.ts", limit: 5, mode: "bytes" },
      },
    ]);

    const second = await client.messages.create({
      model: "script:agent",
      max_tokens: 1024,
      messages: [
        { role: "user", content: "go" },
        { role: "assistant", content: first.content },
        {
          role: "user",
          content: [
            { type: "tool_result", tool_use_id: "toolu_custom", content: "b" },
            { type: "tool_result", tool_use_id: (first.content[1] as { id: string }).id, content: "a" },
          ],
        },
      ],
    });
    expect(second.content).toEqual([{ type: "text", text: "Both read." }]);
  });

  it("answers the tools scenario with the last tool result", async () => {
    const message = await client.messages.create({
      model: "tools",
      max_tokens: 1024,
      tools: [READ_FILE],
      messages: [
        { role: "user", content: "read it" },
        { role: "assistant", content: [{ type: "tool_use", id: "toolu_1", name: "read_file", input: {} }] },
        {
          role: "user",
          content: [
            { type: "tool_result", tool_use_id: "toolu_1", content: [{ type: "text", text: "42 lines" }] },
          ],
        },
      ],
    });
    expect(message.content).toEqual([{ type: "text", text: "Tool result: 42 lines" }]);
  });

  it("describes the request in the demo scenario, counting system as a message", async () => {
    const message = await client.messages.create({
      model: "demo",
      max_tokens: 1024,
      system: [{ type: "text", text: "You are helpful." }],
      messages: [{ role: "user", content: "Look at\nFile: app/x.ts\n" }],
    });
    expect(message.content).toEqual([
      {
        type: "text",
        text:
          "Offline demo model — not an AI. I received 2 messages (39 characters) and 1 file: app/x.ts. " +
          "Add a provider key in Settings → Providers for real answers.",
      },
    ]);
  });
});

describe("models and errors", () => {
  it("lists the models in Anthropic's shape", async () => {
    const models = [];
    for await (const model of client.models.list()) models.push(model);
    expect(models.map((m) => m.id)).toEqual(DEFAULT_MODELS);
    expect(models[0]).toMatchObject({
      type: "model",
      display_name: "echo",
      created_at: "2025-01-01T00:00:00Z",
    });
    expect(mock.requests[0]).toMatchObject({ protocol: "anthropic", path: "/v1/models", scenario: "models" });
  });

  it("surfaces 429 with retry-after, 529 as OverloadedError, with the error type and request id", async () => {
    const ask = (headers: Record<string, string>) =>
      client.messages
        .create({ model: "echo", max_tokens: 10, messages: [{ role: "user", content: "x" }] }, { headers })
        .catch((e: unknown) => e);

    const limited = await ask({ "x-mock-scenario": "rate-limit", "x-mock-retry-after": "0.25" });
    expect(limited).toBeInstanceOf(RateLimitError);
    const rateLimit = limited as RateLimitError;
    expect(rateLimit.status).toBe(429);
    expect(rateLimit.type).toBe("rate_limit_error");
    expect(rateLimit.headers?.get("retry-after")).toBe("0.25");
    expect(rateLimit.headers?.get("retry-after-ms")).toBe("250");
    expect(rateLimit.requestID).toBe("req_mock1");

    const overloaded = await ask({ "x-mock-scenario": "overloaded" });
    expect(overloaded).toBeInstanceOf(OverloadedError);
    expect((overloaded as OverloadedError).status).toBe(529);
    expect((overloaded as OverloadedError).type).toBe("overloaded_error");

    const stepped = await ask({ "x-mock-step": JSON.stringify({ status: 401, message: "key revoked" }) });
    expect(stepped).toBeInstanceOf(AuthenticationError);
    expect((stepped as AuthenticationError).message).toContain("key revoked");
  });

  it("requires x-api-key (and the right one when started with apiKey)", async () => {
    const locked = await startMockLlm({ apiKey: "sk-ant-right" });
    try {
      const wrong = new Anthropic({ baseURL: locked.url, apiKey: "sk-ant-wrong", maxRetries: 0 });
      const error = await wrong.messages
        .create({ model: "echo", max_tokens: 10, messages: [{ role: "user", content: "x" }] })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AuthenticationError);
      expect((error as AuthenticationError).type).toBe("authentication_error");
      expect(locked.requests[0]?.status).toBe(401);

      const keyless = await fetch(`${mock.url}/v1/messages`, {
        method: "POST",
        headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
        body: JSON.stringify({ model: "echo", max_tokens: 10, messages: [] }),
      });
      expect(keyless.status).toBe(401);
      expect(await keyless.json()).toMatchObject({ type: "error", error: { type: "authentication_error" } });
    } finally {
      await locked.close();
    }
  });

  it("answers a request without max_tokens with invalid_request_error", async () => {
    const error = await client.messages
      .create({
        model: "echo",
        messages: [{ role: "user", content: "x" }],
      } as unknown as Anthropic.MessageCreateParamsNonStreaming)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as BadRequestError).type).toBe("invalid_request_error");
    expect((error as BadRequestError).message).toContain("max_tokens");
  });
});

describe("faults", () => {
  it("records clientClosed when the client aborts a slow stream", async () => {
    const controller = new AbortController();
    const stream = client.messages.stream(
      { model: "slow", max_tokens: 1024, messages: [{ role: "user", content: "x" }] },
      { signal: controller.signal, headers: { "x-mock-chunk-delay-ms": "50" } },
    );
    const deltas: string[] = [];
    stream.on("text", (delta) => {
      deltas.push(delta);
      if (deltas.length === 2) controller.abort();
    });
    await expect(stream.finalMessage()).rejects.toThrow();
    expect(deltas.slice(0, 2)).toEqual(["tok0 ", "tok1 "]);
    expect(deltas.length).toBeLessThan(64);
    await mock.waitFor((requests) => requests[0]?.clientClosed === true);
    expect(mock.requests[0]).toMatchObject({ scenario: "slow", status: 200 });
  });

  it("holds a stall open until the client gives up", async () => {
    const controller = new AbortController();
    const stream = client.messages.stream(
      { model: "stall", max_tokens: 1024, messages: [{ role: "user", content: "x" }] },
      { signal: controller.signal },
    );
    const deltas: string[] = [];
    stream.on("text", (delta) => {
      deltas.push(delta);
      controller.abort();
    });
    await expect(stream.finalMessage()).rejects.toThrow();
    expect(deltas).toEqual(["tok0 "]);
    await mock.waitFor((requests) => requests[0]?.clientClosed === true);
  });

  it("raises on a dropped connection and on malformed stream data", async () => {
    const dropped = client.messages.stream({
      model: "drop",
      max_tokens: 10,
      messages: [{ role: "user", content: "x" }],
    });
    const droppedText: string[] = [];
    dropped.on("text", (delta) => droppedText.push(delta));
    await expect(dropped.finalMessage()).rejects.toThrow();
    expect(droppedText).toEqual(["tok0 ", "tok1 "]);

    const quiet = new Anthropic({ baseURL: mock.url, apiKey: "mock", maxRetries: 0, logLevel: "off" });
    const malformed = quiet.messages.stream({
      model: "malformed",
      max_tokens: 10,
      messages: [{ role: "user", content: "x" }],
    });
    const error = await malformed.finalMessage().catch((e: unknown) => e);
    // MessageStream wraps the JSON.parse failure
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).cause ?? error).toBeInstanceOf(SyntaxError);
    expect(mock.requests.map((r) => r.clientClosed)).toEqual([false, false]);
  });
});
