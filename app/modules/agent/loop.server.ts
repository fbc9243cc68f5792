/**
 * The agent loop: a model turn (streamed), then the tool calls it made, in order, their results appended to the
 * conversation, then the next turn — until the model calls `finish`, a limit is reached, the model stops making
 * progress, or the run is cancelled.
 *
 * Two protocols:
 * - `native`: the tools go to the provider as tool definitions (OpenAI, Anthropic, and OpenAI-compatible models
 *   whose catalog entry says `tools: true`); results go back as tool messages.
 * - `text`: for OpenAI-compatible models without tool calling. The tools are described in the system prompt and
 *   the model ends its answer with one fenced block
 *   ```action
 *   {"tool": "read_file", "input": {"path": "src/a.ts"}}
 *   ```
 *   One action per answer; its result comes back as a user message. A block that cannot be read gets a
 *   correction message saying what is wrong and how the block must look.
 *
 * Checkpoints: the state (messages, turns, usage, elapsed time, the tool calls of the last turn and which are
 * done) is saved after every model turn and every tool result, and once more just before a tool starts. A
 * worker that crashed resumes from the last save: tool calls with a saved result are not run again; calls not
 * started yet run normally. A call that had started but has no saved result is NOT run again: the model
 * receives an error result saying the call was interrupted and may or may not have taken effect, so it can
 * look at the workspace and decide (re-running `edit_file` or a command blindly is not safe in general).
 *
 * Limits: turns, tokens and cost are checked before each model turn (one turn may overshoot the token and cost
 * limits by its own size; the run's budgets, enforced by the AI service during the call, are the hard money
 * cap). Wall time is a timer that aborts the model call or tool in progress. A model-call failure (provider
 * error, budget exceeded) is thrown as the service's AppError: the checkpoint lets a retry resume.
 */
import type { ChatMessage, ChatRequest, ToolCall, ToolDefinition } from "#app/modules/ai/ai.types.ts";
import { parseModelId } from "#app/modules/ai/ai.types.ts";
import type { Catalog } from "#app/modules/ai/catalog.server.ts";
import type { AiRuntime } from "#app/modules/ai/runtime.server.ts";
import type { CallContext } from "#app/modules/ai/service.server.ts";
import type { AgentLimits, AgentStopReason, AgentTool, ToolResult } from "./agent.types.ts";

// ─── Types ───────────────────────────────────────────────────────────────────

export type AgentUsage = { tokensIn: number; tokensOut: number; costMicros: number };

/** How tools reach the model: the provider's tool calling, or described in the prompt (fenced action blocks). */
export type ToolMode = "native" | "text";

/** What the loop reports while it runs (the engine turns these into run events). */
export type AgentEvent =
  | { type: "token"; text: string }
  | { type: "tool_call"; callId: string; name: string; input: unknown }
  | {
      type: "tool_result";
      callId: string;
      name: string;
      /** What the model reads (capped). */
      output: string;
      isError: boolean;
      meta: Record<string, unknown>;
    }
  | { type: "tool_output"; callId: string; stream: "stdout" | "stderr"; chunk: string }
  /** One model turn ended; its own usage (not cumulative). */
  | { type: "turn"; turn: number; tokensIn: number; tokensOut: number; costMicros: number }
  | { type: "log"; level: "info" | "warn" | "error"; message: string };

/** What a checkpoint holds: enough to continue the loop where it stopped. JSON-serialisable. */
export type AgentState = {
  version: 1;
  mode: ToolMode;
  messages: ChatMessage[];
  /** Model turns completed. */
  turns: number;
  usage: AgentUsage;
  /** Wall time spent in the loop so far, over all attempts (the wall-time limit counts it). */
  elapsedMs: number;
  /** The model was already told to use the tools after an answer without any (reset by a tool call). */
  nudged: boolean;
  /**
   * The tool calls of the last model turn while they are being run: which have their result in `messages`
   * (`doneIds`), and which one had started when the state was saved (`startedId`).
   */
  pending: { calls: ToolCall[]; doneIds: string[]; startedId: string | null } | null;
  /** Set when the loop ended (not for a cancel): loading this state returns the same result at once. */
  outcome: { stopReason: AgentStopReason; summary: string } | null;
};

export type AgentCheckpoint = {
  load(): Promise<AgentState | null>;
  save(state: AgentState): Promise<void>;
};

export type AgentLoopOptions = {
  /** The AI runtime (the service makes the calls; the catalog says whether a model calls tools natively). */
  ai: Pick<AiRuntime, "service" | "catalog">;
  /** Who pays and what the AiCall rows link to (signal and cache are the loop's). */
  callContext: Omit<CallContext, "signal" | "cache">;
  model: string;
  /** Added before the loop's own instructions in the system message. */
  system?: string;
  /** The task: the first user message. */
  instructions: string;
  tools: AgentTool[];
  limits: AgentLimits;
  /** Cancel (or worker shutdown): aborts the model call or tool in progress; the loop returns `cancelled`. */
  signal: AbortSignal;
  checkpoint?: AgentCheckpoint;
  emit(event: AgentEvent): void;
  /** Force a protocol (default: toolModeFor(catalog, model)). */
  toolMode?: ToolMode;
  /** Most characters of one tool result sent to the model (default MAX_RESULT_CHARS). */
  maxResultChars?: number;
};

export type AgentResult = {
  stopReason: AgentStopReason;
  /** `finish`'s summary, or a sentence saying why the loop stopped (with the model's last words). */
  summary: string;
  turns: number;
  usage: AgentUsage;
  messages: ChatMessage[];
};

// ─── Constants ───────────────────────────────────────────────────────────────

export const FINISH_TOOL = "finish";
/** Tools cap their own output; this is the loop's defensive cap on what one result sends to the model. */
export const MAX_RESULT_CHARS = 32_000;

const FINISH_DEFINITION: ToolDefinition = {
  name: FINISH_TOOL,
  description:
    "End the task. Call it once the work is done (or cannot be done), with a summary of what you changed and how you checked it.",
  parameters: {
    type: "object",
    properties: { summary: { type: "string", description: "What was done, and how it was verified." } },
    required: ["summary"],
    additionalProperties: false,
  },
};

const NATIVE_RULES =
  "Work step by step with the tools you are given: look at the files before changing them, make the change, " +
  "then check it (run the tests when there are any). Every answer should call at least one tool. When the task " +
  "is done, or cannot be done, call `finish` with a summary.";

const ACTION_EXAMPLE = '```action\n{"tool": "read_file", "input": {"path": "src/index.ts"}}\n```';

const NUDGE_NATIVE =
  "You answered without calling a tool. Use the tools to make progress, or call `finish` with a summary if the task is done.";

const NUDGE_TEXT =
  "Your answer had no action block. Use the tools by ending your answer with exactly one block like\n\n" +
  `${ACTION_EXAMPLE}\n\nor use the \`finish\` tool with a summary if the task is done.`;

const INTERRUPTED =
  "This call was interrupted before its result was recorded (the agent's worker restarted). It may or may not " +
  "have taken effect: check the current state (list or read the files involved) before repeating it.";

// ─── Protocol choice ─────────────────────────────────────────────────────────

/**
 * `native` for OpenAI and Anthropic models (unless their catalog entry says they cannot call tools) and for
 * OpenAI-compatible models whose catalog entry says `tools: true`; `text` otherwise.
 */
export function toolModeFor(catalog: Pick<Catalog, "get">, model: string): ToolMode {
  const parsed = parseModelId(model);
  const entry = catalog.get(model);
  if (!parsed.ok) return "native";
  if (parsed.ref.provider === "compat") return entry?.tools === true ? "native" : "text";
  return entry && !entry.tools ? "text" : "native";
}

// ─── The loop ────────────────────────────────────────────────────────────────

type Abort = "cancelled" | "wall_time";

export async function runAgentLoop(options: AgentLoopOptions): Promise<AgentResult> {
  const { ai, limits, emit } = options;
  const maxResultChars = options.maxResultChars ?? MAX_RESULT_CHARS;
  const tools = new Map<string, AgentTool>();
  for (const tool of options.tools) tools.set(tool.name, tool);
  const definitions: ToolDefinition[] = options.tools.map(({ name, description, parameters }) => ({
    name,
    description,
    parameters,
  }));
  if (!tools.has(FINISH_TOOL)) definitions.push(FINISH_DEFINITION);

  const loaded = options.checkpoint ? await options.checkpoint.load() : null;
  let state: AgentState;
  if (loaded) {
    state = checkState(loaded);
    if (state.outcome) return resultOf(state, state.outcome.stopReason, state.outcome.summary);
    emit({
      type: "log",
      level: "info",
      message: `Resuming from a checkpoint after ${plural(state.turns, "turn")}.`,
    });
  } else {
    const mode = options.toolMode ?? toolModeFor(ai.catalog, options.model);
    state = {
      version: 1,
      mode,
      messages: [
        { role: "system", content: systemPrompt(options.system, mode, definitions) },
        { role: "user", content: options.instructions },
      ],
      turns: 0,
      usage: { tokensIn: 0, tokensOut: 0, costMicros: 0 },
      elapsedMs: 0,
      nudged: false,
      pending: null,
      outcome: null,
    };
  }
  if (options.signal.aborted) return resultOf(state, "cancelled", stoppedSummary(state, "cancelled", limits));

  const controller = new AbortController();
  let aborted: Abort | null = null;
  const abort = (why: Abort) => {
    if (aborted) return;
    aborted = why;
    controller.abort(
      new Error(why === "cancelled" ? "The agent was cancelled" : "The agent ran out of time"),
    );
  };
  const onCancel = () => abort("cancelled");
  options.signal.addEventListener("abort", onCancel, { once: true });
  const startedAt = Date.now();
  const elapsedBefore = state.elapsedMs;
  const remaining = limits.wallTimeMs - elapsedBefore;
  if (remaining <= 0) abort("wall_time");
  const timer = setTimeout(() => abort("wall_time"), Math.max(0, remaining));

  const save = async () => {
    state.elapsedMs = elapsedBefore + (Date.now() - startedAt);
    if (options.checkpoint) await options.checkpoint.save(structuredClone(state));
  };

  /** Ends the loop; the outcome is saved (so a resumed loop returns it) unless the run was cancelled. */
  const stop = async (stopReason: AgentStopReason, summary?: string): Promise<AgentResult> => {
    const text = summary ?? stoppedSummary(state, stopReason, limits);
    if (stopReason !== "cancelled") {
      state.outcome = { stopReason, summary: text };
      await save();
    }
    if (stopReason !== "finished") {
      emit({
        type: "log",
        level: stopReason === "cancelled" ? "info" : "warn",
        message: stoppedSummary(state, stopReason, limits, false),
      });
    }
    return resultOf(state, stopReason, text);
  };

  const toolContext = (callId: string) => ({
    signal: controller.signal,
    onOutput: (stream: "stdout" | "stderr", chunk: string) =>
      emit({ type: "tool_output", callId, stream, chunk }),
  });

  /** Runs one call (not `finish`); null when the loop was aborted meanwhile. */
  const execute = async (call: ToolCall): Promise<ToolResult | null> => {
    const args = parseArguments(call.arguments);
    emit({
      type: "tool_call",
      callId: call.id,
      name: call.name,
      input: args.ok ? args.value : call.arguments,
    });
    const tool = tools.get(call.name);
    if (!tool) {
      const names = [...tools.keys(), ...(tools.has(FINISH_TOOL) ? [] : [FINISH_TOOL])];
      return { output: `Unknown tool "${call.name}". The tools are: ${names.join(", ")}.`, isError: true };
    }
    if (!args.ok) {
      return {
        output: `The arguments of ${call.name} are not a JSON object (${args.error}). Call it again with valid JSON arguments that match its schema.`,
        isError: true,
      };
    }
    const outcome = await untilAborted(tool.run(args.value, toolContext(call.id)), controller.signal);
    if (outcome.aborted) return null;
    if (!outcome.ok) {
      if (aborted) return null;
      return { output: `${call.name} failed: ${errorMessage(outcome.error)}`, isError: true };
    }
    return outcome.value;
  };

  /** `finish`: the summary from its arguments (a `finish` tool of the caller's, if any, runs first). */
  const finish = async (call: ToolCall): Promise<{ summary: string } | { result: ToolResult } | null> => {
    const args = parseArguments(call.arguments);
    emit({
      type: "tool_call",
      callId: call.id,
      name: call.name,
      input: args.ok ? args.value : call.arguments,
    });
    let summary = args.ok && typeof args.value.summary === "string" ? args.value.summary.trim() : "";
    const custom = tools.get(FINISH_TOOL);
    if (custom && args.ok) {
      const outcome = await untilAborted(custom.run(args.value, toolContext(call.id)), controller.signal);
      if (outcome.aborted) return null;
      if (!outcome.ok) {
        if (aborted) return null;
        return { result: { output: `finish failed: ${errorMessage(outcome.error)}`, isError: true } };
      }
      if (outcome.value.isError) return { result: outcome.value };
      if (!summary) summary = outcome.value.output.trim();
    }
    if (!summary) {
      return {
        result: {
          output:
            'finish needs a summary: call it with {"summary": "<what you did and how you checked it>"}.',
          isError: true,
        },
      };
    }
    return { summary };
  };

  const appendResult = (call: ToolCall, result: ToolResult) => {
    const isError = result.isError === true;
    const capped = capText(result.output, maxResultChars);
    if (capped.omitted > 0) {
      emit({
        type: "log",
        level: "warn",
        message: `The result of ${call.name} (${call.id}) had ${result.output.length.toLocaleString("en-US")} characters; the model was sent ${maxResultChars.toLocaleString("en-US")} (the middle was cut, with a note saying so).`,
      });
    }
    emit({
      type: "tool_result",
      callId: call.id,
      name: call.name,
      output: capped.text,
      isError,
      meta: result.meta ?? {},
    });
    const content = isError && !/^error\b/i.test(capped.text) ? `Error: ${capped.text}` : capped.text;
    if (state.mode === "native") {
      state.messages.push({ role: "tool", toolCallId: call.id, content, ...(isError ? { isError } : {}) });
    } else {
      state.messages.push({
        role: "user",
        content: `Result of ${call.name}${isError ? " (failed)" : ""}:\n${content}`,
      });
    }
  };

  /** Runs the calls of the last turn that have no result yet; an AgentResult when the loop must end. */
  const runPending = async (): Promise<AgentResult | null> => {
    const pending = state.pending;
    if (!pending) return null;
    for (const call of pending.calls) {
      if (pending.doneIds.includes(call.id)) continue;
      if (aborted) return stop(aborted);
      let result: ToolResult;
      if (pending.startedId === call.id) {
        emit({ type: "tool_call", callId: call.id, name: call.name, input: parsedOrRaw(call.arguments) });
        emit({
          type: "log",
          level: "warn",
          message: `${call.name} (${call.id}) was interrupted by a restart; the model is told to check its effect.`,
        });
        result = { output: INTERRUPTED, isError: true, meta: { interrupted: true } };
      } else if (call.name === FINISH_TOOL) {
        const outcome = await finish(call);
        if (!outcome) return stop(aborted ?? "cancelled");
        if ("summary" in outcome) {
          appendResult(call, { output: outcome.summary });
          pending.doneIds.push(call.id);
          state.pending = null;
          return stop("finished", outcome.summary);
        }
        result = outcome.result;
      } else {
        pending.startedId = call.id;
        await save();
        const outcome = await execute(call);
        if (!outcome) return stop(aborted ?? "cancelled");
        result = outcome;
      }
      appendResult(call, result);
      pending.doneIds.push(call.id);
      pending.startedId = null;
      if (pending.doneIds.length === pending.calls.length) state.pending = null;
      await save();
    }
    state.pending = null;
    return null;
  };

  const modelTurn = async (): Promise<{ text: string; toolCalls: ToolCall[] } | null> => {
    const request: ChatRequest = { model: options.model, messages: state.messages };
    if (state.mode === "native") {
      request.tools = definitions;
      request.toolChoice = "auto";
    }
    const stream = ai.service.stream(request, {
      ...options.callContext,
      signal: controller.signal,
      cache: false,
    });
    try {
      for await (const event of stream) {
        if (event.type === "text" && event.delta !== "") emit({ type: "token", text: event.delta });
      }
      const result = await stream.result;
      state.turns++;
      state.usage.tokensIn += result.usage.tokensIn;
      state.usage.tokensOut += result.usage.tokensOut;
      state.usage.costMicros += result.costMicros;
      emit({
        type: "turn",
        turn: state.turns,
        tokensIn: result.usage.tokensIn,
        tokensOut: result.usage.tokensOut,
        costMicros: result.costMicros,
      });
      return { text: result.text, toolCalls: result.toolCalls };
    } catch (error) {
      if (aborted) return null;
      throw error;
    }
  };

  try {
    while (true) {
      if (aborted) return await stop(aborted);
      const ended = await runPending();
      if (ended) return ended;

      if (state.turns >= limits.maxTurns) return await stop("max_turns");
      if (state.usage.tokensIn + state.usage.tokensOut >= limits.maxTokens) return await stop("max_tokens");
      if (limits.maxCostMicros !== undefined && state.usage.costMicros >= limits.maxCostMicros)
        return await stop("max_cost");

      const answer = await modelTurn();
      if (!answer) return await stop(aborted ?? "cancelled");

      if (state.mode === "native") {
        // Anthropic refuses an empty assistant message: an empty answer is recorded as such, in words.
        const content = answer.text === "" && answer.toolCalls.length === 0 ? "(empty answer)" : answer.text;
        state.messages.push({
          role: "assistant",
          content,
          ...(answer.toolCalls.length > 0 ? { toolCalls: answer.toolCalls } : {}),
        });
        if (answer.toolCalls.length > 0) {
          state.nudged = false;
          state.pending = { calls: answer.toolCalls, doneIds: [], startedId: null };
          await save();
          continue;
        }
      } else {
        state.messages.push({
          role: "assistant",
          content: answer.text === "" ? "(empty answer)" : answer.text,
        });
        const action = parseAction(answer.text);
        if (action.kind === "action") {
          state.nudged = false;
          const call: ToolCall = {
            id: `action_${state.turns}`,
            name: action.tool,
            arguments: JSON.stringify(action.input),
          };
          state.pending = { calls: [call], doneIds: [], startedId: null };
          if (action.extra > 0) {
            state.messages.push({
              role: "user",
              content: `Only your first action block is run; the other ${plural(action.extra, "block")} were ignored. Send one action per answer.`,
            });
          }
          await save();
          continue;
        }
        if (action.kind === "malformed") {
          state.nudged = false;
          emit({
            type: "log",
            level: "warn",
            message: `The model's action could not be read: ${action.error}`,
          });
          state.messages.push({
            role: "user",
            content: `Your action could not be read: ${action.error}. Nothing was run. End your answer with exactly one block like\n\n${ACTION_EXAMPLE}\n\n(valid JSON: double quotes, no comments, no trailing commas).`,
          });
          await save();
          continue;
        }
      }

      // No tool call: nudge once, then give up.
      if (!state.nudged) {
        state.nudged = true;
        emit({
          type: "log",
          level: "info",
          message: "The model answered without using a tool; reminding it once.",
        });
        state.messages.push({ role: "user", content: state.mode === "native" ? NUDGE_NATIVE : NUDGE_TEXT });
        await save();
        continue;
      }
      return await stop("no_progress");
    }
  } finally {
    clearTimeout(timer);
    options.signal.removeEventListener("abort", onCancel);
  }
}

// ─── Helpers ─────────────────────────────────────────────────────────────────

function systemPrompt(system: string | undefined, mode: ToolMode, definitions: ToolDefinition[]): string {
  const parts: string[] = [];
  if (system?.trim()) parts.push(system.trim());
  parts.push(NATIVE_RULES);
  if (mode === "text") {
    const tools = definitions
      .map((d) => `### ${d.name}\n${d.description}\nInput (JSON Schema): ${JSON.stringify(d.parameters)}`)
      .join("\n\n");
    parts.push(
      [
        "You call tools by ending your answer with exactly one action block, in this form:",
        ACTION_EXAMPLE,
        "Rules: one action per answer; the block holds one JSON object with `tool` (a tool's name) and `input` " +
          "(its arguments, an object); the JSON must be valid (double quotes, no comments, no trailing commas). " +
          "Stop writing after the block: the result of the action comes in the next message.",
        `The tools:\n\n${tools}`,
      ].join("\n\n"),
    );
  }
  return parts.join("\n\n");
}

type ParsedAction =
  | { kind: "none" }
  | { kind: "action"; tool: string; input: Record<string, unknown>; extra: number }
  | { kind: "malformed"; error: string };

const ACTION_BLOCK = /```action[^\S\n]*\n([\s\S]*?)\n?```/g;

/** The first ```action block of a text-mode answer. Exported for tests. */
export function parseAction(text: string): ParsedAction {
  const blocks = [...text.matchAll(ACTION_BLOCK)].map((m) => m[1] ?? "");
  if (blocks.length === 0) {
    if (text.includes("```action"))
      return { kind: "malformed", error: "the ```action block is not closed with ```" };
    return { kind: "none" };
  }
  const body = (blocks[0] ?? "").trim();
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (error) {
    return { kind: "malformed", error: `the block is not valid JSON (${errorMessage(error)})` };
  }
  if (!isRecord(value))
    return { kind: "malformed", error: 'the block must hold one JSON object {"tool": …, "input": {…}}' };
  if (typeof value.tool !== "string" || value.tool.trim() === "")
    return { kind: "malformed", error: 'the object has no "tool" (the name of a tool, as a string)' };
  const input = value.input ?? {};
  if (!isRecord(input))
    return { kind: "malformed", error: '"input" must be a JSON object of the tool\'s arguments' };
  return { kind: "action", tool: value.tool.trim(), input, extra: blocks.length - 1 };
}

function parseArguments(
  text: string,
): { ok: true; value: Record<string, unknown> } | { ok: false; error: string } {
  if (text.trim() === "") return { ok: true, value: {} };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, error: `invalid JSON: ${errorMessage(error)}` };
  }
  if (!isRecord(value)) return { ok: false, error: "a JSON value that is not an object" };
  return { ok: true, value };
}

function parsedOrRaw(text: string): unknown {
  const parsed = parseArguments(text);
  return parsed.ok ? parsed.value : text;
}

/** At most `max` characters: the head and the tail, with a note in the middle saying how much was cut. */
export function capText(text: string, max: number): { text: string; omitted: number } {
  if (text.length <= max) return { text, omitted: 0 };
  const note = (n: number) =>
    `\n\n[… ${n.toLocaleString("en-US")} characters omitted by the agent: the result had ${text.length.toLocaleString("en-US")} …]\n\n`;
  const room = Math.max(0, max - note(text.length).length);
  const head = Math.ceil(room * 0.7);
  const tail = room - head;
  const omitted = text.length - head - tail;
  return { text: `${text.slice(0, head)}${note(omitted)}${tail > 0 ? text.slice(-tail) : ""}`, omitted };
}

/** Settles with the promise, or as soon as the signal aborts (a tool that ignores its signal cannot hang the loop). */
async function untilAborted<T>(
  promise: Promise<T>,
  signal: AbortSignal,
): Promise<
  { aborted: true } | { aborted: false; ok: true; value: T } | { aborted: false; ok: false; error: unknown }
> {
  if (signal.aborted) {
    promise.catch(() => {});
    return { aborted: true };
  }
  let onAbort: (() => void) | undefined;
  const abortedPromise = new Promise<{ aborted: true }>((resolve) => {
    onAbort = () => resolve({ aborted: true });
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([
      promise.then(
        (value) => ({ aborted: false as const, ok: true as const, value }),
        (error: unknown) => ({ aborted: false as const, ok: false as const, error }),
      ),
      abortedPromise,
    ]);
  } finally {
    if (onAbort) signal.removeEventListener("abort", onAbort);
  }
}

function checkState(value: AgentState): AgentState {
  const ok =
    isRecord(value) &&
    value.version === 1 &&
    (value.mode === "native" || value.mode === "text") &&
    Array.isArray(value.messages) &&
    typeof value.turns === "number" &&
    isRecord(value.usage);
  if (!ok) throw new Error("The agent's checkpoint cannot be read (unknown version or shape)");
  return {
    ...value,
    elapsedMs: typeof value.elapsedMs === "number" ? value.elapsedMs : 0,
    nudged: value.nudged === true,
    pending: value.pending ?? null,
    outcome: value.outcome ?? null,
  };
}

function resultOf(state: AgentState, stopReason: AgentStopReason, summary: string): AgentResult {
  return {
    stopReason,
    summary,
    turns: state.turns,
    usage: { ...state.usage },
    messages: state.messages,
  };
}

function stoppedSummary(
  state: AgentState,
  reason: AgentStopReason,
  limits: AgentLimits,
  withLastWords = true,
): string {
  const why: Record<AgentStopReason, string> = {
    finished: "The agent finished.",
    max_turns: `The agent stopped: it reached its limit of ${plural(limits.maxTurns, "turn")}.`,
    max_tokens: `The agent stopped: it used ${(state.usage.tokensIn + state.usage.tokensOut).toLocaleString("en-US")} tokens, its limit is ${limits.maxTokens.toLocaleString("en-US")}.`,
    max_cost: `The agent stopped: it spent ${state.usage.costMicros.toLocaleString("en-US")} micro-dollars, its limit is ${(limits.maxCostMicros ?? 0).toLocaleString("en-US")}.`,
    wall_time: `The agent stopped: it ran out of time (${Math.round(limits.wallTimeMs / 1000).toLocaleString("en-US")} s).`,
    no_progress: "The agent stopped: the model answered twice without using a tool or calling finish.",
    cancelled: "The agent was cancelled.",
  };
  const text = why[reason];
  if (!withLastWords) return text;
  const last = [...state.messages].reverse().find((m) => m.role === "assistant" && m.content.trim() !== "");
  return last ? `${text}\n\nThe model's last message:\n${last.content.trim()}` : text;
}

function plural(count: number, word: string): string {
  return `${count.toLocaleString("en-US")} ${word}${count === 1 ? "" : "s"}`;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
