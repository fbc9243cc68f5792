/**
 * Anthropic Messages wire format: request summary, JSON and SSE rendering, error bodies, the
 * models list. Streams follow api.anthropic.com: `message_start` (empty content, input tokens,
 * output_tokens 1), `content_block_start`, a `ping`, `content_block_delta`s (`text_delta` /
 * `input_json_delta`), `content_block_stop` per block, `message_delta` (stop reason + output
 * tokens), `message_stop`; each as `event: <type>\ndata: <json>\n\n`.
 */
import type { CompletionPlan, Conversation, StreamScript } from "./scenarios.ts";

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Text of a string or of the text blocks of an array. */
function blocksText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  let text = "";
  for (const block of content) {
    if (isRecord(block) && block.type === "text" && typeof block.text === "string") text += block.text;
  }
  return text;
}

/** null when the body is acceptable, else the message of the 400. */
export function validateAnthropicRequest(body: unknown): string | null {
  if (!isRecord(body)) return "The request body must be a JSON object.";
  if (typeof body.model !== "string" || body.model === "") return "model: Field required";
  if (!Array.isArray(body.messages)) return "messages: Field required";
  if (typeof body.max_tokens !== "number") return "max_tokens: Field required";
  return null;
}

export function summarizeAnthropicRequest(body: Json): Conversation {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  const system = blocksText(body.system);
  let contentChars = system.length;
  let lastUserText = "";
  let lastToolResult: string | null = null;
  let lastIsToolResult = false;
  let toolResultCount = 0;
  const userTexts: string[] = [];
  for (const message of messages) {
    if (!isRecord(message)) continue;
    const content = message.content;
    let text = "";
    let hasToolResult = false;
    if (typeof content === "string") {
      text = content;
      contentChars += text.length;
    } else if (Array.isArray(content)) {
      for (const block of content) {
        if (!isRecord(block)) continue;
        if (block.type === "text" && typeof block.text === "string") {
          text += block.text;
          contentChars += block.text.length;
        } else if (block.type === "tool_result") {
          const result = blocksText(block.content);
          contentChars += result.length;
          lastToolResult = result;
          hasToolResult = true;
          toolResultCount += 1;
        } else if (block.type === "tool_use") {
          contentChars += JSON.stringify(block.input ?? {}).length;
        }
      }
    }
    if (message.role === "user") {
      userTexts.push(text);
      if (text !== "") lastUserText = text;
    }
    lastIsToolResult = message.role === "user" && hasToolResult;
  }
  const tools = Array.isArray(body.tools) && body.tools.length > 0 ? body.tools : null;
  const first = tools?.[0];
  return {
    messageCount: messages.length + (system !== "" ? 1 : 0),
    contentChars,
    toolsChars: tools ? JSON.stringify(tools).length : 0,
    lastUserText,
    userTexts,
    lastIsToolResult,
    lastToolResult,
    firstTool:
      isRecord(first) && typeof first.name === "string"
        ? { name: first.name, schema: first.input_schema ?? null }
        : null,
    toolNames: (tools ?? []).flatMap((tool) =>
      isRecord(tool) && typeof tool.name === "string" ? [tool.name] : [],
    ),
    toolResultCount,
  };
}

export type AnthropicMeta = { id: string; model: string };

const STOP_REASON = { stop: "end_turn", length: "max_tokens", tool_calls: "tool_use" } as const;

export function renderAnthropicJson(plan: CompletionPlan, meta: AnthropicMeta): string {
  const content: Json[] = [];
  const text = plan.text.join("");
  if (text !== "" || plan.toolCalls.length === 0) content.push({ type: "text", text });
  for (const call of plan.toolCalls)
    content.push({ type: "tool_use", id: call.id, name: call.name, input: call.input });
  return JSON.stringify({
    id: meta.id,
    type: "message",
    role: "assistant",
    model: meta.model,
    content,
    stop_reason: STOP_REASON[plan.finish],
    stop_sequence: null,
    usage: {
      input_tokens: plan.inputTokens,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      output_tokens: plan.outputTokens,
    },
  });
}

const PING = 'event: ping\ndata: {"type":"ping"}\n\n';

export function renderAnthropicStream(plan: CompletionPlan, meta: AnthropicMeta): StreamScript {
  const events: string[] = [];
  const isChunk: boolean[] = [];
  const push = (event: string, chunk: boolean) => {
    events.push(event);
    isChunk.push(chunk);
  };
  push(
    `event: message_start\ndata: {"type":"message_start","message":{"id":${JSON.stringify(meta.id)},"type":"message","role":"assistant","model":${JSON.stringify(meta.model)},"content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":${plan.inputTokens},"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1}}}\n\n`,
    false,
  );
  let index = 0;
  if (plan.text.length > 0 || plan.toolCalls.length === 0) {
    push(
      `event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n`,
      false,
    );
    push(PING, false);
    const open =
      'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":';
    for (const piece of plan.text) push(`${open}${JSON.stringify(piece)}}}\n\n`, true);
    push('event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n', false);
    index = 1;
  }
  for (const call of plan.toolCalls) {
    push(
      `event: content_block_start\ndata: {"type":"content_block_start","index":${index},"content_block":{"type":"tool_use","id":${JSON.stringify(call.id)},"name":${JSON.stringify(call.name)},"input":{}}}\n\n`,
      false,
    );
    if (index === 0) push(PING, false);
    const open = `event: content_block_delta\ndata: {"type":"content_block_delta","index":${index},"delta":{"type":"input_json_delta","partial_json":`;
    for (const piece of call.pieces) push(`${open}${JSON.stringify(piece)}}}\n\n`, true);
    push(`event: content_block_stop\ndata: {"type":"content_block_stop","index":${index}}\n\n`, false);
    index++;
  }
  push(
    `event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"${STOP_REASON[plan.finish]}","stop_sequence":null},"usage":{"output_tokens":${plan.outputTokens}}}\n\n`,
    false,
  );
  push('event: message_stop\ndata: {"type":"message_stop"}\n\n', false);
  return { events, isChunk, malformedEvent: 'event: content_block_delta\ndata: {"choices": [tru\n\n' };
}

const ERROR_TYPES: Record<number, string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  403: "permission_error",
  404: "not_found_error",
  413: "request_too_large",
  429: "rate_limit_error",
  500: "api_error",
  503: "api_error",
  529: "overloaded_error",
};

export function renderAnthropicError(status: number, message: string, requestId: string): string {
  const type = ERROR_TYPES[status] ?? (status >= 500 ? "api_error" : "invalid_request_error");
  return JSON.stringify({ type: "error", error: { type, message }, request_id: requestId });
}

const CREATED_AT = "2025-01-01T00:00:00Z";

function modelEntry(id: string): Json {
  return { type: "model", id, display_name: id, created_at: CREATED_AT };
}

export function renderAnthropicModels(models: string[]): string {
  return JSON.stringify({
    data: models.map(modelEntry),
    has_more: false,
    first_id: models[0] ?? null,
    last_id: models[models.length - 1] ?? null,
  });
}

export function renderAnthropicModel(id: string): string {
  return JSON.stringify(modelEntry(id));
}
