import { describe, expect, it } from "vitest";
import type { StreamEvent } from "../ai.types.ts";
import { DEFAULT_AI_CONFIG } from "../config.server.ts";
import {
  type RetryHooks,
  type RetryInfo,
  type RetryPolicy,
  retryPolicyFrom,
  streamWithRetries,
} from "./retry.server.ts";
import { collect, failure } from "./stream-testing.ts";
import { ProviderError } from "./types.server.ts";

const FINISH: StreamEvent = {
  type: "finish",
  reason: "stop",
  usage: { tokensIn: 3, tokensOut: 2 },
  toolCalls: [],
  text: "Hello world",
};
const OK_EVENTS: StreamEvent[] = [
  { type: "text", delta: "Hello " },
  { type: "text", delta: "world" },
  FINISH,
];

const POLICY: RetryPolicy = {
  maxRetries: 3,
  baseDelayMs: 100,
  maxDelayMs: 1000,
  firstTokenTimeoutMs: 1000,
  idleTimeoutMs: 1000,
};

/** Resolves when `signal` aborts (a stalled upstream that honours abort like the SDKs do). */
function abortPromise(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

type Step =
  | { events: StreamEvent[]; after?: "end" | ProviderError | Error | "stall" | "stall-ignoring-abort" }
  | ProviderError;

/**
 * A scripted `start`: each attempt takes the next step. Records the signals it was given and whether each
 * attempt's generator was cleaned up.
 */
function scripted(steps: Step[]) {
  const signals: AbortSignal[] = [];
  const cleanedUp: boolean[] = [];
  const start = (signal: AbortSignal, attempt: number): AsyncIterable<StreamEvent> => {
    signals.push(signal);
    const step = steps[attempt];
    if (!step) throw new Error(`no step for attempt ${attempt}`);
    cleanedUp[attempt] = false;
    return (async function* () {
      try {
        if (step instanceof ProviderError) throw step;
        for (const event of step.events) yield event;
        const after = step.after ?? "end";
        if (after === "stall") {
          await abortPromise(signal);
          throw new ProviderError("aborted", "adapter saw the abort");
        }
        if (after === "stall-ignoring-abort") {
          await new Promise(() => {});
        }
        if (after instanceof Error) throw after;
      } finally {
        cleanedUp[attempt] = true;
      }
    })();
  };
  return { start, signals, cleanedUp };
}

function fakeHooks(random = 0.5) {
  const sleeps: number[] = [];
  const retries: RetryInfo[] = [];
  const hooks: RetryHooks = {
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => random,
    onRetry: (info) => retries.push(info),
  };
  return { hooks, sleeps, retries };
}

const serverError = () => new ProviderError("server", "Mock: HTTP 500: boom", { status: 500 });

describe("streamWithRetries", () => {
  it("passes the events of a successful attempt through unchanged", async () => {
    const { start, signals } = scripted([{ events: OK_EVENTS }]);
    const { hooks, sleeps } = fakeHooks();
    const events = await collect(streamWithRetries(start, POLICY, new AbortController().signal, hooks));
    expect(events).toEqual(OK_EVENTS);
    expect(signals).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it("retries retryable errors before any output with full-jitter exponential backoff", async () => {
    const { start, signals } = scripted([serverError(), serverError(), serverError(), { events: OK_EVENTS }]);
    const { hooks, sleeps, retries } = fakeHooks(0.5);
    const events = await collect(streamWithRetries(start, POLICY, new AbortController().signal, hooks));
    expect(events).toEqual(OK_EVENTS);
    expect(signals).toHaveLength(4);
    // random() * min(maxDelayMs, base * 2^attempt): 0.5 * 100, 0.5 * 200, 0.5 * 400
    expect(sleeps).toEqual([50, 100, 200]);
    expect(retries.map((r) => [r.attempt, r.delayMs, r.error.kind])).toEqual([
      [1, 50, "server"],
      [2, 100, "server"],
      [3, 200, "server"],
    ]);
    // Every attempt has its own signal, and the failed ones were closed.
    expect(new Set(signals).size).toBe(4);
    expect(signals.slice(0, 3).every((s) => s.aborted)).toBe(true);
  });

  it("caps the backoff at maxDelayMs", async () => {
    const { start } = scripted([serverError(), serverError(), serverError(), { events: OK_EVENTS }]);
    const { hooks, sleeps } = fakeHooks(0.999);
    await collect(
      streamWithRetries(
        start,
        { ...POLICY, baseDelayMs: 600, maxDelayMs: 1000 },
        new AbortController().signal,
        hooks,
      ),
    );
    expect(sleeps).toEqual([599, 999, 999]);
  });

  it("gives up after maxRetries with the last error and the number of attempts", async () => {
    const last = new ProviderError("network", "Mock: could not connect (ECONNREFUSED)");
    const { start, signals } = scripted([serverError(), serverError(), last]);
    const { hooks } = fakeHooks();
    const error = await failure(
      streamWithRetries(start, { ...POLICY, maxRetries: 2 }, new AbortController().signal, hooks),
    );
    expect(signals).toHaveLength(3);
    expect(error.kind).toBe("network");
    expect(error.message).toBe("Mock: could not connect (ECONNREFUSED) (gave up after 3 attempts)");
  });

  it("does not retry errors that retrying cannot fix", async () => {
    for (const kind of ["auth", "bad_request"] as const) {
      const { start, signals } = scripted([new ProviderError(kind, `Mock: ${kind}`), { events: OK_EVENTS }]);
      const { hooks, sleeps } = fakeHooks();
      const error = await failure(streamWithRetries(start, POLICY, new AbortController().signal, hooks));
      expect(error.kind).toBe(kind);
      expect(error.message).toBe(`Mock: ${kind}`);
      expect(signals).toHaveLength(1);
      expect(sleeps).toEqual([]);
    }
  });

  it("does not retry once output reached the caller", async () => {
    const { start, signals } = scripted([
      {
        events: [{ type: "text", delta: "Hel" }],
        after: new ProviderError("network", "Mock: connection dropped"),
      },
      { events: OK_EVENTS },
    ]);
    const { hooks } = fakeHooks();
    const seen: StreamEvent[] = [];
    const error = await failure(streamWithRetries(start, POLICY, new AbortController().signal, hooks), seen);
    expect(seen).toEqual([{ type: "text", delta: "Hel" }]);
    expect(error.kind).toBe("network");
    expect(error.message).toBe("Mock: connection dropped");
    expect(signals).toHaveLength(1);
  });

  it("holds an early usage report back so a failure before output can still be retried", async () => {
    const usage: StreamEvent = { type: "usage", usage: { tokensIn: 3, tokensOut: 1 } };
    const overloaded = new ProviderError("server", "Mock: error in the stream: Overloaded");
    const { start, signals } = scripted([
      { events: [usage], after: overloaded },
      { events: [usage, ...OK_EVENTS] },
    ]);
    const { hooks, retries } = fakeHooks();
    const events = await collect(streamWithRetries(start, POLICY, new AbortController().signal, hooks));
    // The usage of the failed attempt is dropped; the successful one's comes just before its first output.
    expect(events).toEqual([usage, ...OK_EVENTS]);
    expect(signals).toHaveLength(2);
    expect(retries[0]?.error).toBe(overloaded);
  });

  it("waits a Retry-After within the limit (plus at most 10 % jitter)", async () => {
    const limited = new ProviderError("rate_limited", "Mock: HTTP 429: slow down", {
      status: 429,
      retryAfterMs: 800,
    });
    const { start, signals } = scripted([limited, { events: OK_EVENTS }]);
    const { hooks, sleeps } = fakeHooks(0.5);
    const events = await collect(streamWithRetries(start, POLICY, new AbortController().signal, hooks));
    expect(events).toEqual(OK_EVENTS);
    expect(signals).toHaveLength(2);
    expect(sleeps).toEqual([840]);
  });

  it("fails at once when Retry-After exceeds the longest wait, naming the wait", async () => {
    const limited = new ProviderError("rate_limited", "Mock: HTTP 429: slow down", {
      status: 429,
      retryAfterMs: 5000,
    });
    const { start, signals } = scripted([limited, { events: OK_EVENTS }]);
    const { hooks, sleeps } = fakeHooks();
    const error = await failure(streamWithRetries(start, POLICY, new AbortController().signal, hooks));
    expect(signals).toHaveLength(1);
    expect(sleeps).toEqual([]);
    expect(error.kind).toBe("rate_limited");
    expect(error.status).toBe(429);
    expect(error.retryAfterMs).toBe(5000);
    expect(error.message).toContain("wait 5 s");
    expect(error.message).toContain("1 s limit");
  });

  it("aborts an attempt whose first event does not come in time and retries it", async () => {
    const { start, signals, cleanedUp } = scripted([{ events: [], after: "stall" }, { events: OK_EVENTS }]);
    const { hooks, retries } = fakeHooks();
    const policy = { ...POLICY, firstTokenTimeoutMs: 20 };
    const events = await collect(streamWithRetries(start, policy, new AbortController().signal, hooks));
    expect(events).toEqual(OK_EVENTS);
    expect(signals[0]?.aborted).toBe(true);
    expect(signals[1]?.aborted).toBe(false);
    expect(cleanedUp[0]).toBe(true);
    expect(retries[0]?.error.kind).toBe("timeout");
    expect(retries[0]?.error.message).toContain("did not start answering");
  });

  it("times out even when the upstream ignores the abort", async () => {
    const { start, signals } = scripted([{ events: [], after: "stall-ignoring-abort" }]);
    const { hooks } = fakeHooks();
    const policy = { ...POLICY, maxRetries: 0, firstTokenTimeoutMs: 20 };
    const error = await failure(streamWithRetries(start, policy, new AbortController().signal, hooks));
    expect(error.kind).toBe("timeout");
    expect(signals[0]?.aborted).toBe(true);
  });

  it("fails with a timeout, without retrying, when the stream goes quiet after output", async () => {
    const { start, signals, cleanedUp } = scripted([
      { events: [{ type: "text", delta: "Hel" }], after: "stall" },
      { events: OK_EVENTS },
    ]);
    const { hooks } = fakeHooks();
    const policy = { ...POLICY, idleTimeoutMs: 20 };
    const seen: StreamEvent[] = [];
    const error = await failure(streamWithRetries(start, policy, new AbortController().signal, hooks), seen);
    expect(seen).toEqual([{ type: "text", delta: "Hel" }]);
    expect(error.kind).toBe("timeout");
    expect(error.message).toContain("sent nothing for");
    expect(signals).toHaveLength(1);
    expect(signals[0]?.aborted).toBe(true);
    expect(cleanedUp[0]).toBe(true);
  });

  it("treats a stream that ends without finish as a retryable protocol error", async () => {
    const { start, signals } = scripted([{ events: [] }, { events: OK_EVENTS }]);
    const { hooks, retries } = fakeHooks();
    const events = await collect(streamWithRetries(start, POLICY, new AbortController().signal, hooks));
    expect(events).toEqual(OK_EVENTS);
    expect(signals).toHaveLength(2);
    expect(retries[0]?.error.kind).toBe("protocol");
  });

  it("throws aborted promptly when the caller aborts mid-stream, even if the upstream ignores it", async () => {
    const { start, signals } = scripted([
      { events: [{ type: "text", delta: "Hel" }], after: "stall-ignoring-abort" },
    ]);
    const { hooks } = fakeHooks();
    const caller = new AbortController();
    const seen: StreamEvent[] = [];
    const pending = failure(streamWithRetries(start, POLICY, caller.signal, hooks), seen);
    // Abort once the first event has been delivered.
    await expect.poll(() => seen.length).toBe(1);
    caller.abort();
    const error = await pending;
    expect(error.kind).toBe("aborted");
    expect(signals[0]?.aborted).toBe(true);
  });

  it("interrupts the backoff sleep when the caller aborts", async () => {
    const { start, signals } = scripted([serverError(), { events: OK_EVENTS }]);
    const caller = new AbortController();
    const started = Date.now();
    // Real sleep of ~10 s, cut short by the abort issued from onRetry.
    const hooks: RetryHooks = { random: () => 1, onRetry: () => queueMicrotask(() => caller.abort()) };
    const error = await failure(
      streamWithRetries(start, { ...POLICY, baseDelayMs: 10_000, maxDelayMs: 10_000 }, caller.signal, hooks),
    );
    expect(error.kind).toBe("aborted");
    expect(Date.now() - started).toBeLessThan(1000);
    expect(signals).toHaveLength(1);
  });

  it("does not start when the caller's signal is already aborted", async () => {
    const { start, signals } = scripted([{ events: OK_EVENTS }]);
    const caller = new AbortController();
    caller.abort();
    const error = await failure(streamWithRetries(start, POLICY, caller.signal, fakeHooks().hooks));
    expect(error.kind).toBe("aborted");
    expect(signals).toHaveLength(0);
  });

  it("closes the attempt when the consumer stops iterating early", async () => {
    const { start, signals, cleanedUp } = scripted([{ events: OK_EVENTS }]);
    for await (const event of streamWithRetries(
      start,
      POLICY,
      new AbortController().signal,
      fakeHooks().hooks,
    )) {
      expect(event).toEqual({ type: "text", delta: "Hello " });
      break;
    }
    expect(signals[0]?.aborted).toBe(true);
    await expect.poll(() => cleanedUp[0]).toBe(true);
  });

  it("leaves the attempt's signal alone after a complete answer", async () => {
    const { start, signals } = scripted([{ events: OK_EVENTS }]);
    await collect(streamWithRetries(start, POLICY, new AbortController().signal, fakeHooks().hooks));
    expect(signals[0]?.aborted).toBe(false);
  });

  it("rethrows errors that are not ProviderErrors without retrying", async () => {
    const bug = new TypeError("a bug");
    const { start, signals } = scripted([{ events: [], after: bug }, { events: OK_EVENTS }]);
    const iterable = streamWithRetries(start, POLICY, new AbortController().signal, fakeHooks().hooks);
    await expect(collect(iterable)).rejects.toBe(bug);
    expect(signals).toHaveLength(1);
  });

  it("derives the policy from the AI config", () => {
    expect(retryPolicyFrom({ ...DEFAULT_AI_CONFIG, maxRetries: 5, maxRetryDelayMs: 7000 })).toEqual({
      maxRetries: 5,
      baseDelayMs: 500,
      maxDelayMs: 7000,
      firstTokenTimeoutMs: DEFAULT_AI_CONFIG.firstTokenTimeoutMs,
      idleTimeoutMs: DEFAULT_AI_CONFIG.idleTimeoutMs,
    });
  });
});
