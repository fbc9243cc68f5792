/**
 * OpenAI Chat Completions wire format: request summary, JSON and SSE rendering, error bodies,
 * the models list. Shapes follow what api.openai.com sends (and what `openai` and
 * `@ai-sdk/openai` parse): chunk objects with `usage: null` when usage was asked for, a first
 * delta carrying the role, tool calls as `{index,id,type,function:{name,arguments:""}}` then
 * argument fragments, a finish chunk, an optional `choices: []` usage chunk, `data: [DONE]`.
 */
import type { CompletionPlan, Conversation, StreamScript } from "./scenarios.ts";

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Text of an OpenAI message content: a string or an array of parts (only text parts count). */
function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  let text = "";
  for (const part of content) {
    if (isRecord(part) && part.type === "text" && typeof part.text === "string") text += part.text;
  }
  return text;
}

/** null when the body is acceptable, else the message of the 400. */
export function validateOpenAiRequest(body: unknown): string | null {
  if (!isRecord(body)) return "The request body must be a JSON object.";
  if (typeof body.model !== "string" || body.model === "") return "you must provide a model parameter";
  if (!Array.isArray(body.messages)) return "Missing required parameter: 'messages'.";
  return null;
}

export function summarizeOpenAiRequest(body: Json): Conversation {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  let contentChars = 0;
  let lastUserText = "";
  let lastToolResult: string | null = null;
  let toolResultCount = 0;
  const userTexts: string[] = [];
  for (const message of messages) {
    if (!isRecord(message)) continue;
    const text = contentText(message.content);
    contentChars += text.length;
    if (message.role === "user") {
      userTexts.push(text);
      if (text !== "") lastUserText = text;
    } else if (message.role === "tool") {
      lastToolResult = text;
      toolResultCount += 1;
    } else if (message.role === "assistant" && Array.isArray(message.tool_calls)) {
      for (const call of message.tool_calls) {
        const args = isRecord(call) && isRecord(call.function) ? call.function.arguments : undefined;
        if (typeof args === "string") contentChars += args.length;
      }
    }
  }
  const last = messages[messages.length - 1];
  const tools = Array.isArray(body.tools) && body.tools.length > 0 ? body.tools : null;
  const first = tools?.[0];
  const fn = isRecord(first) && isRecord(first.function) ? first.function : null;
  return {
    messageCount: messages.length,
    contentChars,
    toolsChars: tools ? JSON.stringify(tools).length : 0,
    lastUserText,
    userTexts,
    lastIsToolResult: isRecord(last) && last.role === "tool",
    lastToolResult,
    firstTool: fn && typeof fn.name === "string" ? { name: fn.name, schema: fn.parameters ?? null } : null,
    toolNames: (tools ?? []).flatMap((tool) =>
      isRecord(tool) && isRecord(tool.function) && typeof tool.function.name === "string"
        ? [tool.function.name]
        : [],
    ),
    toolResultCount,
  };
}

export type OpenAiMeta = { id: string; created: number; model: string; includeUsage: boolean };

const FINISH_REASON = { stop: "stop", length: "length", tool_calls: "tool_calls" } as const;

function usage(plan: CompletionPlan): Json {
  return {
    prompt_tokens: plan.inputTokens,
    completion_tokens: plan.outputTokens,
    total_tokens: plan.inputTokens + plan.outputTokens,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

export function renderOpenAiJson(plan: CompletionPlan, meta: OpenAiMeta): string {
  const text = plan.text.join("");
  const message: Json = {
    role: "assistant",
    content: text === "" && plan.toolCalls.length > 0 ? null : text,
    refusal: null,
    annotations: [],
  };
  if (plan.toolCalls.length > 0) {
    message.tool_calls = plan.toolCalls.map((call) => ({
      id: call.id,
      type: "function",
      function: { name: call.name, arguments: call.json },
    }));
  }
  return JSON.stringify({
    id: meta.id,
    object: "chat.completion",
    created: meta.created,
    model: meta.model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: FINISH_REASON[plan.finish] }],
    usage: usage(plan),
    service_tier: "default",
    system_fingerprint: null,
  });
}

export function renderOpenAiStream(plan: CompletionPlan, meta: OpenAiMeta): StreamScript {
  const head = `data: {"id":${JSON.stringify(meta.id)},"object":"chat.completion.chunk","created":${meta.created},"model":${JSON.stringify(meta.model)},"service_tier":"default","system_fingerprint":null,"choices":`;
  const usageNull = meta.includeUsage ? ',"usage":null' : "";
  const open = `${head}[{"index":0,"delta":`;
  const close = `,"logprobs":null,"finish_reason":null}]${usageNull}}\n\n`;
  const events: string[] = [];
  const isChunk: boolean[] = [];
  const push = (event: string, chunk: boolean) => {
    events.push(event);
    isChunk.push(chunk);
  };

  const textFirst = plan.text.length > 0 || plan.toolCalls.length === 0;
  if (textFirst) push(`${open}{"role":"assistant","content":"","refusal":null}${close}`, false);
  for (const piece of plan.text) push(`${open}{"content":${JSON.stringify(piece)}}${close}`, true);
  plan.toolCalls.forEach((call, index) => {
    const role = index === 0 && !textFirst ? '"role":"assistant","content":null,' : "";
    push(
      `${open}{${role}"tool_calls":[{"index":${index},"id":${JSON.stringify(call.id)},"type":"function","function":{"name":${JSON.stringify(call.name)},"arguments":""}}]${role ? ',"refusal":null' : ""}}${close}`,
      false,
    );
    for (const piece of call.pieces) {
      push(
        `${open}{"tool_calls":[{"index":${index},"function":{"arguments":${JSON.stringify(piece)}}}]}${close}`,
        true,
      );
    }
  });
  push(`${open}{},"logprobs":null,"finish_reason":"${FINISH_REASON[plan.finish]}"}]${usageNull}}\n\n`, false);
  if (meta.includeUsage) push(`${head}[],"usage":${JSON.stringify(usage(plan))}}\n\n`, false);
  push("data: [DONE]\n\n", false);
  return { events, isChunk, malformedEvent: 'data: {"choices": [tru\n\n' };
}

const ERROR_TYPES: Record<number, { type: string; code: string | null }> = {
  400: { type: "invalid_request_error", code: null },
  401: { type: "invalid_request_error", code: "invalid_api_key" },
  404: { type: "invalid_request_error", code: "model_not_found" },
  429: { type: "requests", code: "rate_limit_exceeded" },
  500: { type: "server_error", code: null },
  503: { type: "server_error", code: null },
};

/** OpenAI never answers 529: an `overloaded` answer on the OpenAI path is a 503. */
export function openAiStatus(status: number): number {
  return status === 529 ? 503 : status;
}

export function renderOpenAiError(status: number, message: string): string {
  const kind = ERROR_TYPES[status] ?? {
    type: status >= 500 ? "server_error" : "invalid_request_error",
    code: null,
  };
  return JSON.stringify({ error: { message, type: kind.type, param: null, code: kind.code } });
}

export function renderOpenAiModels(models: string[], created: number): string {
  return JSON.stringify({
    object: "list",
    data: models.map((id) => ({ id, object: "model", created, owned_by: "agentry-mock" })),
  });
}

export function renderOpenAiModel(id: string, created: number): string {
  return JSON.stringify({ id, object: "model", created, owned_by: "agentry-mock" });
}
