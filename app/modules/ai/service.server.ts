/**
 * The AIServiceProxy: the one way the platform calls a model. For every call it resolves the provider and
 * credentials, checks the budgets with an estimate, serves deterministic requests from the cache (and makes
 * identical concurrent ones share one upstream call), streams text and tool-call deltas as they arrive
 * (retrying 429/5xx/network failures only while nothing has reached the caller), stops the call when a budget
 * runs out mid-stream, and records it in AiCall — succeeded, failed or cancelled.
 *
 * Hot path: a non-cached call does no database work before the upstream request beyond what is not already
 * cached in memory (credentials and the user's budget list, 5 s), plus one spend query when the caller has
 * budgets. Recording happens after the last event.
 */

import type { Db } from "#app/db/client.server.ts";
import type { Budget } from "#app/generated/prisma/client.ts";
import { AppError, isAppError } from "#app/lib/app-error.ts";
import type { Logger } from "#app/lib/logger.server.ts";
import { spanUntil } from "#app/lib/trace.server.ts";
import { uuidv7 } from "#app/lib/uuid.ts";
import {
  type CallResult,
  type CatalogEntry,
  type ChatRequest,
  type FinishReason,
  formatMicros,
  type ModelOption,
  type ModelRef,
  parseModelId,
  type StreamEvent,
  type ToolCall,
  type Usage,
} from "./ai.types.ts";
import { budgetSpend } from "./budgets.server.ts";
import {
  type CachedAnswer,
  CacheMemory,
  isDeterministic,
  readCache,
  requestHash,
  writeCache,
} from "./cache.server.ts";
import { type Catalog, costMicros, estimateTokens } from "./catalog.server.ts";
import type { AiConfig, Keyring } from "./config.server.ts";
import { resolveConnection } from "./credentials.server.ts";
import { adapterFor as defaultAdapterFor } from "./providers/index.server.ts";
import { retryPolicyFrom, streamWithRetries } from "./providers/retry.server.ts";
import { type ProviderAdapter, type ProviderConnection, ProviderError } from "./providers/types.server.ts";
import { FlightRegistry } from "./single-flight.server.ts";

/** Who is calling and on whose account; what the call is linked to in AiCall. */
export type CallContext = {
  userId: string;
  projectId?: string | null;
  runId?: string | null;
  stepRunId?: string | null;
  apiKeyId?: string | null;
  templateVersionId?: string | null;
  /** Cancels the call, upstream included. */
  signal?: AbortSignal;
  /** false = never read or write the cache for this call; a number = this entry's lifetime in seconds. */
  cache?: boolean | { ttlSeconds: number };
  /** A cap for this run on top of the stored budgets (micro-dollars). */
  runBudgetMicros?: number | null;
  /** Extra headers to send upstream (tests pick mock scenarios with them). */
  upstreamHeaders?: Record<string, string>;
};

/** A call's events; `result` settles after the call is recorded (rejects with the call's error). */
export type AiStream = AsyncIterable<StreamEvent> & { result: Promise<CallResult> };

export type AiService = {
  stream(request: ChatRequest, context: CallContext): AiStream;
  /** The whole answer at once (still streamed upstream, so budgets are enforced while it is produced). */
  complete(request: ChatRequest, context: CallContext): Promise<CallResult>;
  /** Models for pickers, with availability for this user. */
  listModels(userId: string): Promise<ModelOption[]>;
  /** Forget what is cached in memory about a user (after their credentials or budgets changed). */
  invalidateUser(userId: string): void;
  /** Calls in progress in this process. */
  readonly active: number;
};

export type AiServiceDeps = {
  db: Db;
  logger: Logger;
  config: AiConfig;
  keyring: Keyring;
  catalog: Catalog;
  now?: () => Date;
  adapterFor?: (kind: ModelRef["provider"]) => ProviderAdapter;
  /** How long credentials and budget lists stay cached in memory. */
  memoTtlMs?: number;
};

type Connection = { connection: ProviderConnection; source: "user" | "server" | "demo" };

/** The synthetic id of the per-call run cap (CallContext.runBudgetMicros). */
const RUN_CAP_ID = "run-cap";
/** Output tokens assumed before a call when the request sets no max_tokens. */
const DEFAULT_OUTPUT_ESTIMATE = 512;

export function createAiService(deps: AiServiceDeps): AiService {
  const { db, logger, config, catalog } = deps;
  const clock = deps.now ?? (() => new Date());
  const adapterFor = deps.adapterFor ?? defaultAdapterFor;
  const memoTtl = deps.memoTtlMs ?? 5_000;
  const policy = retryPolicyFrom(config);
  const flights = new FlightRegistry<StreamEvent>();
  const hot = new CacheMemory();
  const connections = new Memo<Connection>(memoTtl);
  const budgetLists = new Memo<Budget[]>(memoTtl);
  /** Estimated cost of this process's calls in progress, per budget id (concurrent calls see each other). */
  const reserved = new Map<string, number>();
  let active = 0;

  async function connectionFor(userId: string, ref: ModelRef): Promise<Connection> {
    return connections.get(`${userId}|${ref.provider}|${ref.endpoint ?? ""}`, userId, async () => {
      const resolved = await resolveConnection({ userId, ref }, { db, keyring: deps.keyring, config });
      return { connection: resolved.connection, source: resolved.source };
    });
  }

  // ─── Budgets ───────────────────────────────────────────────────────────────

  type Guard = {
    /** Smallest headroom over all budgets, and the budget it belongs to. */
    headroom: number;
    tightest: Budget;
    budgets: Budget[];
    spent: Map<string, number>;
    release(): void;
  };

  async function openGuard(
    context: CallContext,
    entry: CatalogEntry | undefined,
    tokensIn: number,
    maxTokens: number | undefined,
  ): Promise<Guard | null> {
    const all = await budgetLists.get(`budgets|${context.userId}`, context.userId, () =>
      db.budget.findMany({ where: { userId: context.userId } }),
    );
    const budgets = all.filter((b) => {
      if (b.period === "per_run" && !context.runId) return false;
      if (b.scope === "user") return true;
      if (b.scope === "project") return !!context.projectId && b.projectId === context.projectId;
      return !!context.apiKeyId && b.apiKeyId === context.apiKeyId;
    });
    if (context.runId && context.runBudgetMicros != null) {
      budgets.push(syntheticRunCap(context.userId, context.runBudgetMicros));
    }
    if (budgets.length === 0) return null;
    const now = clock();
    const spent = await budgetSpend(db, {
      budgets,
      userId: context.userId,
      runId: context.runId ?? undefined,
      now,
    });
    const estimate = costMicros(entry, { tokensIn, tokensOut: maxTokens ?? DEFAULT_OUTPUT_ESTIMATE });
    let headroom = Number.POSITIVE_INFINITY;
    let tightest = budgets[0] as Budget;
    for (const budget of budgets) {
      const room = Number(budget.limitMicros) - (spent.get(budget.id) ?? 0) - (reserved.get(budget.id) ?? 0);
      if (room < estimate || room <= 0) {
        throw await budgetError(budget, spent.get(budget.id) ?? 0, { estimate, during: false });
      }
      if (room < headroom) {
        headroom = room;
        tightest = budget;
      }
    }
    for (const budget of budgets) reserved.set(budget.id, (reserved.get(budget.id) ?? 0) + estimate);
    let released = false;
    return {
      headroom,
      tightest,
      budgets,
      spent,
      release() {
        if (released) return;
        released = true;
        for (const budget of budgets) {
          const left = (reserved.get(budget.id) ?? 0) - estimate;
          if (left <= 0) reserved.delete(budget.id);
          else reserved.set(budget.id, left);
        }
      },
    };
  }

  async function budgetError(
    budget: Budget,
    spentMicros: number,
    { estimate, during }: { estimate?: number; during: boolean },
  ): Promise<AppError> {
    const name = await describeBudget(budget);
    const limit = formatMicros(budget.limitMicros);
    const spentText =
      budget.period === "per_run"
        ? `${formatMicros(spentMicros)} spent in this run`
        : `${formatMicros(spentMicros)} spent this month`;
    const message = during
      ? `${name} (${limit}) reached while the model was answering: the call was stopped. ${spentText}.`
      : `${name} (${limit}) would be exceeded: ${spentText}, and this call may cost up to ${formatMicros(estimate ?? 0)}.`;
    return new AppError("PAYMENT_REQUIRED", message, {
      budget: {
        id: budget.id === RUN_CAP_ID ? null : budget.id,
        name,
        scope: budget.scope,
        period: budget.period,
        limitMicros: Number(budget.limitMicros),
        spentMicros,
      },
    });
  }

  async function describeBudget(budget: Budget): Promise<string> {
    const period = budget.period === "per_run" ? "Per-run budget" : "Monthly budget";
    if (budget.id === RUN_CAP_ID) return "This run's budget";
    if (budget.scope === "user") return `${period} for all your usage`;
    if (budget.scope === "project" && budget.projectId) {
      const project = await db.project.findFirst({
        where: { id: budget.projectId, userId: budget.userId },
        select: { name: true },
      });
      return `${period} of project "${project?.name ?? "deleted project"}"`;
    }
    if (budget.apiKeyId) {
      const key = await db.apiKey.findFirst({
        where: { id: budget.apiKeyId, userId: budget.userId },
        select: { name: true },
      });
      return `${period} of API key "${key?.name ?? "deleted key"}"`;
    }
    return period;
  }

  // ─── Recording ─────────────────────────────────────────────────────────────

  async function record(
    context: CallContext,
    ref: ModelRef,
    promptHash: string,
    outcome: {
      usage: Usage;
      costMicros: number;
      ttftMs: number | null;
      latencyMs: number;
      cached: boolean;
      error: string | null;
    },
  ): Promise<string> {
    const row = await db.aiCall.create({
      data: {
        userId: context.userId,
        projectId: context.projectId ?? null,
        runId: context.runId ?? null,
        stepRunId: context.stepRunId ?? null,
        apiKeyId: context.apiKeyId ?? null,
        templateVersionId: context.templateVersionId ?? null,
        provider: ref.provider,
        model: ref.endpoint ? `${ref.endpoint}/${ref.model}` : ref.model,
        promptHash,
        tokensIn: outcome.usage.tokensIn,
        tokensOut: outcome.usage.tokensOut,
        costMicros: BigInt(outcome.costMicros),
        ttftMs: outcome.ttftMs,
        latencyMs: outcome.latencyMs,
        cached: outcome.cached,
        error: outcome.error,
        createdAt: clock(),
      },
      select: { id: true },
    });
    return row.id;
  }

  /**
   * A cache hit's ledger row and the entry's hit counter in one statement (one round trip, one commit): the
   * hit path is the one that must stay fast.
   */
  async function recordHit(
    context: CallContext,
    ref: ModelRef,
    promptHash: string,
    hit: CachedAnswer & { entryId: string },
    latencyMs: number,
  ): Promise<string> {
    const id = uuidv7();
    const now = clock();
    const model = ref.endpoint ? `${ref.endpoint}/${ref.model}` : ref.model;
    await db.$executeRaw`
      WITH hit AS (
        UPDATE "AiCache" SET "hits" = "hits" + 1, "lastHitAt" = ${now} WHERE "id" = ${hit.entryId}::uuid
      )
      INSERT INTO "AiCall" (
        "id", "userId", "projectId", "runId", "stepRunId", "apiKeyId", "templateVersionId", "provider", "model",
        "promptHash", "tokensIn", "tokensOut", "costMicros", "ttftMs", "latencyMs", "cached", "error", "createdAt"
      ) VALUES (
        ${id}::uuid, ${context.userId}::uuid, ${context.projectId ?? null}::uuid, ${context.runId ?? null}::uuid,
        ${context.stepRunId ?? null}::uuid, ${context.apiKeyId ?? null}::uuid, ${context.templateVersionId ?? null}::uuid,
        ${ref.provider}, ${model}, ${promptHash}, ${hit.usage.tokensIn}, ${hit.usage.tokensOut}, 0, ${latencyMs},
        ${latencyMs}, true, NULL, ${now}
      )`;
    return id;
  }

  // ─── The call ──────────────────────────────────────────────────────────────

  function stream(request: ChatRequest, context: CallContext): AiStream {
    let settle!: { resolve: (r: CallResult) => void; reject: (e: unknown) => void };
    const result = new Promise<CallResult>((resolve, reject) => {
      settle = { resolve, reject };
    });
    // Nobody may be awaiting `result` (a caller that only iterates); never an unhandled rejection.
    result.catch(() => {});
    let used = false;
    return {
      result,
      [Symbol.asyncIterator]() {
        if (used) throw new Error("an AiStream can be iterated once");
        used = true;
        spanUntil("ai.call", { "gen_ai.request.model": request.model }, result, (r) => ({
          "gen_ai.usage.input_tokens": r.usage.tokensIn,
          "gen_ai.usage.output_tokens": r.usage.tokensOut,
          "agentry.cost_micros": r.costMicros,
          "agentry.cached": r.cached,
        }));
        return run(request, context, settle)[Symbol.asyncIterator]();
      },
    };
  }

  async function* run(
    request: ChatRequest,
    context: CallContext,
    settle: { resolve: (r: CallResult) => void; reject: (e: unknown) => void },
  ): AsyncGenerator<StreamEvent, void, undefined> {
    const started = performance.now();
    active++;
    let guard: Guard | null = null;
    try {
      const parsed = parseModelId(request.model);
      if (!parsed.ok) throw new AppError("BAD_REQUEST", parsed.error);
      const ref = parsed.ref;
      validate(request);
      const entry = catalog.get(request.model);
      if (request.tools?.length && entry && !entry.tools) {
        throw new AppError("BAD_REQUEST", `${entry.label} does not support tool calling`);
      }
      context.signal?.throwIfAborted();
      const { connection } = await connectionFor(context.userId, ref);
      // The request's hash keys the cache and is stored with the call; a non-cacheable call computes it after
      // the answer (hashing a large prompt is not free, and TTFT should not pay for it).
      let memoHash: string | undefined;
      const hashOf = () => (memoHash ??= requestHash(ref, request));
      const tokensInEstimate = estimateTokens(requestCharacters(request));
      guard = await openGuard(context, entry, tokensInEstimate, request.maxTokens);

      const ttl = typeof context.cache === "object" ? context.cache.ttlSeconds : config.cacheTtlSeconds;
      const cacheable = context.cache !== false && ttl > 0 && isDeterministic(request);

      if (cacheable) {
        const promptHash = hashOf();
        const now = clock();
        let hit = hot.get(context.userId, promptHash, now);
        if (!hit) {
          const stored = await readCache(db, { userId: context.userId, key: promptHash, now });
          if (stored?.expiresAt) hot.set(context.userId, promptHash, stored, stored.expiresAt);
          hit = stored;
        }
        if (hit) {
          const events = replay(hit);
          for (const event of events) yield event;
          const latencyMs = Math.round(performance.now() - started);
          const callId = await recordHit(context, ref, promptHash, hit, latencyMs);
          settle.resolve(resultOf(callId, request.model, hit, 0, true, latencyMs, latencyMs));
          return;
        }
        // A caller that already gave up must not start (or keep alive) a shared upstream call.
        context.signal?.throwIfAborted();
        const { flight, started: leader } = flights.join(`${context.userId}|${promptHash}`);
        // The leader drives the upstream call and records it (charged to the leader); resolves to its AiCall id.
        const recorded: Promise<string | null> | null = leader
          ? (async () => {
              const key = `${context.userId}|${promptHash}`;
              const tracker = new Tracker(entry, tokensInEstimate, started);
              try {
                const upstream = streamWithRetries(
                  (signal) =>
                    adapterFor(ref.provider).stream(
                      withHeaders(connection, context),
                      { ...request, model: ref.model },
                      { signal },
                    ),
                  policy,
                  flight.controller.signal,
                );
                for await (const event of upstream) {
                  tracker.observe(event);
                  if (guard && tracker.cost() >= guard.headroom) {
                    flight.controller.abort();
                    throw await budgetError(guard.tightest, guard.spent.get(guard.tightest.id) ?? 0, {
                      during: true,
                    });
                  }
                  flight.push(event);
                }
                flight.finish();
                const answer = tracker.answer();
                const [callId] = await Promise.all([
                  record(context, ref, promptHash, tracker.outcome(null)),
                  answer
                    ? writeCache(db, {
                        userId: context.userId,
                        key: promptHash,
                        ref,
                        answer,
                        ttlSeconds: ttl,
                        now: clock(),
                      }).then(({ entryId, expiresAt }) =>
                        hot.set(context.userId, promptHash, { ...answer, entryId }, expiresAt),
                      )
                    : undefined,
                ]);
                return callId;
              } catch (error) {
                if (!flight.done) {
                  flight.fail(toAppError(error, ref));
                  await record(context, ref, promptHash, tracker.outcome(errorText(error)));
                } else {
                  logger.error({ err: error }, "recording an AI call failed");
                }
                return null;
              } finally {
                flights.release(key, flight);
              }
            })().catch((error: unknown) => {
              logger.error({ err: error }, "recording an AI call failed");
              return null;
            })
          : null;
        // Every subscriber (the leader too) reads the flight; followers are recorded as cache hits.
        const tracker = new Tracker(entry, tokensInEstimate, started);
        for await (const event of flight.subscribe(context.signal)) {
          tracker.observe(event);
          yield event;
        }
        const latencyMs = Math.round(performance.now() - started);
        const answer = tracker.answer();
        if (!answer) throw new AppError("BAD_GATEWAY", "The model's answer ended without a finish");
        if (recorded) {
          // The leader's AiCall is written by the flight; wait for it so `result` carries its id.
          const callId = await recorded;
          settle.resolve(
            resultOf(callId, request.model, answer, answer.costMicros, false, tracker.ttftMs, latencyMs),
          );
        } else {
          const callId = await record(context, ref, promptHash, {
            usage: answer.usage,
            costMicros: 0,
            ttftMs: tracker.ttftMs,
            latencyMs,
            cached: true,
            error: null,
          });
          settle.resolve(resultOf(callId, request.model, answer, 0, true, tracker.ttftMs, latencyMs));
        }
        return;
      }

      // Direct: not cacheable.
      const controller = new AbortController();
      const onAbort = () => controller.abort(context.signal?.reason);
      context.signal?.addEventListener("abort", onAbort, { once: true });
      const tracker = new Tracker(entry, tokensInEstimate, started);
      let error: unknown = null;
      try {
        const upstream = streamWithRetries(
          (signal) =>
            adapterFor(ref.provider).stream(
              withHeaders(connection, context),
              { ...request, model: ref.model },
              { signal },
            ),
          policy,
          controller.signal,
        );
        for await (const event of upstream) {
          tracker.observe(event);
          if (guard && tracker.cost() >= guard.headroom) {
            controller.abort();
            throw await budgetError(guard.tightest, guard.spent.get(guard.tightest.id) ?? 0, {
              during: true,
            });
          }
          yield event;
        }
      } catch (caught) {
        error = caught;
        throw toAppError(caught, ref);
      } finally {
        context.signal?.removeEventListener("abort", onAbort);
        const answer = tracker.answer();
        // A consumer that stopped iterating early cancelled the call: record it as such.
        const failure = error ? errorText(error) : answer ? null : "cancelled by the caller";
        if (failure && !error) controller.abort();
        const outcome = tracker.outcome(failure);
        try {
          const callId = await record(context, ref, hashOf(), outcome);
          if (answer && !failure) {
            settle.resolve(
              resultOf(
                callId,
                request.model,
                answer,
                outcome.costMicros,
                false,
                outcome.ttftMs,
                outcome.latencyMs,
              ),
            );
          }
        } catch (recordError) {
          // The ledger row is lost (say, the database went away as the answer ended), but the answer is
          // whole: hand it over rather than leave `result` pending forever. The caller's own next write
          // meets the same database and fails or retries on its own terms.
          logger.error({ err: recordError }, "recording an AI call failed");
          if (answer && !failure) {
            settle.resolve(
              resultOf(
                null,
                request.model,
                answer,
                outcome.costMicros,
                false,
                outcome.ttftMs,
                outcome.latencyMs,
              ),
            );
          }
        }
        if (failure && !error)
          settle.reject(new AppError("SERVICE_UNAVAILABLE", "The call was cancelled", { kind: "aborted" }));
      }
    } catch (error) {
      const mapped = isAppError(error) ? error : toAppError(error, null);
      settle.reject(mapped);
      throw mapped;
    } finally {
      guard?.release();
      active--;
    }
  }

  async function complete(request: ChatRequest, context: CallContext): Promise<CallResult> {
    const s = stream(request, context);
    for await (const _ of s) {
      // drain
    }
    return s.result;
  }

  async function listModels(userId: string): Promise<ModelOption[]> {
    const creds = await db.providerCredential.findMany({
      where: { userId },
      select: { provider: true, name: true },
    });
    const has = (ref: ModelRef): boolean => {
      if (ref.provider === "compat") {
        if (ref.endpoint === "demo") return config.demo !== null;
        return (
          creds.some((c) => c.provider === "compat" && c.name === ref.endpoint) ||
          ref.endpoint in config.server.compat
        );
      }
      return creds.some((c) => c.provider === ref.provider) || !!config.server[ref.provider];
    };
    const options: ModelOption[] = [];
    for (const entry of catalog.entries) {
      if (entry.deprecated) continue;
      const parsed = parseModelId(entry.id);
      if (!parsed.ok) continue;
      const demo = parsed.ref.provider === "compat" && parsed.ref.endpoint === "demo";
      if (demo && !config.demo) continue;
      options.push({
        ...entry,
        provider: parsed.ref.provider,
        available: has(parsed.ref),
        demo,
        unpriced: false,
      });
    }
    // Available first (demo last among them), then by provider and label.
    return options.sort(
      (a, b) =>
        Number(b.available) - Number(a.available) ||
        Number(a.demo) - Number(b.demo) ||
        a.provider.localeCompare(b.provider) ||
        a.label.localeCompare(b.label),
    );
  }

  return {
    stream,
    complete,
    listModels,
    invalidateUser(userId) {
      connections.invalidate(userId);
      budgetLists.invalidate(userId);
    },
    get active() {
      return active;
    },
  };
}

// ─── Helpers ─────────────────────────────────────────────────────────────────

function withHeaders(connection: ProviderConnection, context: CallContext): ProviderConnection {
  if (!context.upstreamHeaders) return connection;
  return { ...connection, headers: { ...connection.headers, ...context.upstreamHeaders } };
}

function syntheticRunCap(userId: string, limitMicros: number): Budget {
  const at = new Date(0);
  return {
    id: RUN_CAP_ID,
    userId,
    scope: "user",
    period: "per_run",
    projectId: null,
    apiKeyId: null,
    limitMicros: BigInt(limitMicros),
    createdAt: at,
    updatedAt: at,
  };
}

function validate(request: ChatRequest): void {
  if (!Array.isArray(request.messages) || request.messages.length === 0) {
    throw new AppError("BAD_REQUEST", "A model call needs at least one message");
  }
  if (request.temperature !== undefined && (request.temperature < 0 || request.temperature > 2)) {
    throw new AppError("BAD_REQUEST", "temperature must be between 0 and 2");
  }
  if (request.maxTokens !== undefined && (!Number.isInteger(request.maxTokens) || request.maxTokens < 1)) {
    throw new AppError("BAD_REQUEST", "maxTokens must be a positive integer");
  }
}

/** Characters the model reads: messages, tool calls and tool definitions. */
export function requestCharacters(request: ChatRequest): number {
  let n = 0;
  for (const message of request.messages) {
    n += message.content.length;
    if (message.role === "assistant" && message.toolCalls) {
      for (const call of message.toolCalls) n += call.name.length + call.arguments.length;
    }
  }
  if (request.tools) n += JSON.stringify(request.tools).length;
  return n;
}

function replay(answer: CachedAnswer): StreamEvent[] {
  const events: StreamEvent[] = [];
  if (answer.text) events.push({ type: "text", delta: answer.text });
  answer.toolCalls.forEach((call, index) => {
    events.push({ type: "tool_call_start", index, id: call.id, name: call.name });
    events.push({ type: "tool_call_delta", index, argumentsDelta: call.arguments });
  });
  events.push({
    type: "finish",
    reason: answer.finishReason,
    usage: answer.usage,
    toolCalls: answer.toolCalls,
    text: answer.text,
  });
  return events;
}

function resultOf(
  callId: string | null,
  model: string,
  answer: CachedAnswer,
  cost: number,
  cached: boolean,
  ttftMs: number | null,
  latencyMs: number,
): CallResult {
  return {
    callId: callId ?? "",
    model,
    text: answer.text,
    toolCalls: answer.toolCalls,
    finishReason: answer.finishReason,
    usage: answer.usage,
    costMicros: cost,
    cached,
    ttftMs,
    latencyMs,
  };
}

/** Follows one upstream answer: time to first token, text so far, usage, cost so far. */
class Tracker {
  ttftMs: number | null = null;
  private outputChars = 0;
  private finish: Extract<StreamEvent, { type: "finish" }> | null = null;
  private reportedIn: number | null = null;

  constructor(
    private readonly entry: CatalogEntry | undefined,
    private readonly tokensInEstimate: number,
    private readonly started: number,
  ) {}

  observe(event: StreamEvent): void {
    switch (event.type) {
      case "text":
        if (this.ttftMs === null) this.ttftMs = Math.round(performance.now() - this.started);
        this.outputChars += event.delta.length;
        break;
      case "tool_call_start":
        if (this.ttftMs === null) this.ttftMs = Math.round(performance.now() - this.started);
        this.outputChars += event.name.length;
        break;
      case "tool_call_delta":
        this.outputChars += event.argumentsDelta.length;
        break;
      case "usage":
        this.reportedIn = event.usage.tokensIn;
        break;
      case "finish":
        this.finish = event;
        if (this.ttftMs === null) this.ttftMs = Math.round(performance.now() - this.started);
        break;
    }
  }

  /** Usage: the provider's final numbers, else an estimate from what streamed so far. */
  usage(): Usage {
    const estimate = {
      tokensIn: this.reportedIn ?? this.tokensInEstimate,
      tokensOut: estimateTokens(this.outputChars),
    };
    if (!this.finish) return estimate;
    // Some OpenAI-compatible servers ignore stream_options.include_usage and report nothing: estimate rather
    // than record a free call.
    const { usage } = this.finish;
    if (usage.tokensIn === 0 && usage.tokensOut === 0 && this.outputChars > 0) return estimate;
    return usage;
  }

  cost(): number {
    return costMicros(this.entry, this.usage());
  }

  answer(): CachedAnswer | null {
    if (!this.finish) return null;
    return {
      text: this.finish.text,
      toolCalls: this.finish.toolCalls,
      finishReason: this.finish.reason,
      usage: this.usage(),
      costMicros: this.cost(),
    };
  }

  outcome(error: string | null) {
    return {
      usage: this.usage(),
      costMicros: this.cost(),
      ttftMs: this.ttftMs,
      latencyMs: Math.round(performance.now() - this.started),
      cached: false,
      error,
    };
  }
}

function errorText(error: unknown): string {
  if (error instanceof ProviderError) return `${error.kind}: ${error.message}`.slice(0, 1000);
  if (isAppError(error)) return `${error.code}: ${error.message}`.slice(0, 1000);
  return (error instanceof Error ? error.message : String(error)).slice(0, 1000);
}

/** Provider failures as errors the transports know; messages stay free of secrets (adapters guarantee it). */
export function toAppError(error: unknown, ref: ModelRef | null): AppError {
  if (isAppError(error)) return error;
  if (error instanceof ProviderError) {
    const who = ref ? ref.id : "the provider";
    switch (error.kind) {
      case "rate_limited":
        return new AppError("TOO_MANY_REQUESTS", `${who} is rate limiting: ${error.message}`, {
          kind: error.kind,
          retryAfterSeconds:
            error.retryAfterMs !== undefined ? Math.ceil(error.retryAfterMs / 1000) : undefined,
        });
      case "timeout":
        return new AppError("GATEWAY_TIMEOUT", `${who} did not answer in time: ${error.message}`, {
          kind: error.kind,
        });
      case "bad_request":
        return new AppError("BAD_REQUEST", `${who} refused the request: ${error.message}`, {
          kind: error.kind,
        });
      case "aborted":
        return new AppError("SERVICE_UNAVAILABLE", "The call was cancelled", { kind: error.kind });
      default:
        return new AppError("BAD_GATEWAY", `${who} failed: ${error.message}`, { kind: error.kind });
    }
  }
  if (error instanceof Error && error.name === "AbortError") {
    return new AppError("SERVICE_UNAVAILABLE", "The call was cancelled", { kind: "aborted" });
  }
  return new AppError("BAD_GATEWAY", "The model call failed unexpectedly", { kind: "unknown" });
}

/**
 * A small time-bounded memo with per-user invalidation. Concurrent misses share one load (a burst of calls
 * after the entry expired makes one query, not one each); a failed load is not kept.
 */
class Memo<T> {
  private readonly entries = new Map<string, { value: Promise<T>; expires: number; owner: string }>();
  constructor(private readonly ttlMs: number) {}

  get(key: string, owner: string, load: () => Promise<T>): Promise<T> {
    const hit = this.entries.get(key);
    const now = performance.now();
    if (hit && hit.expires > now) return hit.value;
    const value = load();
    if (this.entries.size > 10_000) this.entries.clear();
    const entry = { value, expires: now + this.ttlMs, owner };
    this.entries.set(key, entry);
    value.catch(() => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
    });
    return value;
  }

  invalidate(owner: string): void {
    for (const [key, entry] of this.entries) if (entry.owner === owner) this.entries.delete(key);
  }
}

export type { FinishReason, ToolCall };
