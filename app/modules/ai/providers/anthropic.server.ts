/**
 * Anthropic Messages over the official `@anthropic-ai/sdk`. Streams the raw SSE events and translates them to
 * StreamEvents as they arrive.
 */
import Anthropic from "@anthropic-ai/sdk";
import type {
  ContentBlockParam,
  MessageCreateParamsStreaming,
  MessageParam,
  RawMessageStreamEvent,
  Tool,
  ToolChoice,
  ToolResultBlockParam,
} from "@anthropic-ai/sdk/resources/messages";
import type { ChatMessage, FinishReason, StreamEvent, ToolCall, Usage } from "../ai.types.ts";
import { ClientCache } from "./client-cache.server.ts";
import { abortedError, providerLabel, toProviderError } from "./errors.server.ts";
import {
  type ProviderAdapter,
  type ProviderCallOptions,
  type ProviderConnection,
  ProviderError,
  type ProviderRequest,
} from "./types.server.ts";

export const ANTHROPIC_DEFAULT_BASE_URL = "https://api.anthropic.com";
/** Anthropic requires max_tokens; used when the request gives none. */
export const ANTHROPIC_DEFAULT_MAX_TOKENS = 4096;
/** Timeouts are ours (retry.server.ts); the SDK's only guards against a request hanging for a day. */
const SDK_TIMEOUT_MS = 24 * 60 * 60 * 1000;
const MAX_MODELS = 200;
const LABEL = providerLabel("anthropic");

const clients = new ClientCache<Anthropic>(32, (connection) => {
  return new Anthropic({
    // Passing the key explicitly keeps the SDK from looking for credentials in the environment or on disk.
    apiKey: connection.apiKey,
    // Nor an ANTHROPIC_AUTH_TOKEN of the server's environment: configuration comes only from env.server.ts.
    authToken: null,
    baseURL: connection.baseUrl || ANTHROPIC_DEFAULT_BASE_URL,
    maxRetries: 0,
    timeout: SDK_TIMEOUT_MS,
    logLevel: "off",
    defaultHeaders: connection.headers ?? {},
  });
});

/** Drop cached SDK clients (tests). */
export function clearAnthropicClients(): void {
  clients.clear();
}

/** Anthropic wants a JSON object as tool input; the model's arguments text may be anything. */
function parseToolInput(text: string): Record<string, unknown> {
  if (!text.trim()) return {};
  try {
    const value: unknown = JSON.parse(text);
    if (value && typeof value === "object" && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // Invalid JSON from the model: send an empty input and keep the conversation going.
  }
  return {};
}

/** Our messages → Anthropic's `system` + alternating messages. */
export function toAnthropicMessages(messages: ChatMessage[]): {
  system: string | undefined;
  messages: MessageParam[];
} {
  const system: string[] = [];
  const out: MessageParam[] = [];
  // Consecutive tool results go into one user message.
  let pendingResults: ToolResultBlockParam[] | null = null;
  const flushResults = () => {
    if (pendingResults) out.push({ role: "user", content: pendingResults });
    pendingResults = null;
  };
  for (const message of messages) {
    if (message.role === "tool") {
      const block: ToolResultBlockParam = {
        type: "tool_result",
        tool_use_id: message.toolCallId,
        content: message.content,
      };
      if (message.isError) block.is_error = true;
      pendingResults ??= [];
      pendingResults.push(block);
      continue;
    }
    flushResults();
    switch (message.role) {
      case "system":
        if (message.content) system.push(message.content);
        break;
      case "user":
        out.push({ role: "user", content: message.content });
        break;
      case "assistant": {
        if (message.toolCalls && message.toolCalls.length > 0) {
          const blocks: ContentBlockParam[] = [];
          if (message.content) blocks.push({ type: "text", text: message.content });
          for (const call of message.toolCalls) {
            blocks.push({
              type: "tool_use",
              id: call.id,
              name: call.name,
              input: parseToolInput(call.arguments),
            });
          }
          out.push({ role: "assistant", content: blocks });
        } else {
          out.push({ role: "assistant", content: message.content });
        }
        break;
      }
    }
  }
  flushResults();
  return { system: system.length > 0 ? system.join("\n\n") : undefined, messages: out };
}

function toAnthropicToolChoice(choice: ProviderRequest["toolChoice"]): ToolChoice | undefined {
  if (choice === undefined) return undefined;
  if (choice === "auto") return { type: "auto" };
  if (choice === "none") return { type: "none" };
  if (choice === "required") return { type: "any" };
  return { type: "tool", name: choice.name };
}

/** Sampling fields the API takes but this SDK version's types do not list. */
type SamplingFields = { temperature?: number; top_p?: number };

/** The wire body of a streaming message (exported for tests). */
export function toAnthropicBody(request: ProviderRequest): MessageCreateParamsStreaming & SamplingFields {
  const { system, messages } = toAnthropicMessages(request.messages);
  const body: MessageCreateParamsStreaming & SamplingFields = {
    model: request.model,
    max_tokens: request.maxTokens ?? ANTHROPIC_DEFAULT_MAX_TOKENS,
    messages,
    stream: true,
  };
  if (system !== undefined) body.system = system;
  if (request.tools && request.tools.length > 0) {
    body.tools = request.tools.map(
      (tool): Tool => ({
        name: tool.name,
        description: tool.description,
        input_schema: tool.parameters as Tool.InputSchema,
      }),
    );
    const choice = toAnthropicToolChoice(request.toolChoice);
    if (choice !== undefined) body.tool_choice = choice;
  }
  if (request.temperature !== undefined) body.temperature = request.temperature;
  if (request.topP !== undefined) body.top_p = request.topP;
  if (request.stop && request.stop.length > 0) body.stop_sequences = request.stop;
  // No seed and no JSON mode in the Messages API: both are dropped.
  return body;
}

function mapStopReason(reason: string | null): FinishReason {
  switch (reason) {
    case "end_turn":
    case "stop_sequence":
      return "stop";
    case "max_tokens":
    case "model_context_window_exceeded":
      return "length";
    case "tool_use":
      return "tool_calls";
    case "refusal":
      return "content_filter";
    default:
      return "other";
  }
}

/** The SDK cannot send a request without a key; say so in words instead of its internal error. */
function missingKeyError(): ProviderError {
  return new ProviderError("auth", `${LABEL}: no API key is configured`);
}

type OpenBlock = { index: number; call: ToolCall; initialInput: unknown; sawDelta: boolean };

async function* streamAnthropic(
  connection: ProviderConnection,
  request: ProviderRequest,
  options: ProviderCallOptions,
): AsyncGenerator<StreamEvent, void, undefined> {
  const { signal } = options;
  const context = {
    provider: "anthropic" as const,
    baseUrl: connection.baseUrl,
    apiKey: connection.apiKey,
    signal,
  };
  if (signal.aborted) throw abortedError(LABEL);
  if (!connection.apiKey) throw missingKeyError();

  let stream: AsyncIterable<RawMessageStreamEvent>;
  try {
    stream = await clients.get(connection).messages.create(toAnthropicBody(request), { signal });
  } catch (error) {
    throw toProviderError(error, context);
  }

  let text = "";
  const toolCalls: ToolCall[] = [];
  // Content block index → tool call.
  const blocks = new Map<number, OpenBlock>();
  const usage: Usage = { tokensIn: 0, tokensOut: 0 };
  let stopReason: FinishReason | null = null;
  let stopped = false;

  try {
    for await (const event of stream) {
      switch (event.type) {
        case "message_start": {
          const reported = event.message?.usage;
          if (reported) {
            usage.tokensIn = reported.input_tokens ?? 0;
            usage.tokensOut = reported.output_tokens ?? 0;
            yield { type: "usage", usage: { ...usage } };
          }
          break;
        }
        case "content_block_start": {
          const block = event.content_block;
          if (block.type === "tool_use") {
            const index = toolCalls.length;
            const call: ToolCall = { id: block.id, name: block.name, arguments: "" };
            toolCalls.push(call);
            blocks.set(event.index, { index, call, initialInput: block.input, sawDelta: false });
            yield { type: "tool_call_start", index, id: call.id, name: call.name };
          } else if (block.type === "text" && block.text) {
            text += block.text;
            yield { type: "text", delta: block.text };
          }
          break;
        }
        case "content_block_delta": {
          const delta = event.delta;
          if (delta.type === "text_delta") {
            if (delta.text) {
              text += delta.text;
              yield { type: "text", delta: delta.text };
            }
          } else if (delta.type === "input_json_delta") {
            const open = blocks.get(event.index);
            if (open && delta.partial_json) {
              open.sawDelta = true;
              open.call.arguments += delta.partial_json;
              yield { type: "tool_call_delta", index: open.index, argumentsDelta: delta.partial_json };
            }
          }
          break;
        }
        case "content_block_stop": {
          const open = blocks.get(event.index);
          if (open && !open.sawDelta) {
            // A call without streamed input (no arguments): its input came whole in content_block_start.
            const whole = JSON.stringify(open.initialInput ?? {});
            open.call.arguments = whole;
            yield { type: "tool_call_delta", index: open.index, argumentsDelta: whole };
          }
          break;
        }
        case "message_delta": {
          if (event.delta?.stop_reason !== undefined && event.delta.stop_reason !== null) {
            stopReason = mapStopReason(event.delta.stop_reason);
          }
          const reported = event.usage;
          if (reported) {
            if (typeof reported.output_tokens === "number") usage.tokensOut = reported.output_tokens;
            if (typeof reported.input_tokens === "number") usage.tokensIn = reported.input_tokens;
          }
          break;
        }
        case "message_stop":
          stopped = true;
          break;
      }
    }
  } catch (error) {
    throw toProviderError(error, context);
  }
  // The SDK ends the iteration quietly when the request is aborted.
  if (signal.aborted) throw abortedError(LABEL);
  if (!stopped) {
    throw new ProviderError("protocol", `${LABEL}: the stream ended before the answer was complete`);
  }
  yield { type: "finish", reason: stopReason ?? "stop", usage: { ...usage }, toolCalls, text };
}

async function listAnthropicModels(
  connection: ProviderConnection,
  options: ProviderCallOptions,
): Promise<string[]> {
  if (!connection.apiKey) throw missingKeyError();
  const context = {
    provider: "anthropic" as const,
    baseUrl: connection.baseUrl,
    apiKey: connection.apiKey,
    signal: options.signal,
  };
  try {
    const ids: string[] = [];
    for await (const model of clients
      .get(connection)
      .models.list({ limit: 100 }, { signal: options.signal })) {
      ids.push(model.id);
      if (ids.length >= MAX_MODELS) break;
    }
    return ids;
  } catch (error) {
    throw toProviderError(error, context);
  }
}

export const anthropicAdapter: ProviderAdapter = {
  kind: "anthropic",
  stream: streamAnthropic,
  listModels: listAnthropicModels,
};
