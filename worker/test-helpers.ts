import { Writable } from "node:stream";
import type { WorkerEventMap, WorkerEvents } from "graphile-worker";
import pino from "pino";

/** A pino logger that keeps its lines in memory, for asserting on what was logged. */
export function createCapturingLogger(level: pino.Level = "debug") {
  const lines: Array<Record<string, unknown> & { level: number; msg?: string }> = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      for (const line of String(chunk).split("\n")) if (line) lines.push(JSON.parse(line));
      callback();
    },
  });
  const logger = pino({ level }, stream);
  return { logger, lines };
}

/** Poll `check` until it returns a truthy value; fail after `timeoutMs`. */
export async function waitFor<T>(
  check: () => Promise<T | null | undefined | false> | T | null | undefined | false,
  { timeoutMs = 10_000, intervalMs = 20, what = "condition" } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolve with the first `eventName` event matching `predicate`; reject after `timeoutMs`. */
export function nextEvent<E extends keyof WorkerEventMap & string>(
  events: WorkerEvents,
  eventName: E,
  predicate: (payload: WorkerEventMap[E]) => boolean = () => true,
  timeoutMs = 10_000,
): Promise<WorkerEventMap[E]> {
  return new Promise((resolve, reject) => {
    const listener = (payload: WorkerEventMap[E]) => {
      if (!predicate(payload)) return;
      clearTimeout(timer);
      events.off(eventName, listener);
      resolve(payload);
    };
    const timer = setTimeout(() => {
      events.off(eventName, listener);
      reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${eventName}`));
    }, timeoutMs);
    events.on(eventName, listener);
  });
}

/** A promise with its resolve exposed: lets a test hold a task mid-run and release it. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}
