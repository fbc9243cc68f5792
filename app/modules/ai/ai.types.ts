/**
 * The AI module's vocabulary, shared by the server, the browser and the tests: model ids, the model
 * catalog, chat messages, stream events, and the zod schemas of the module's API inputs.
 * No server code here: this file is bundled into the browser.
 */
import { z } from "zod";

// ─── Model ids ───────────────────────────────────────────────────────────────

export const PROVIDER_KINDS = ["openai", "anthropic", "compat"] as const;
export type ProviderKind = (typeof PROVIDER_KINDS)[number];
export const ZProviderKind = z.enum(PROVIDER_KINDS);

/** Endpoint names of OpenAI-compatible servers: `ollama`, `vllm`, `lm-studio`, `hf`, `demo`. */
export const ZEndpointName = z
  .string()
  .trim()
  .min(1, "Name is required")
  .max(40, "Name must be at most 40 characters")
  .regex(
    /^[a-z0-9][a-z0-9_-]*$/,
    "Use lower-case letters, digits, '-' and '_' (it becomes part of model ids)",
  );

/**
 * A parsed model id. Forms: `openai:<model>`, `anthropic:<model>`, `compat:<endpoint>/<model>`.
 * The model part is passed to the provider as is (it may contain `/`, `:` and `.`: `compat:hf/meta-llama/Llama-3.1-8B-Instruct`,
 * `compat:ollama/qwen2.5-coder:7b`).
 */
export type ModelRef =
  | { provider: "openai"; endpoint: null; model: string; id: string }
  | { provider: "anthropic"; endpoint: null; model: string; id: string }
  | { provider: "compat"; endpoint: string; model: string; id: string };

const MODEL_PART = /^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}$/;

/** Parse a model id; returns an error message instead of throwing. */
export function parseModelId(id: string): { ok: true; ref: ModelRef } | { ok: false; error: string } {
  const colon = id.indexOf(":");
  if (colon <= 0)
    return { ok: false, error: `Model id "${id}" must look like provider:model (openai:gpt-4.1-mini)` };
  const provider = id.slice(0, colon);
  const rest = id.slice(colon + 1);
  if (provider === "openai" || provider === "anthropic") {
    if (!MODEL_PART.test(rest)) return { ok: false, error: `Model id "${id}" has an invalid model name` };
    return { ok: true, ref: { provider, endpoint: null, model: rest, id } };
  }
  if (provider === "compat") {
    const slash = rest.indexOf("/");
    const endpoint = slash > 0 ? rest.slice(0, slash) : "";
    const model = rest.slice(slash + 1);
    if (!ZEndpointName.safeParse(endpoint).success || slash <= 0) {
      return {
        ok: false,
        error: `Model id "${id}" must look like compat:<endpoint>/<model> (compat:ollama/qwen2.5-coder)`,
      };
    }
    if (!MODEL_PART.test(model)) return { ok: false, error: `Model id "${id}" has an invalid model name` };
    return { ok: true, ref: { provider, endpoint, model, id } };
  }
  return {
    ok: false,
    error: `Unknown provider "${provider}" in model id "${id}" (use openai, anthropic or compat)`,
  };
}

export const ZModelId = z
  .string()
  .trim()
  .min(1, "Choose a model")
  .max(240)
  .superRefine((value, ctx) => {
    const parsed = parseModelId(value);
    if (!parsed.ok) ctx.addIssue({ code: "custom", message: parsed.error });
  });

// ─── Model catalog ───────────────────────────────────────────────────────────

/** One entry of the model catalog (app/modules/ai/catalog/models.json, extendable with AI_MODELS_FILE). */
export const ZCatalogEntry = z.object({
  /** Full model id: `openai:gpt-4.1-mini`. */
  id: z.string().refine((v) => parseModelId(v).ok, "invalid model id"),
  label: z.string().min(1).max(100),
  /** Context window in tokens. */
  contextWindow: z.number().int().positive(),
  /** Largest completion the model produces, in tokens. */
  maxOutputTokens: z.number().int().positive().optional(),
  /** Whether native tool calling works. */
  tools: z.boolean(),
  /** US dollars per million input (prompt) tokens. */
  inputPerMTok: z.number().min(0),
  /** US dollars per million output (completion) tokens. */
  outputPerMTok: z.number().min(0),
  /** Hidden from pickers (kept for pricing old calls). */
  deprecated: z.boolean().optional(),
});
export type CatalogEntry = z.infer<typeof ZCatalogEntry>;
export const ZCatalogFile = z.object({ models: z.array(ZCatalogEntry) });

/** A model as the pickers show it: catalog facts plus whether the caller can use it now. */
export const ZModelOption = ZCatalogEntry.extend({
  id: z.string(),
  provider: ZProviderKind,
  /** A credential (the user's or the server's) exists for its provider/endpoint. */
  available: z.boolean(),
  /** The offline demo model (scripted, not an AI). */
  demo: z.boolean(),
  /** Not in the catalog: reported by an endpoint's model list; price unknown (counted as 0). */
  unpriced: z.boolean(),
});
export type ModelOption = z.infer<typeof ZModelOption>;

// ─── Chat requests and stream events ─────────────────────────────────────────

export type ToolCall = {
  /** Provider's id for the call (`call_...`, `toolu_...`), echoed back in the tool result. */
  id: string;
  name: string;
  /** The arguments as the model produced them: a JSON text (possibly invalid). */
  arguments: string;
};

export type ChatMessage =
  | { role: "system"; content: string }
  | { role: "user"; content: string }
  | { role: "assistant"; content: string; toolCalls?: ToolCall[] }
  | { role: "tool"; toolCallId: string; content: string; isError?: boolean };

export type ToolDefinition = {
  name: string;
  description: string;
  /** JSON Schema of the arguments object. */
  parameters: Record<string, unknown>;
};

/** Parameters that shape the answer (part of the cache key). */
export type ChatParameters = {
  temperature?: number;
  topP?: number;
  seed?: number;
  maxTokens?: number;
  stop?: string[];
  /** `json` asks for a JSON object where the provider supports it. */
  responseFormat?: "text" | "json";
};

export type ChatRequest = ChatParameters & {
  /** Full model id: `openai:gpt-4.1-mini`. */
  model: string;
  messages: ChatMessage[];
  tools?: ToolDefinition[];
  /** `auto` (default when tools are given), `none`, `required`, or one tool's name. */
  toolChoice?: "auto" | "none" | "required" | { name: string };
};

export type FinishReason = "stop" | "length" | "tool_calls" | "content_filter" | "other";

export type Usage = {
  tokensIn: number;
  tokensOut: number;
};

/**
 * What every provider's stream is turned into. Order: any number of `text` and `tool_call_*` events,
 * then exactly one `finish` (with the final usage). Errors are thrown by the iterator, not emitted.
 */
export type StreamEvent =
  | { type: "text"; delta: string }
  /** A tool call begins (index = position among this answer's tool calls). */
  | { type: "tool_call_start"; index: number; id: string; name: string }
  | { type: "tool_call_delta"; index: number; argumentsDelta: string }
  /** Usage so far, when a provider reports it before the end (Anthropic's message_start). */
  | { type: "usage"; usage: Usage }
  | { type: "finish"; reason: FinishReason; usage: Usage; toolCalls: ToolCall[]; text: string };

/** The outcome of one call, as recorded in AiCall. */
export type CallResult = {
  callId: string;
  model: string;
  text: string;
  toolCalls: ToolCall[];
  finishReason: FinishReason;
  usage: Usage;
  costMicros: number;
  cached: boolean;
  ttftMs: number | null;
  latencyMs: number;
};

// ─── API inputs (credentials, templates, budgets, quick task) ────────────────

export const ZCredentialId = z.uuid({ message: "Invalid credential id" });

export const ZAddCredentialInput = z
  .object({
    provider: ZProviderKind,
    /** For compat: the endpoint name used in model ids. For openai/anthropic: a label (default "default"). */
    name: ZEndpointName.default("default"),
    apiKey: z.string().trim().max(4096, "API key is too long").default(""),
    baseUrl: z
      .string()
      .trim()
      .max(2048)
      .url("Base URL must be a URL")
      .refine((v) => /^https?:\/\//.test(v), "Base URL must start with http:// or https://")
      .optional(),
  })
  .superRefine((value, ctx) => {
    if (value.provider === "compat" && !value.baseUrl) {
      ctx.addIssue({
        code: "custom",
        path: ["baseUrl"],
        message: "An OpenAI-compatible endpoint needs a base URL",
      });
    }
    if (value.provider !== "compat" && value.apiKey.length === 0) {
      ctx.addIssue({ code: "custom", path: ["apiKey"], message: "API key is required" });
    }
  });
export type AddCredentialInput = z.input<typeof ZAddCredentialInput>;

export const ZRotateCredentialInput = z.object({
  id: ZCredentialId,
  apiKey: z.string().trim().min(1, "API key is required").max(4096, "API key is too long"),
});

/** A credential as the browser and the API see it: never the secret. */
export const ZCredentialView = z.object({
  id: z.string(),
  provider: ZProviderKind,
  name: z.string(),
  baseUrl: z.string().nullable(),
  /** Last four characters of the secret ("…3xYz"), or null when there is none. */
  hint: z.string().nullable(),
  lastTestedAt: z.date().nullable(),
  createdAt: z.date(),
  updatedAt: z.date(),
});
export type CredentialView = z.infer<typeof ZCredentialView>;

export const ZConnectionTestResult = z.object({
  ok: z.boolean(),
  /** Model names the endpoint listed (first 200). */
  models: z.array(z.string()),
  latencyMs: z.number(),
  /** Why it failed, in words (never the secret). */
  error: z.string().nullable(),
});
export type ConnectionTestResult = z.infer<typeof ZConnectionTestResult>;

// ─── Quick task ──────────────────────────────────────────────────────────────

export const QUICK_TASK_MAX_FILES = 20;
/** Characters of file content a quick task may send (about 64k tokens). */
export const QUICK_TASK_MAX_CHARS = 256 * 1024;

export const ZQuickTaskInput = z
  .object({
    /** What to do. Optional when a saved prompt is used (its rendered text is the prompt). */
    prompt: z.string().trim().max(20_000, "The prompt must be at most 20,000 characters").default(""),
    /**
     * A saved prompt (PromptTemplate) to render as the prompt, with values for its variables. `project.name`
     * and `project.description` are filled in. The call is linked to the template version it used.
     */
    template: z
      .object({
        id: z.uuid({ message: "Invalid prompt id" }),
        version: z.number().int().min(1).optional(),
        variables: z.record(z.string(), z.unknown()).default({}),
      })
      .optional(),
    files: z
      .array(z.string().min(1).max(1024))
      .max(QUICK_TASK_MAX_FILES, `Choose at most ${QUICK_TASK_MAX_FILES} files`)
      .default([])
      .transform((files) => [...new Set(files)]),
    model: ZModelId,
    temperature: z.number().min(0).max(2).optional(),
  })
  .refine((task) => task.prompt.length > 0 || task.template !== undefined, {
    message: "Write what you want done",
    path: ["prompt"],
  });
export type QuickTaskInput = z.input<typeof ZQuickTaskInput>;

/** What the quick-task event stream carries (SSE `event:` name → data). */
export type QuickTaskEvent =
  | { event: "start"; data: { model: string; label: string; demo: boolean } }
  | { event: "text"; data: { delta: string } }
  | {
      event: "done";
      data: {
        callId: string;
        finishReason: FinishReason;
        usage: Usage;
        costMicros: number;
        cached: boolean;
        ttftMs: number | null;
        latencyMs: number;
      };
    }
  | { event: "error"; data: { code: string; message: string; details?: Record<string, unknown> } };

/** Money is in micro-dollars (1 USD = 1,000,000) as integers. */
export const MICROS_PER_DOLLAR = 1_000_000;

export function formatMicros(micros: number | bigint): string {
  const dollars = Number(micros) / MICROS_PER_DOLLAR;
  if (dollars === 0) return "$0.00";
  if (Math.abs(dollars) < 0.01) return `$${dollars.toFixed(4)}`;
  return `$${dollars.toFixed(2)}`;
}
