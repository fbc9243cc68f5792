/**
 * Retries and timeouts around one streaming provider call.
 *
 * - Each attempt gets its own AbortController, linked to the caller's signal; aborting it closes the upstream
 *   request (timeouts, caller abort, and a consumer that stops iterating early all abort it).
 * - Retryable ProviderErrors (429, 5xx, network, timeout, protocol) are retried only while nothing has been
 *   yielded to the caller; once output has gone out, errors are thrown as they are. A `usage` event that comes
 *   before any output is held back and yielded just before the first output event (it counts as activity for
 *   the timeouts, not as output), so Anthropic's early usage report does not rule out a retry.
 * - Backoff is full-jitter exponential (`random() * min(maxDelayMs, baseDelayMs * 2^attempt)`); a provider's
 *   Retry-After is honoured (plus ≤ 10 % jitter) when it is ≤ maxDelayMs and fails the call at once otherwise.
 * - No first event within firstTokenTimeoutMs, or a gap between events longer than idleTimeoutMs, aborts the
 *   attempt with ProviderError("timeout").
 */
import type { StreamEvent } from "../ai.types.ts";
import type { AiConfig } from "../config.server.ts";
import { ProviderError } from "./types.server.ts";

export type RetryPolicy = {
  /** Retries after the first attempt. */
  maxRetries: number;
  /** Base of the exponential backoff (default 500). */
  baseDelayMs: number;
  /** Longest single wait; a Retry-After beyond it fails the call at once. */
  maxDelayMs: number;
  /** Per attempt: the first event must arrive within this. */
  firstTokenTimeoutMs: number;
  /** Longest gap between two events. */
  idleTimeoutMs: number;
};

export const DEFAULT_BASE_DELAY_MS = 500;

export function retryPolicyFrom(config: AiConfig): RetryPolicy {
  return {
    maxRetries: config.maxRetries,
    baseDelayMs: DEFAULT_BASE_DELAY_MS,
    maxDelayMs: config.maxRetryDelayMs,
    firstTokenTimeoutMs: config.firstTokenTimeoutMs,
    idleTimeoutMs: config.idleTimeoutMs,
  };
}

export type RetryInfo = {
  /** The attempt about to start (1 = the first retry); the same number `start` receives. */
  attempt: number;
  delayMs: number;
  /** Why the previous attempt failed. */
  error: ProviderError;
};

export type RetryHooks = {
  onRetry?(info: RetryInfo): void;
  /** Waits between attempts (tests inject a fake); must settle when `signal` aborts. */
  sleep?(ms: number, signal: AbortSignal): Promise<void>;
  /** In [0, 1): the jitter source (tests inject a fixed one). */
  random?(): number;
};

/** A stream start: `attempt` is 0 for the first try. Must honour `signal` (abort closes the request). */
export type StreamStart = (signal: AbortSignal, attempt: number) => AsyncIterable<StreamEvent>;

const MAX_EXPONENT = 30;

function cancelledError(): ProviderError {
  return new ProviderError("aborted", "The request was cancelled");
}

export function defaultSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/** Waits `ms` with the (possibly injected) sleep, returning early when `signal` aborts. */
function sleepUnlessAborted(
  sleep: NonNullable<RetryHooks["sleep"]>,
  ms: number,
  signal: AbortSignal,
): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve();
    signal.addEventListener("abort", onAbort, { once: true });
    sleep(ms, signal).then(
      () => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        if (signal.aborted) resolve();
        else reject(error);
      },
    );
  });
}

function seconds(ms: number): string {
  const value = ms / 1000;
  return `${Number.isInteger(value) ? value : value.toFixed(1)} s`;
}

function withAttempts(error: ProviderError, attempts: number): ProviderError {
  if (attempts <= 1) return error;
  return new ProviderError(error.kind, `${error.message} (gave up after ${attempts} attempts)`, {
    ...error.options,
    cause: error,
  });
}

/**
 * Runs `start` with retries and timeouts (see the module comment). Yields the events of the attempt that
 * succeeds; throws ProviderError on final failure.
 */
export async function* streamWithRetries(
  start: StreamStart,
  policy: RetryPolicy,
  signal: AbortSignal,
  hooks: RetryHooks = {},
): AsyncGenerator<StreamEvent, void, undefined> {
  const sleep = hooks.sleep ?? defaultSleep;
  const random = hooks.random ?? Math.random;
  const baseDelayMs = policy.baseDelayMs ?? DEFAULT_BASE_DELAY_MS;
  /** Once an event went out, nothing is retried. */
  let yielded = false;

  for (let attempt = 0; ; attempt++) {
    if (signal.aborted) throw cancelledError();

    const controller = new AbortController();
    /** Why we aborted this attempt (timeout or caller abort); wins over what the adapter then throws. */
    let failure: ProviderError | null = null;
    let rejectPending: ((error: unknown) => void) | null = null;
    const abortAttempt = (reason: ProviderError) => {
      if (failure) return;
      failure = reason;
      controller.abort(reason);
      rejectPending?.(reason);
    };
    const onCallerAbort = () => abortAttempt(cancelledError());
    signal.addEventListener("abort", onCallerAbort, { once: true });

    let iterator: AsyncIterator<StreamEvent> | null = null;
    let completed = false;
    let sawEvent = false;
    let sawFinish = false;
    let heldUsage: StreamEvent | null = null;
    let retryDelayMs = 0;
    try {
      iterator = start(controller.signal, attempt)[Symbol.asyncIterator]();
      while (true) {
        const timeoutMs = sawEvent ? policy.idleTimeoutMs : policy.firstTokenTimeoutMs;
        const current: AsyncIterator<StreamEvent> = iterator;
        const result = await new Promise<IteratorResult<StreamEvent>>((resolve, reject) => {
          if (failure) return reject(failure);
          const timer = setTimeout(() => {
            abortAttempt(
              new ProviderError(
                "timeout",
                sawEvent
                  ? `The provider sent nothing for ${seconds(timeoutMs)} in the middle of the answer`
                  : `The provider did not start answering within ${seconds(timeoutMs)}`,
              ),
            );
          }, timeoutMs);
          rejectPending = (error) => {
            clearTimeout(timer);
            reject(error);
          };
          current.next().then(
            (value) => {
              clearTimeout(timer);
              resolve(value);
            },
            (error: unknown) => {
              clearTimeout(timer);
              reject(error);
            },
          );
        });
        rejectPending = null;
        if (result.done) {
          if (!sawFinish)
            throw new ProviderError("protocol", "The provider's stream ended without a finish event");
          completed = true;
          return;
        }
        sawEvent = true;
        const event = result.value;
        if (event.type === "usage") {
          // Held back until real output follows: a usage report (Anthropic's message_start) is not output,
          // and sending it would forbid retrying a failure that comes before the first token.
          heldUsage = event;
          continue;
        }
        if (event.type === "finish") sawFinish = true;
        yielded = true;
        if (heldUsage) {
          const usage = heldUsage;
          heldUsage = null;
          yield usage;
        }
        yield event;
      }
    } catch (thrown) {
      rejectPending = null;
      const error: unknown = failure ?? thrown;
      if (signal.aborted) throw cancelledError();
      if (!(error instanceof ProviderError)) throw error;
      if (error.kind === "aborted") throw error;
      const attempts = attempt + 1;
      if (yielded || !error.retryable || attempt >= policy.maxRetries) throw withAttempts(error, attempts);

      const retryAfterMs = error.retryAfterMs;
      if (retryAfterMs !== undefined) {
        if (retryAfterMs > policy.maxDelayMs) {
          throw new ProviderError(
            error.kind,
            `${error.message} — the provider asks to wait ${seconds(retryAfterMs)}, longer than the ${seconds(policy.maxDelayMs)} limit`,
            { ...error.options, cause: error },
          );
        }
        retryDelayMs = retryAfterMs + random() * 0.1 * retryAfterMs;
      } else {
        retryDelayMs =
          random() * Math.min(policy.maxDelayMs, baseDelayMs * 2 ** Math.min(attempt, MAX_EXPONENT));
      }
      retryDelayMs = Math.round(retryDelayMs);
      hooks.onRetry?.({ attempt: attempt + 1, delayMs: retryDelayMs, error });
    } finally {
      signal.removeEventListener("abort", onCallerAbort);
      if (!completed) {
        // Timeout, failure, or the consumer stopped early: close the upstream request.
        if (!controller.signal.aborted) controller.abort(cancelledError());
        // Let the adapter's generator run its cleanup; a pending step settles after the abort.
        try {
          iterator?.return?.()?.catch(() => {});
        } catch {
          // the adapter is already gone
        }
      }
    }
    // Only a retry gets here.
    await sleepUnlessAborted(sleep, retryDelayMs, signal);
    if (signal.aborted) throw cancelledError();
  }
}
