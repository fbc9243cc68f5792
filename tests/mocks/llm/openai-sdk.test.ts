/**
 * The mock LLM provider, proven with the official `openai` SDK (no database needed): if the SDK
 * parses what the mock sends, the mock is faithful enough for the proxy and the benchmark.
 */
import OpenAI, {
  APIConnectionError,
  APIConnectionTimeoutError,
  AuthenticationError,
  BadRequestError,
  InternalServerError,
  RateLimitError,
} from "openai";
import type { ChatCompletionChunk, ChatCompletionTool } from "openai/resources/chat/completions";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_MODELS, type MockLlm, startMockLlm } from "./server.ts";

let mock: MockLlm;
let client: OpenAI;

beforeAll(async () => {
  mock = await startMockLlm();
  client = new OpenAI({ baseURL: `${mock.url}/v1`, apiKey: "mock", maxRetries: 0 });
});
afterAll(async () => {
  await mock.close();
});
beforeEach(() => {
  mock.reset();
});

const WEATHER_TOOL: ChatCompletionTool = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Weather for a city",
    parameters: {
      type: "object",
      properties: { city: { type: "string" }, days: { type: "integer" }, metric: { type: "boolean" } },
      required: ["city", "days"],
    },
  },
};

async function collect(stream: AsyncIterable<ChatCompletionChunk>): Promise<ChatCompletionChunk[]> {
  const chunks: ChatCompletionChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

describe("text", () => {
  it("answers a non-streamed request with the echo, usage and a recorded request", async () => {
    const completion = await client.chat.completions.create({
      model: "gpt-4.1-mini",
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: [{ type: "text", text: "hello mock world" }] },
      ],
      temperature: 0,
    });

    expect(completion.object).toBe("chat.completion");
    expect(completion.id).toMatch(/^chatcmpl-/);
    expect(completion.model).toBe("gpt-4.1-mini");
    expect(completion.choices[0]?.message).toMatchObject({
      role: "assistant",
      content: "Echo: hello mock world",
    });
    expect(completion.choices[0]?.finish_reason).toBe("stop");
    // input: ceil((9 + 16) / 4) = 7; output: 4 chunks ("Echo: ", "hello ", "mock ", "world")
    expect(completion.usage).toMatchObject({ prompt_tokens: 7, completion_tokens: 4, total_tokens: 11 });
    expect(completion._request_id).toBe("req_mock1");

    expect(mock.requests).toHaveLength(1);
    expect(mock.requests[0]).toMatchObject({
      seq: 1,
      protocol: "openai",
      method: "POST",
      path: "/v1/chat/completions",
      model: "gpt-4.1-mini",
      stream: false,
      scenario: "echo",
      status: 200,
      clientClosed: false,
    });
    expect(mock.requests[0]?.headers.authorization).toBe("Bearer mock");
    expect(mock.requests[0]?.body).toMatchObject({ temperature: 0 });
  });

  it("streams one word per chunk, role first, finish and the include_usage chunk last", async () => {
    const stream = await client.chat.completions.create({
      model: "echo",
      messages: [{ role: "user", content: "one two three" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = await collect(stream);

    expect(chunks[0]?.choices[0]?.delta.role).toBe("assistant");
    const pieces = chunks.flatMap((c) => c.choices.map((choice) => choice.delta.content).filter(Boolean));
    expect(pieces).toEqual(["Echo: ", "one ", "two ", "three"]);
    const finish = chunks.filter((c) => c.choices[0]?.finish_reason);
    expect(finish.map((c) => c.choices[0]?.finish_reason)).toEqual(["stop"]);
    const last = chunks[chunks.length - 1]!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toMatchObject({ prompt_tokens: 4, completion_tokens: 4, total_tokens: 8 });
    expect(chunks.every((c) => c.object === "chat.completion.chunk" && c.id === chunks[0]?.id)).toBe(true);
    await mock.waitFor((requests) => requests[0]?.endedAt !== null);
    expect(mock.requests[0]).toMatchObject({ stream: true, status: 200, clientClosed: false });
  });

  it("omits the usage chunk when include_usage is not asked", async () => {
    const chunks = await collect(
      await client.chat.completions.create({
        model: "echo",
        messages: [{ role: "user", content: "x" }],
        stream: true,
      }),
    );
    expect(chunks.some((c) => c.usage)).toBe(false);
    expect(chunks[chunks.length - 1]?.choices[0]?.finish_reason).toBe("stop");
  });

  it("describes the request in the demo scenario", async () => {
    const completion = await client.chat.completions.create({
      model: "demo",
      messages: [
        { role: "system", content: "You are helpful." },
        {
          role: "user",
          content: "Review these.\n--- src/a.ts ---\nexport const a = 1;\nFile: lib/b.ts\nconst b = 2;",
        },
      ],
      tools: [WEATHER_TOOL],
    });
    expect(completion.choices[0]?.message.content).toBe(
      "Offline demo model — not an AI. I received 2 messages (94 characters) and 2 files: src/a.ts, lib/b.ts. " +
        "Add a provider key in Settings → Providers for real answers.",
    );
    expect(completion.choices[0]?.message.tool_calls).toBeUndefined();
  });

  it("drives an agent in the demo scenario: lists the workspace once, then finishes changing nothing", async () => {
    const tool = (name: string): ChatCompletionTool => ({
      type: "function",
      function: { name, parameters: { type: "object", properties: {} } },
    });
    const tools = [tool("list_files"), tool("read_file"), tool("finish")];
    const first = await client.chat.completions.create({
      model: "demo",
      messages: [{ role: "user", content: "Fix the tests" }],
      tools,
    });
    const call = first.choices[0]?.message.tool_calls?.[0];
    expect(call?.type === "function" && call.function.name).toBe("list_files");
    const second = await client.chat.completions.create({
      model: "demo",
      messages: [
        { role: "user", content: "Fix the tests" },
        { role: "assistant", content: null, tool_calls: first.choices[0]!.message.tool_calls! },
        { role: "tool", tool_call_id: call!.id, content: "package.json\nsrc/\ntest/" },
      ],
      tools,
    });
    const finish = second.choices[0]?.message.tool_calls?.[0];
    expect(finish?.type === "function" && finish.function.name).toBe("finish");
    expect(JSON.parse(finish?.type === "function" ? finish.function.arguments : "{}")).toEqual({
      summary:
        "Offline demo model — not an AI. I listed the workspace (3 lines of output) and changed nothing. " +
        "Add a provider key in Settings → Providers for an agent that reads, edits and tests your code.",
    });
  });
});

describe("tool calls", () => {
  it("streams a tool call of the first tool that the SDK's stream helper reassembles", async () => {
    const argumentDeltas: string[] = [];
    const stream = client.chat.completions.stream({
      model: "tools",
      messages: [{ role: "user", content: "Weather in Paris?" }],
      tools: [WEATHER_TOOL],
      stream_options: { include_usage: true },
    });
    stream.on("tool_calls.function.arguments.delta", (event) => argumentDeltas.push(event.arguments_delta));
    const completion = await stream.finalChatCompletion();

    const choice = completion.choices[0]!;
    expect(choice.finish_reason).toBe("tool_calls");
    expect(choice.message.content).toBeNull();
    const call = choice.message.tool_calls?.[0];
    expect(call?.type).toBe("function");
    if (call?.type !== "function") throw new Error("expected a function call");
    expect(call.id).toMatch(/^call_\d+$/);
    expect(call.function.name).toBe("get_weather");
    expect(JSON.parse(call.function.arguments)).toEqual({ city: "test", days: 1 });
    expect(argumentDeltas.length).toBeGreaterThanOrEqual(2);
    expect(argumentDeltas.join("")).toBe(call.function.arguments);
    // output: 0 text chunks + ceil(24 / 4)
    expect(completion.usage?.completion_tokens).toBe(6);
  });

  it("answers with the tool result once the conversation carries one", async () => {
    const completion = await client.chat.completions.create({
      model: "tools",
      messages: [
        { role: "user", content: "Weather in Paris?" },
        {
          role: "assistant",
          content: null,
          tool_calls: [
            {
              id: "call_9",
              type: "function",
              function: { name: "get_weather", arguments: '{"city":"Paris"}' },
            },
          ],
        },
        { role: "tool", tool_call_id: "call_9", content: "sunny, 21°C" },
      ],
      tools: [WEATHER_TOOL],
    });
    expect(completion.choices[0]?.message.content).toBe("Tool result: sunny, 21°C");
    expect(completion.choices[0]?.finish_reason).toBe("stop");
  });

  it("streams several scripted calls after text, each reassembled", async () => {
    mock.script("two-calls", [
      {
        text: "Let me look.",
        toolCalls: [
          { name: "read_file", arguments: { path: "src/a.ts" } },
          { name: "list_dir", arguments: { path: "src", depth: 2 }, id: "call_custom" },
        ],
      },
    ]);
    const completion = await client.chat.completions
      .stream({
        model: "script:two-calls",
        messages: [{ role: "user", content: "go" }],
        tools: [WEATHER_TOOL],
      })
      .finalChatCompletion();
    const message = completion.choices[0]!.message;
    expect(message.content).toBe("Let me look.");
    const calls = (message.tool_calls ?? []).map((c) =>
      c.type === "function"
        ? { id: c.id, name: c.function.name, args: JSON.parse(c.function.arguments) }
        : null,
    );
    expect(calls).toEqual([
      { id: expect.stringMatching(/^call_\d+$/), name: "read_file", args: { path: "src/a.ts" } },
      { id: "call_custom", name: "list_dir", args: { path: "src", depth: 2 } },
    ]);
  });
});

describe("scripts", () => {
  it("consumes a 3-step script in order (tool call → tool call → reply), then reports it exhausted", async () => {
    mock.script("agent", [
      { toolCalls: [{ name: "read_file", arguments: { path: "a.ts" } }] },
      { toolCalls: [{ name: "write_file", arguments: { path: "a.ts", content: "x" } }] },
      { reply: "All done.", usage: { input: 100, output: 7 } },
    ]);
    const headers = { "x-mock-script": "agent" };
    const ask = () =>
      client.chat.completions.create(
        { model: "gpt-4.1-mini", messages: [{ role: "user", content: "fix it" }], tools: [WEATHER_TOOL] },
        { headers },
      );

    const first = await ask();
    const second = await ask();
    const third = await ask();
    const firstCall = first.choices[0]?.message.tool_calls?.[0];
    const secondCall = second.choices[0]?.message.tool_calls?.[0];
    expect(firstCall?.type === "function" && firstCall.function.name).toBe("read_file");
    expect(secondCall?.type === "function" && secondCall.function.name).toBe("write_file");
    expect(first.choices[0]?.finish_reason).toBe("tool_calls");
    expect(third.choices[0]?.message.content).toBe("All done.");
    expect(third.usage).toMatchObject({ prompt_tokens: 100, completion_tokens: 7, total_tokens: 107 });

    const exhausted = await ask().catch((error: unknown) => error);
    expect(exhausted).toBeInstanceOf(InternalServerError);
    expect((exhausted as InternalServerError).message).toContain("mock script agent is exhausted");
    expect(mock.requests.map((r) => r.scenario)).toEqual(Array(4).fill("script:agent"));
  });

  it("runs a one-off x-mock-step, splitting a reply into the given number of chunks", async () => {
    const step = { reply: "abcdefghij", chunks: 3, finish: "length" };
    const chunks = await collect(
      await client.chat.completions.create(
        { model: "echo", messages: [{ role: "user", content: "x" }], stream: true },
        { headers: { "x-mock-step": JSON.stringify(step) } },
      ),
    );
    const pieces = chunks.flatMap((c) => c.choices.map((choice) => choice.delta.content).filter(Boolean));
    expect(pieces).toEqual(["abcd", "efgh", "ij"]);
    expect(chunks.find((c) => c.choices[0]?.finish_reason)?.choices[0]?.finish_reason).toBe("length");
    expect(mock.requests[0]?.scenario).toBe("step");
  });

  it("rejects an invalid x-mock-step with a 400", async () => {
    const error = await client.chat.completions
      .create(
        { model: "echo", messages: [{ role: "user", content: "x" }] },
        { headers: { "x-mock-step": '{"nope":1}' } },
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as BadRequestError).message).toContain("invalid x-mock-step header");
  });

  it("is scriptable over the control API from another process", async () => {
    const post = (path: string, body?: unknown) =>
      fetch(`${mock.url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    const bad = await post("/_mock/scripts", { id: "remote", steps: [{ reply: 3 }] });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: "step 0: reply must be a string" });
    expect((await post("/_mock/scripts", { id: "remote", steps: [{ reply: "From afar." }] })).status).toBe(
      200,
    );

    const completion = await client.chat.completions.create({
      model: "script:remote",
      messages: [{ role: "user", content: "hi" }],
    });
    expect(completion.choices[0]?.message.content).toBe("From afar.");

    const listed = (await (await fetch(`${mock.url}/_mock/requests`)).json()) as { requests: unknown[] };
    expect(listed.requests).toEqual([
      expect.objectContaining({ seq: 1, scenario: "script:remote", status: 200 }),
    ]);
    expect((await post("/_mock/reset")).status).toBe(200);
    expect(mock.requests).toEqual([]);
  });
});

describe("models and errors", () => {
  it("lists the models", async () => {
    const ids: string[] = [];
    for await (const model of client.models.list()) {
      expect(model).toMatchObject({ object: "model", owned_by: "agentry-mock" });
      ids.push(model.id);
    }
    expect(ids).toEqual(DEFAULT_MODELS);
  });

  it("surfaces a 429 as RateLimitError with retry-after", async () => {
    const error = await client.chat.completions
      .create(
        { model: "echo", messages: [{ role: "user", content: "x" }] },
        { headers: { "x-mock-scenario": "rate-limit", "x-mock-retry-after": "2" } },
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitError);
    const rateLimit = error as RateLimitError;
    expect(rateLimit.status).toBe(429);
    expect(rateLimit.code).toBe("rate_limit_exceeded");
    expect(rateLimit.headers.get("retry-after")).toBe("2");
    expect(rateLimit.headers.get("retry-after-ms")).toBe("2000");
    expect(mock.requests[0]).toMatchObject({ scenario: "rate-limit", status: 429 });
  });

  it("surfaces 500 and overloaded (503 on the OpenAI path) as InternalServerError", async () => {
    const ask = (model: string) =>
      client.chat.completions
        .create({ model, messages: [{ role: "user", content: "x" }] })
        .catch((e: unknown) => e);
    const internal = await ask("error-500");
    expect(internal).toBeInstanceOf(InternalServerError);
    expect((internal as InternalServerError).status).toBe(500);
    const overloaded = await ask("overloaded");
    expect(overloaded).toBeInstanceOf(InternalServerError);
    expect((overloaded as InternalServerError).status).toBe(503);
  });

  it("answers a request without messages with an OpenAI 400", async () => {
    const error = await client.chat.completions
      .create({ model: "echo" } as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as BadRequestError).error).toEqual({
      message: "Missing required parameter: 'messages'.",
      type: "invalid_request_error",
      param: null,
      code: null,
    });
  });

  it("checks the key when started with apiKey", async () => {
    const locked = await startMockLlm({ apiKey: "sk-right" });
    try {
      const wrong = new OpenAI({ baseURL: `${locked.url}/v1`, apiKey: "sk-wrong", maxRetries: 0 });
      const error = await wrong.models.list().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AuthenticationError);
      expect((error as AuthenticationError).message).not.toContain("sk-wrong");
      const right = new OpenAI({ baseURL: `${locked.url}/v1`, apiKey: "sk-right", maxRetries: 0 });
      expect((await right.models.list()).data.length).toBe(DEFAULT_MODELS.length);
    } finally {
      await locked.close();
    }
  });
});

describe("faults", () => {
  it("raises a connection error when the mock drops the connection", async () => {
    const error = await client.chat.completions
      .create({ model: "drop", messages: [{ role: "user", content: "x" }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIConnectionError);

    const received: string[] = [];
    const stream = await client.chat.completions.create({
      model: "drop",
      messages: [{ role: "user", content: "x" }],
      stream: true,
    });
    const streamError = await (async () => {
      for await (const chunk of stream) received.push(chunk.choices[0]?.delta.content ?? "");
    })().catch((e: unknown) => e);
    expect(streamError).toBeInstanceOf(Error);
    expect(received.join("")).toBe("tok0 tok1 ");
    expect(mock.requests.map((r) => r.clientClosed)).toEqual([false, false]);
  });

  it("raises on malformed JSON in the stream", async () => {
    const quiet = new OpenAI({ baseURL: `${mock.url}/v1`, apiKey: "mock", maxRetries: 0, logLevel: "off" });
    const stream = await quiet.chat.completions.create({
      model: "malformed",
      messages: [{ role: "user", content: "x" }],
      stream: true,
    });
    const received: string[] = [];
    const error = await (async () => {
      for await (const chunk of stream) received.push(chunk.choices[0]?.delta.content ?? "");
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SyntaxError);
    expect(received.join("")).toBe("tok0 ");
  });

  it("sends nothing on stall-before until the client times out", async () => {
    const error = await client.chat.completions
      .create({ model: "stall-before", messages: [{ role: "user", content: "x" }] }, { timeout: 150 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIConnectionTimeoutError);
    await mock.waitFor((requests) => requests[0]?.clientClosed === true);
    expect(mock.requests[0]).toMatchObject({ scenario: "stall-before", status: 0 });
  });

  it("records clientClosed when the client aborts a slow stream", async () => {
    const controller = new AbortController();
    const stream = await client.chat.completions.create(
      { model: "slow", messages: [{ role: "user", content: "x" }], stream: true },
      { signal: controller.signal, headers: { "x-mock-chunk-delay-ms": "50" } },
    );
    const received: string[] = [];
    await (async () => {
      for await (const chunk of stream) {
        const text = chunk.choices[0]?.delta.content;
        if (text) received.push(text);
        if (received.length === 2) controller.abort();
      }
    })().catch(() => undefined);
    expect(received.slice(0, 2)).toEqual(["tok0 ", "tok1 "]);
    expect(received.length).toBeLessThan(64);
    await mock.waitFor((requests) => requests[0]?.clientClosed === true);
    expect(mock.requests[0]).toMatchObject({ scenario: "slow", status: 200 });
    expect(mock.requests[0]?.endedAt).not.toBeNull();
  });
});
