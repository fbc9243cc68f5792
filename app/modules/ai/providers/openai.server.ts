/**
 * OpenAI Chat Completions over the official `openai` SDK, for OpenAI itself (`openai`) and for
 * OpenAI-compatible servers (`compat`: Ollama, vLLM, LM Studio, the Hugging Face router, the offline demo).
 * Streams the raw SSE chunks and translates them to StreamEvents as they arrive.
 */
import OpenAI from "openai";
import type {
  ChatCompletionCreateParamsStreaming,
  ChatCompletionMessageParam,
  ChatCompletionToolChoiceOption,
} from "openai/resources/chat/completions";
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

type OpenAiKind = "openai" | "compat";

export const OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1";
/** The SDK insists on a key; keyless local servers (Ollama) ignore whatever is sent. */
const PLACEHOLDER_KEY = "none";
/** Timeouts are ours (retry.server.ts); the SDK's only guards against a request hanging for a day. */
const SDK_TIMEOUT_MS = 24 * 60 * 60 * 1000;
const MAX_MODELS = 200;

const clients = new ClientCache<OpenAI>(32, (connection) => {
  return new OpenAI({
    apiKey: connection.apiKey || PLACEHOLDER_KEY,
    // Explicit values, so the SDK falls back to no environment variable of its own.
    baseURL: connection.baseUrl || OPENAI_DEFAULT_BASE_URL,
    organization: null,
    project: null,
    adminAPIKey: null,
    webhookSecret: null,
    maxRetries: 0,
    timeout: SDK_TIMEOUT_MS,
    logLevel: "off",
    defaultHeaders: connection.headers ?? {},
  });
});

/** Drop cached SDK clients (tests; credential rotation makes new keys anyway). */
export function clearOpenAiClients(): void {
  clients.clear();
}

function toOpenAiMessages(messages: ChatMessage[]): ChatCompletionMessageParam[] {
  const out: ChatCompletionMessageParam[] = [];
  for (const message of messages) {
    switch (message.role) {
      case "system":
        out.push({ role: "system", content: message.content });
        break;
      case "user":
        out.push({ role: "user", content: message.content });
        break;
      case "assistant":
        if (message.toolCalls && message.toolCalls.length > 0) {
          out.push({
            role: "assistant",
            content: message.content ? message.content : null,
            tool_calls: message.toolCalls.map((call) => ({
              id: call.id,
              type: "function" as const,
              function: { name: call.name, arguments: call.arguments },
            })),
          });
        } else {
          out.push({ role: "assistant", content: message.content });
        }
        break;
      case "tool":
        out.push({ role: "tool", tool_call_id: message.toolCallId, content: message.content });
        break;
    }
  }
  return out;
}

function toOpenAiToolChoice(
  choice: ProviderRequest["toolChoice"],
): ChatCompletionToolChoiceOption | undefined {
  if (choice === undefined) return undefined;
  if (typeof choice === "string") return choice;
  return { type: "function", function: { name: choice.name } };
}

/** The wire body of a streaming chat completion (exported for tests). */
export function toOpenAiBody(
  kind: OpenAiKind,
  request: ProviderRequest,
): ChatCompletionCreateParamsStreaming {
  const body: ChatCompletionCreateParamsStreaming = {
    model: request.model,
    messages: toOpenAiMessages(request.messages),
    stream: true,
    stream_options: { include_usage: true },
  };
  if (request.tools && request.tools.length > 0) {
    body.tools = request.tools.map((tool) => ({
      type: "function" as const,
      function: { name: tool.name, description: tool.description, parameters: tool.parameters },
    }));
    const choice = toOpenAiToolChoice(request.toolChoice);
    if (choice !== undefined) body.tool_choice = choice;
  }
  if (request.temperature !== undefined) body.temperature = request.temperature;
  if (request.topP !== undefined) body.top_p = request.topP;
  if (request.seed !== undefined) body.seed = request.seed;
  if (request.stop && request.stop.length > 0) body.stop = request.stop;
  if (request.maxTokens !== undefined) {
    // OpenAI's reasoning models only take max_completion_tokens; older compatible servers only max_tokens.
    if (kind === "openai") body.max_completion_tokens = request.maxTokens;
    else body.max_tokens = request.maxTokens;
  }
  if (request.responseFormat === "json") body.response_format = { type: "json_object" };
  return body;
}

function mapFinishReason(reason: string): FinishReason {
  switch (reason) {
    case "stop":
      return "stop";
    case "length":
      return "length";
    case "tool_calls":
    case "function_call":
      return "tool_calls";
    case "content_filter":
      return "content_filter";
    default:
      return "other";
  }
}

type OpenCall = { index: number; call: ToolCall };

async function* streamOpenAi(
  kind: OpenAiKind,
  connection: ProviderConnection,
  request: ProviderRequest,
  options: ProviderCallOptions,
): AsyncGenerator<StreamEvent, void, undefined> {
  const { signal } = options;
  const context = { provider: kind, baseUrl: connection.baseUrl, apiKey: connection.apiKey, signal };
  const label = providerLabel(kind, connection.baseUrl);
  if (signal.aborted) throw abortedError(label);

  let stream: AsyncIterable<OpenAI.Chat.Completions.ChatCompletionChunk>;
  try {
    stream = await clients.get(connection).chat.completions.create(toOpenAiBody(kind, request), { signal });
  } catch (error) {
    throw toProviderError(error, context);
  }

  let text = "";
  const toolCalls: ToolCall[] = [];
  // The provider's tool-call index → ours (they normally match; servers that restart at 0 per call do not).
  const byWireIndex = new Map<number, OpenCall>();
  let finish: FinishReason | null = null;
  let usage: Usage | null = null;

  try {
    for await (const chunk of stream) {
      if (chunk.usage) {
        usage = { tokensIn: chunk.usage.prompt_tokens ?? 0, tokensOut: chunk.usage.completion_tokens ?? 0 };
      }
      const choice = chunk.choices?.[0];
      if (!choice) continue;
      const delta = choice.delta;
      if (delta) {
        if (delta.content) {
          text += delta.content;
          yield { type: "text", delta: delta.content };
        }
        if (delta.tool_calls) {
          for (const part of delta.tool_calls) {
            const wireIndex = typeof part.index === "number" ? part.index : toolCalls.length;
            let open = byWireIndex.get(wireIndex);
            if (!open || (part.id && open.call.id !== part.id)) {
              const index = toolCalls.length;
              const call: ToolCall = {
                id: part.id || `call_${index}`,
                name: part.function?.name ?? "",
                arguments: "",
              };
              toolCalls.push(call);
              open = { index, call };
              byWireIndex.set(wireIndex, open);
              yield { type: "tool_call_start", index, id: call.id, name: call.name };
            } else if (part.function?.name && !open.call.name) {
              open.call.name = part.function.name;
            }
            const fragment = part.function?.arguments;
            if (fragment) {
              open.call.arguments += fragment;
              yield { type: "tool_call_delta", index: open.index, argumentsDelta: fragment };
            }
          }
        }
      }
      if (choice.finish_reason) finish = mapFinishReason(choice.finish_reason);
    }
  } catch (error) {
    throw toProviderError(error, context);
  }
  // The SDK ends the iteration quietly when the request is aborted.
  if (signal.aborted) throw abortedError(label);
  if (finish === null) {
    throw new ProviderError("protocol", `${label}: the stream ended before the answer was complete`);
  }
  yield { type: "finish", reason: finish, usage: usage ?? { tokensIn: 0, tokensOut: 0 }, toolCalls, text };
}

async function listOpenAiModels(
  kind: OpenAiKind,
  connection: ProviderConnection,
  options: ProviderCallOptions,
): Promise<string[]> {
  const context = {
    provider: kind,
    baseUrl: connection.baseUrl,
    apiKey: connection.apiKey,
    signal: options.signal,
  };
  try {
    const ids: string[] = [];
    for await (const model of clients.get(connection).models.list({ signal: options.signal })) {
      ids.push(model.id);
      if (ids.length >= MAX_MODELS) break;
    }
    return ids;
  } catch (error) {
    throw toProviderError(error, context);
  }
}

function makeAdapter(kind: OpenAiKind): ProviderAdapter {
  return {
    kind,
    stream: (connection, request, options) => streamOpenAi(kind, connection, request, options),
    listModels: (connection, options) => listOpenAiModels(kind, connection, options),
  };
}

export const openaiAdapter: ProviderAdapter = makeAdapter("openai");
export const compatAdapter: ProviderAdapter = makeAdapter("compat");
