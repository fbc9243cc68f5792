/**
 * Protocol-independent part of the mock LLM: what a request asks for (a `Conversation` summary
 * each protocol module extracts from its own body shape), and what to answer (a `Plan`) for a
 * built-in scenario or a scripted step. The protocol modules turn a plan into bytes.
 */

export type ScriptStep =
  | {
      reply: string;
      /** split the text into this many pieces (default: one word, with its following space, per chunk) */
      chunks?: number;
      chunkDelayMs?: number;
      /** override the computed usage */
      usage?: { input?: number; output?: number };
      finish?: "stop" | "length";
    }
  | {
      toolCalls: Array<{ name: string; arguments: unknown; id?: string }>;
      /** streamed before the calls */
      text?: string;
      chunkDelayMs?: number;
      /** override the computed usage */
      usage?: { input?: number; output?: number };
    }
  | { status: 400 | 401 | 404 | 429 | 500 | 503 | 529; retryAfter?: number; message?: string }
  | { stall: "before-headers" | "after-first-chunk" }
  | { drop: { afterChunks: number } }
  | { malformed: { afterChunks: number } };

export type Protocol = "openai" | "anthropic";

/** What the scenarios need to know about a request, extracted by the protocol module. */
export type Conversation = {
  /** messages, counting Anthropic's top-level `system` as one */
  messageCount: number;
  /** characters of all message contents + system (text parts, tool results, tool-call arguments) */
  contentChars: number;
  /** characters of JSON.stringify(tools), 0 without tools */
  toolsChars: number;
  /** text of the last user message that has text ("" if none) */
  lastUserText: string;
  /** texts of all user messages, oldest first (for the demo's file detection) */
  userTexts: string[];
  /** the last message is a tool result (OpenAI role "tool", Anthropic user message with a tool_result block) */
  lastIsToolResult: boolean;
  /** content of the last tool result anywhere in the conversation, null if none */
  lastToolResult: string | null;
  /** the first tool of the request, with its JSON schema */
  firstTool: { name: string; schema: unknown } | null;
  /** names of every tool of the request, in order */
  toolNames: string[];
  /** tool results in the conversation */
  toolResultCount: number;
};

export type Fault = {
  /** stall: stop writing (never end); drop: destroy the socket; malformed: write broken JSON and end */
  type: "stall" | "drop" | "malformed";
  /** content chunks written before the fault */
  afterChunks: number;
};

export type PlannedToolCall = {
  id: string;
  name: string;
  /** the arguments as JSON text (what OpenAI sends in `function.arguments`) */
  json: string;
  /** `json` split into ≥ 2 fragments (when it has ≥ 2 characters), for streaming */
  pieces: string[];
  /** the arguments as a value (Anthropic's `input`; `{}` when `json` does not parse) */
  input: unknown;
};

export type CompletionPlan = {
  kind: "completion";
  /** text pieces, one per streamed chunk */
  text: string[];
  toolCalls: PlannedToolCall[];
  finish: "stop" | "length" | "tool_calls";
  /** delay before each content chunk but the first */
  delayMs: number;
  inputTokens: number;
  outputTokens: number;
  fault: Fault | null;
};

export type ErrorPlan = { kind: "error"; status: number; message: string; retryAfter: number | null };

export type Plan = CompletionPlan | ErrorPlan | { kind: "stall-before" };

export const BUILTIN_SCENARIOS = [
  "echo",
  "demo",
  "tools",
  "slow",
  "long",
  "rate-limit",
  "error-500",
  "overloaded",
  "stall",
  "stall-before",
  "drop",
  "malformed",
] as const;
export type BuiltinScenario = (typeof BUILTIN_SCENARIOS)[number];

const BUILTIN_SET: ReadonlySet<string> = new Set(BUILTIN_SCENARIOS);
export function isBuiltinScenario(name: string): name is BuiltinScenario {
  return BUILTIN_SET.has(name);
}

/** Request headers the built-in scenarios read (lower-case names, as node:http gives them). */
export type ScenarioHeaders = Record<string, string | string[] | undefined>;

export type PlanContext = {
  protocol: Protocol;
  /** a fresh default tool-call id (`call_<n>` / `toolu_<n>`) */
  nextToolId: () => string;
};

// ---------------------------------------------------------------------------------------------
// Text splitting and usage

const WORDS = /\s*\S+\s*/g;

/** One word with its following whitespace per piece ("Echo: hi there" → ["Echo: ", "hi ", "there"]). */
export function splitWords(text: string): string[] {
  if (text === "") return [];
  return text.match(WORDS) ?? [text];
}

/** `text` in `count` pieces of (nearly) equal length, never splitting a code point. */
export function splitEvenly(text: string, count: number): string[] {
  if (text === "") return [];
  const points = Array.from(text);
  const n = Math.max(1, Math.min(Math.floor(count), points.length));
  const size = Math.ceil(points.length / n);
  const out: string[] = [];
  for (let i = 0; i < points.length; i += size) out.push(points.slice(i, i + size).join(""));
  return out;
}

/** Tool-call arguments in ≥ 2 fragments (≤ 16 characters each) when there are ≥ 2 characters. */
export function splitArguments(json: string): string[] {
  if (json.length < 2) return [json];
  return splitEvenly(json, Math.max(2, Math.ceil(json.length / 16)));
}

export function inputTokens(conversation: Conversation): number {
  return Math.ceil((conversation.contentChars + conversation.toolsChars) / 4);
}

function outputTokens(text: string[], toolCalls: PlannedToolCall[]): number {
  let chars = 0;
  for (const call of toolCalls) chars += call.json.length;
  return text.length + Math.ceil(chars / 4);
}

// ---------------------------------------------------------------------------------------------
// Plans

function completion(
  conversation: Conversation,
  text: string[],
  options: {
    toolCalls?: PlannedToolCall[];
    finish?: CompletionPlan["finish"];
    delayMs?: number;
    fault?: Fault;
  },
): CompletionPlan {
  const toolCalls = options.toolCalls ?? [];
  return {
    kind: "completion",
    text,
    toolCalls,
    finish: options.finish ?? (toolCalls.length > 0 ? "tool_calls" : "stop"),
    delayMs: options.delayMs ?? 0,
    inputTokens: inputTokens(conversation),
    outputTokens: outputTokens(text, toolCalls),
    fault: options.fault ?? null,
  };
}

function numbered(count: number): string[] {
  const out = new Array<string>(count);
  for (let i = 0; i < count; i++) out[i] = `tok${i} `;
  return out;
}

export function planToolCall(
  call: { name: string; arguments: unknown; id?: string },
  context: PlanContext,
): PlannedToolCall {
  const json = typeof call.arguments === "string" ? call.arguments : JSON.stringify(call.arguments ?? {});
  let input: unknown = call.arguments ?? {};
  if (typeof call.arguments === "string") {
    try {
      input = JSON.parse(call.arguments);
    } catch {
      input = {};
    }
  }
  return { id: call.id ?? context.nextToolId(), name: call.name, json, pieces: splitArguments(json), input };
}

const DEFAULT_ERROR_MESSAGES: Record<number, string> = {
  400: "Invalid request (mock)",
  401: "Invalid API key (mock)",
  404: "Not found (mock)",
  429: "Rate limit exceeded (mock)",
  500: "Internal server error (mock)",
  503: "Service unavailable (mock)",
  529: "Overloaded (mock)",
};

export function errorPlan(status: number, message?: string, retryAfter?: number | null): ErrorPlan {
  return {
    kind: "error",
    status,
    message: message ?? DEFAULT_ERROR_MESSAGES[status] ?? `Error ${status} (mock)`,
    retryAfter: retryAfter ?? null,
  };
}

/** The plan for one scripted (or `x-mock-step`) step. */
export function planStep(step: ScriptStep, conversation: Conversation, context: PlanContext): Plan {
  if ("reply" in step) {
    const text = step.chunks !== undefined ? splitEvenly(step.reply, step.chunks) : splitWords(step.reply);
    const plan = completion(conversation, text, {
      finish: step.finish ?? "stop",
      delayMs: step.chunkDelayMs,
    });
    if (step.usage?.input !== undefined) plan.inputTokens = step.usage.input;
    if (step.usage?.output !== undefined) plan.outputTokens = step.usage.output;
    return plan;
  }
  if ("toolCalls" in step) {
    const toolCalls = step.toolCalls.map((call) => planToolCall(call, context));
    const plan = completion(conversation, splitWords(step.text ?? ""), {
      toolCalls,
      finish: "tool_calls",
      delayMs: step.chunkDelayMs,
    });
    if (step.usage?.input !== undefined) plan.inputTokens = step.usage.input;
    if (step.usage?.output !== undefined) plan.outputTokens = step.usage.output;
    return plan;
  }
  if ("status" in step) return errorPlan(step.status, step.message, step.retryAfter);
  if ("stall" in step) {
    if (step.stall === "before-headers") return { kind: "stall-before" };
    return completion(conversation, numbered(2), { fault: { type: "stall", afterChunks: 1 } });
  }
  if ("drop" in step) {
    const after = step.drop.afterChunks;
    return completion(conversation, numbered(after + 1), { fault: { type: "drop", afterChunks: after } });
  }
  const after = step.malformed.afterChunks;
  return completion(conversation, numbered(after + 1), { fault: { type: "malformed", afterChunks: after } });
}

function header(headers: ScenarioHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function intHeader(
  headers: ScenarioHeaders,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = header(headers, name);
  if (raw === undefined || raw.trim() === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value)) return fallback;
  return Math.min(max, Math.max(min, Math.floor(value)));
}

function numberHeader(headers: ScenarioHeaders, name: string, fallback: number): number {
  const raw = header(headers, name);
  if (raw === undefined || raw.trim() === "") return fallback;
  const value = Number(raw);
  return Number.isFinite(value) && value >= 0 ? value : fallback;
}

/**
 * The plan for a built-in scenario. Headers: `x-mock-chunks` (slow/long: number of chunks),
 * `x-mock-chunk-delay-ms` (delay between chunks; slow defaults to 20, the others to 0),
 * `x-mock-retry-after` (rate-limit, seconds, may be fractional; default 1).
 */
export function planScenario(
  name: BuiltinScenario,
  conversation: Conversation,
  headers: ScenarioHeaders,
  context: PlanContext,
): Plan {
  const delayMs = intHeader(headers, "x-mock-chunk-delay-ms", name === "slow" ? 20 : 0, 0, 60_000);
  switch (name) {
    case "echo":
      return completion(conversation, splitWords(`Echo: ${conversation.lastUserText}`), { delayMs });
    case "demo": {
      // Driving an agent (it offers `finish`): look at the workspace once, then finish without changing it.
      if (conversation.toolNames.includes("finish")) {
        const look = conversation.toolNames.includes("list_files") && conversation.toolResultCount === 0;
        const call = look
          ? planToolCall({ name: "list_files", arguments: {} }, context)
          : planToolCall({ name: "finish", arguments: { summary: demoAgentSummary(conversation) } }, context);
        return completion(conversation, [], { toolCalls: [call], delayMs });
      }
      return completion(conversation, splitWords(demoReply(conversation)), { delayMs });
    }
    case "tools": {
      if (conversation.firstTool && !conversation.lastIsToolResult) {
        const tool = conversation.firstTool;
        const call = planToolCall({ name: tool.name, arguments: argumentsFromSchema(tool.schema) }, context);
        return completion(conversation, [], { toolCalls: [call], delayMs });
      }
      const result = conversation.lastToolResult ?? "(none)";
      return completion(conversation, splitWords(`Tool result: ${result}`), { delayMs });
    }
    case "slow":
      return completion(conversation, numbered(intHeader(headers, "x-mock-chunks", 64, 1, 1_000_000)), {
        delayMs,
      });
    case "long":
      return completion(conversation, numbered(intHeader(headers, "x-mock-chunks", 256, 1, 1_000_000)), {
        delayMs,
      });
    case "rate-limit":
      return errorPlan(429, undefined, numberHeader(headers, "x-mock-retry-after", 1));
    case "error-500":
      return errorPlan(500);
    case "overloaded":
      return errorPlan(529);
    case "stall":
      return planStep({ stall: "after-first-chunk" }, conversation, context);
    case "stall-before":
      return { kind: "stall-before" };
    case "drop":
      return planStep({ drop: { afterChunks: 2 } }, conversation, context);
    case "malformed":
      return planStep({ malformed: { afterChunks: 1 } }, conversation, context);
  }
}

// ---------------------------------------------------------------------------------------------
// Demo and tools helpers

const FILE_LINE = /^(?:---[ \t]+(.+?)[ \t]+---|File:[ \t]*(.+?))[ \t]*$/gm;

/** File names mentioned in user messages as `--- path ---` or `File: path` lines, in order, deduplicated. */
export function mentionedFiles(texts: string[]): string[] {
  const seen = new Set<string>();
  for (const text of texts) {
    for (const match of text.matchAll(FILE_LINE)) {
      const name = (match[1] ?? match[2] ?? "").trim();
      if (name) seen.add(name);
    }
  }
  return [...seen];
}

function plural(count: number, word: string): string {
  return `${count.toLocaleString("en-US")} ${word}${count === 1 ? "" : "s"}`;
}

/** The Offline demo model's answer: a labelled, deterministic description of the request. */
export function demoReply(conversation: Conversation): string {
  const files = mentionedFiles(conversation.userTexts);
  const filePart = files.length === 0 ? "no files" : `${plural(files.length, "file")}: ${files.join(", ")}`;
  return (
    `Offline demo model — not an AI. I received ${plural(conversation.messageCount, "message")} ` +
    `(${plural(conversation.contentChars, "character")}) and ${filePart}. ` +
    "Add a provider key in Settings → Providers for real answers."
  );
}

/** The Offline demo model's summary as an agent: what it looked at (from the tool result), and that it changed nothing. */
export function demoAgentSummary(conversation: Conversation): string {
  const listing = (conversation.lastToolResult ?? "").split("\n").filter((line) => line.trim() !== "");
  const looked =
    listing.length > 0
      ? `I listed the workspace (${plural(listing.length, "line")} of output)`
      : "I looked at nothing";
  return (
    `Offline demo model — not an AI. ${looked} and changed nothing. ` +
    "Add a provider key in Settings → Providers for an agent that reads, edits and tests your code."
  );
}

function valueForSchema(schema: unknown): unknown {
  if (!schema || typeof schema !== "object") return "test";
  const s = schema as Record<string, unknown>;
  if ("const" in s) return s.const;
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[0];
  for (const key of ["anyOf", "oneOf", "allOf"] as const) {
    const options = s[key];
    if (Array.isArray(options) && options.length > 0) return valueForSchema(options[0]);
  }
  const type = Array.isArray(s.type) ? (s.type.find((t) => t !== "null") ?? s.type[0]) : s.type;
  switch (type) {
    case "number":
    case "integer":
      return 1;
    case "boolean":
      return true;
    case "array":
      return [];
    case "object":
      return {};
    case "null":
      return null;
    default:
      return "test";
  }
}

/** Arguments for a tool call: each required property of the schema with a placeholder value. */
export function argumentsFromSchema(schema: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!schema || typeof schema !== "object") return out;
  const s = schema as { properties?: Record<string, unknown>; required?: unknown };
  if (!Array.isArray(s.required)) return out;
  for (const key of s.required) {
    if (typeof key === "string") out[key] = valueForSchema(s.properties?.[key]);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Step validation (control API, x-mock-step header, script())

const STATUSES = new Set([400, 401, 404, 429, 500, 503, 529]);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function optionalNumber(value: unknown, what: string, min: number): void {
  if (value !== undefined && (typeof value !== "number" || !Number.isFinite(value) || value < min))
    throw new Error(`${what} must be a number ≥ ${min}`);
}

function afterChunks(value: unknown, what: string): void {
  if (!isRecord(value) || typeof value.afterChunks !== "number" || !Number.isInteger(value.afterChunks))
    throw new Error(`${what} must be { afterChunks: <integer ≥ 0> }`);
  if (value.afterChunks < 0) throw new Error(`${what}.afterChunks must be ≥ 0`);
}

function checkUsage(usage: unknown): void {
  if (usage === undefined) return;
  if (!isRecord(usage)) throw new Error("usage must be an object");
  optionalNumber(usage.input, "usage.input", 0);
  optionalNumber(usage.output, "usage.output", 0);
}

/** Checks that `value` is a ScriptStep; throws an Error with a clear message otherwise. */
export function parseScriptStep(value: unknown): ScriptStep {
  if (!isRecord(value)) throw new Error("a script step must be an object");
  if ("reply" in value) {
    if (typeof value.reply !== "string") throw new Error("reply must be a string");
    if (value.chunks !== undefined && (!Number.isInteger(value.chunks) || (value.chunks as number) < 1))
      throw new Error("chunks must be an integer ≥ 1");
    optionalNumber(value.chunkDelayMs, "chunkDelayMs", 0);
    checkUsage(value.usage);
    if (value.finish !== undefined && value.finish !== "stop" && value.finish !== "length")
      throw new Error('finish must be "stop" or "length"');
    return value as ScriptStep;
  }
  if ("toolCalls" in value) {
    if (!Array.isArray(value.toolCalls) || value.toolCalls.length === 0)
      throw new Error("toolCalls must be a non-empty array");
    for (const call of value.toolCalls) {
      if (!isRecord(call) || typeof call.name !== "string" || call.name === "")
        throw new Error("each tool call needs a name");
      if (call.id !== undefined && typeof call.id !== "string")
        throw new Error("tool call id must be a string");
    }
    if (value.text !== undefined && typeof value.text !== "string") throw new Error("text must be a string");
    optionalNumber(value.chunkDelayMs, "chunkDelayMs", 0);
    checkUsage(value.usage);
    return value as ScriptStep;
  }
  if ("status" in value) {
    if (typeof value.status !== "number" || !STATUSES.has(value.status))
      throw new Error(`status must be one of ${[...STATUSES].join(", ")}`);
    optionalNumber(value.retryAfter, "retryAfter", 0);
    if (value.message !== undefined && typeof value.message !== "string")
      throw new Error("message must be a string");
    return value as ScriptStep;
  }
  if ("stall" in value) {
    if (value.stall !== "before-headers" && value.stall !== "after-first-chunk")
      throw new Error('stall must be "before-headers" or "after-first-chunk"');
    return value as ScriptStep;
  }
  if ("drop" in value) {
    afterChunks(value.drop, "drop");
    return value as ScriptStep;
  }
  if ("malformed" in value) {
    afterChunks(value.malformed, "malformed");
    return value as ScriptStep;
  }
  throw new Error("a script step needs one of: reply, toolCalls, status, stall, drop, malformed");
}

/** A streamed response, pre-serialised: one string per SSE event, each written with one `res.write`. */
export type StreamScript = {
  events: string[];
  /** events that are content chunks (they get the delay, and faults count them) */
  isChunk: boolean[];
  /** what `malformed` writes instead of the next chunk: an event whose JSON is cut off */
  malformedEvent: string;
};
