/**
 * The mock LLM provider, proven with the Vercel AI SDK (`ai` + `@ai-sdk/openai` `.chat()` and
 * `@ai-sdk/anthropic`), which validates every chunk against its own schemas.
 */
import { createAnthropic } from "@ai-sdk/anthropic";
import { createOpenAI } from "@ai-sdk/openai";
import { type LanguageModel, streamText, tool } from "ai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { type MockLlm, startMockLlm } from "./server.ts";

let mock: MockLlm;

beforeAll(async () => {
  mock = await startMockLlm();
});
afterAll(async () => {
  await mock.close();
});
beforeEach(() => {
  mock.reset();
});

const PROVIDERS: Array<{
  name: string;
  protocol: "openai" | "anthropic";
  model: (id: string) => LanguageModel;
}> = [
  {
    name: "@ai-sdk/openai .chat()",
    protocol: "openai",
    model: (id) => createOpenAI({ baseURL: `${mock.url}/v1`, apiKey: "mock" }).chat(id),
  },
  {
    name: "@ai-sdk/anthropic",
    protocol: "anthropic",
    // @ai-sdk/anthropic posts to `${baseURL}/messages`: its base URL includes /v1.
    model: (id) => createAnthropic({ baseURL: `${mock.url}/v1`, apiKey: "mock" })(id),
  },
];

// Explicit, so @ai-sdk/anthropic does not warn about an unknown model's output limit.
const maxOutputTokens = 256;

const weather = tool({
  description: "Weather for a city",
  inputSchema: z.object({ city: z.string(), days: z.number().int(), metric: z.boolean().optional() }),
});

describe.each(PROVIDERS)("$name", ({ protocol, model }) => {
  it("streams text with usage", async () => {
    const deltas: string[] = [];
    const result = streamText({
      model: model("echo"),
      maxOutputTokens,
      system: "Be brief.",
      prompt: "hello from the ai sdk",
    });
    for await (const delta of result.textStream) deltas.push(delta);

    expect(deltas.join("")).toBe("Echo: hello from the ai sdk");
    expect(deltas.length).toBeGreaterThanOrEqual(5);
    expect(await result.text).toBe("Echo: hello from the ai sdk");
    expect(await result.finishReason).toBe("stop");
    const usage = await result.usage;
    // input: ceil((9 + 21) / 4) = 8; output: 6 chunks
    expect(usage.inputTokens).toBe(8);
    expect(usage.outputTokens).toBe(6);
    expect(mock.requests[0]).toMatchObject({
      protocol,
      model: "echo",
      stream: true,
      status: 200,
      scenario: "echo",
    });
  });

  it("streams a tool call the SDK parses against the tool's schema", async () => {
    const result = streamText({
      model: model("tools"),
      maxOutputTokens,
      prompt: "Weather in Paris?",
      tools: { get_weather: weather },
    });
    const toolCalls = await result.toolCalls;
    expect(toolCalls).toHaveLength(1);
    expect(toolCalls[0]).toMatchObject({ toolName: "get_weather", input: { city: "test", days: 1 } });
    expect(toolCalls[0]?.toolCallId).toMatch(protocol === "openai" ? /^call_\d+$/ : /^toolu_\d+$/);
    expect(await result.finishReason).toBe("tool-calls");
    expect((await result.usage).outputTokens).toBe(Math.ceil('{"city":"test","days":1}'.length / 4));
    const body = mock.requests[0]?.body as { tools?: unknown[] };
    expect(body.tools).toHaveLength(1);
  });

  it("plays a script across calls", async () => {
    mock.script(`plan-${protocol}`, [
      { toolCalls: [{ name: "get_weather", arguments: { city: "Oslo", days: 2 } }] },
      { reply: "Cold in Oslo.", chunks: 2 },
    ]);
    const first = streamText({
      model: model(`script:plan-${protocol}`),
      maxOutputTokens,
      prompt: "Weather?",
      tools: { get_weather: weather },
    });
    expect((await first.toolCalls)[0]?.input).toEqual({ city: "Oslo", days: 2 });

    const second = streamText({
      model: model(`script:plan-${protocol}`),
      maxOutputTokens,
      prompt: "And now?",
    });
    const deltas: string[] = [];
    for await (const delta of second.textStream) deltas.push(delta);
    expect(deltas).toEqual(["Cold in", " Oslo."]);
  });
});
