import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { RunEventsPage, StoredRunEvent } from "#app/modules/runs/run-events.types.ts";
import { applyRunEvents, initialRunState } from "./run-state.ts";
import { type ConnectionState, followRun } from "./use-run-events.ts";

/** An EventSource the test drives: open it, send frames, drop it. */
class FakeSource {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSED = 2;
  static instances: FakeSource[] = [];
  readyState = FakeSource.CONNECTING;
  onopen: (() => void) | null = null;
  onerror: (() => void) | null = null;
  private listeners = new Map<string, Array<(event: unknown) => void>>();
  constructor(readonly url: string) {
    FakeSource.instances.push(this);
  }
  addEventListener(type: string, listener: (event: unknown) => void) {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }
  close() {
    this.readyState = FakeSource.CLOSED;
  }
  open() {
    this.readyState = FakeSource.OPEN;
    this.onopen?.();
  }
  send(event: StoredRunEvent) {
    for (const listener of this.listeners.get(event.type) ?? []) {
      listener({ type: event.type, data: JSON.stringify(event.data), lastEventId: String(event.seq) });
    }
  }
  /** A dropped connection the browser will retry (CONNECTING) or a refused one (CLOSED). */
  fail(closed = false) {
    this.readyState = closed ? FakeSource.CLOSED : FakeSource.CONNECTING;
    this.onerror?.();
  }
}

const at = "2026-01-01T12:00:00.000Z";
const token = (seq: number, text: string): StoredRunEvent => ({
  seq,
  type: "token",
  stepId: "ask",
  data: { stepId: "ask", text },
  createdAt: at,
});
const running: StoredRunEvent = {
  seq: 1,
  type: "status",
  stepId: null,
  data: { status: "running" },
  createdAt: at,
};
const started: StoredRunEvent = {
  seq: 2,
  type: "step_started",
  stepId: "ask",
  data: { stepId: "ask", index: 0, type: "llm" },
  createdAt: at,
};
const end = (seq: number): StoredRunEvent => ({
  seq,
  type: "status",
  stepId: null,
  data: { status: "succeeded" },
  createdAt: at,
});

/** events.json answers from a list of stored events, like the server (`after`, page of `limit`). */
function fakeServer(stored: StoredRunEvent[], options: { finished?: () => boolean; status?: number } = {}) {
  const calls: string[] = [];
  const fetcher = vi.fn(async (input: string | URL | Request) => {
    const url = new URL(String(input), "http://localhost");
    calls.push(`${url.pathname}${url.search}`);
    if (options.status) {
      return new Response(JSON.stringify({ error: { code: "NOT_FOUND", message: "Run not found" } }), {
        status: options.status,
      });
    }
    const after = Number(url.searchParams.get("after") ?? 0);
    const events = stored.filter((event) => event.seq > after).slice(0, 1000);
    const lastSeq = events.at(-1)?.seq ?? after;
    const terminal = stored.some((e) => e.type === "status" && e.data.status === "succeeded");
    const page: RunEventsPage = {
      events,
      lastSeq,
      done: (options.finished?.() ?? terminal) && lastSeq >= (stored.at(-1)?.seq ?? 0),
    };
    return new Response(JSON.stringify(page), { status: 200 });
  });
  return { fetcher: fetcher as unknown as typeof fetch, calls };
}

function follow(
  runId: string,
  options: Parameters<typeof followRun>[2],
): { received: StoredRunEvent[]; states: ConnectionState[]; errors: string[]; stop: () => void } {
  const received: StoredRunEvent[] = [];
  const states: ConnectionState[] = [];
  const errors: string[] = [];
  const stop = followRun(
    runId,
    {
      onEvents: (events) => received.push(...events),
      onConnection: (state) => states.push(state),
      onError: (message) => errors.push(message),
    },
    { flushMs: 0, pollMs: 100, ...options },
  );
  return { received, states, errors, stop };
}

const RUN = "0190a0a0-0000-7000-8000-000000000001";
const Source = FakeSource as unknown as typeof EventSource;

beforeEach(() => {
  vi.useFakeTimers();
  FakeSource.instances = [];
});
afterEach(() => {
  vi.useRealTimers();
});

describe("followRun", () => {
  it("catches up from events.json, then streams after the last seq; ends at the terminal status", async () => {
    const stored: StoredRunEvent[] = [running, started, token(3, "tok0 ")];
    const server = fakeServer(stored);
    const run = follow(RUN, { eventSource: Source, fetcher: server.fetcher });
    await vi.advanceTimersByTimeAsync(0);
    expect(server.calls).toEqual([`/api/v1/runs/${RUN}/events.json?after=0`]);
    expect(FakeSource.instances.map((s) => s.url)).toEqual([`/api/v1/runs/${RUN}/events?after=3`]);
    const stream = FakeSource.instances[0]!;
    stream.open();
    stream.send(token(4, "tok1 "));
    stream.send(token(4, "tok1 ")); // a duplicate frame
    stream.send(token(5, "tok2"));
    stream.send(end(6));
    await vi.advanceTimersByTimeAsync(10);
    expect(run.received.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(run.states).toEqual(["connecting", "live", "done"]);
    expect(stream.readyState).toBe(FakeSource.CLOSED);
    const state = applyRunEvents(initialRunState, run.received);
    expect(state.steps.ask?.text).toBe("tok0 tok1 tok2");
    expect(state.status).toBe("succeeded");
    run.stop();
  });

  it("a finished run needs no stream", async () => {
    const server = fakeServer([running, started, token(3, "hi"), end(4)]);
    const run = follow(RUN, { eventSource: Source, fetcher: server.fetcher });
    await vi.advanceTimersByTimeAsync(0);
    expect(FakeSource.instances).toHaveLength(0);
    expect(run.received.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(run.states).toEqual(["connecting", "done"]);
  });

  it("a dropped stream shows reconnecting, and the browser's retry resumes without loss", async () => {
    const server = fakeServer([running]);
    const run = follow(RUN, { eventSource: Source, fetcher: server.fetcher });
    await vi.advanceTimersByTimeAsync(0);
    const stream = FakeSource.instances[0]!;
    stream.open();
    stream.send(started);
    stream.fail(); // network drop: EventSource retries by itself with Last-Event-ID
    expect(run.states.at(-1)).toBe("reconnecting");
    stream.open();
    // The server resumes after Last-Event-ID = 2, but may repeat what was in flight.
    stream.send(started);
    stream.send(token(3, "a"));
    stream.send(end(4));
    await vi.advanceTimersByTimeAsync(10);
    expect(run.received.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(run.states).toEqual(["connecting", "live", "reconnecting", "live", "done"]);
    expect(FakeSource.instances).toHaveLength(1);
  });

  it("a refused stream is reopened after the last seq; a stream that never opens falls back to polling", async () => {
    const stored: StoredRunEvent[] = [running, started];
    let finished = false;
    const server = fakeServer(stored, { finished: () => finished });
    const run = follow(RUN, { eventSource: Source, fetcher: server.fetcher });
    await vi.advanceTimersByTimeAsync(0);
    // Three refusals in a row, never opening (a proxy that blocks event streams).
    for (let attempt = 1; attempt <= 3; attempt += 1) {
      const stream = FakeSource.instances.at(-1)!;
      expect(stream.url).toBe(`/api/v1/runs/${RUN}/events?after=2`);
      stream.fail(true);
      await vi.advanceTimersByTimeAsync(5_000);
    }
    expect(FakeSource.instances).toHaveLength(3);
    expect(run.states).toContain("polling");
    // Polling follows the run to its end.
    stored.push(token(3, "x"), end(4));
    finished = true;
    await vi.advanceTimersByTimeAsync(500);
    expect(run.received.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(run.states.at(-1)).toBe("done");
    expect(server.calls.at(-1)).toMatch(/events\.json\?after=2$/);
    expect(FakeSource.instances).toHaveLength(3);
  });

  it("without EventSource it polls events.json", async () => {
    const stored: StoredRunEvent[] = [running];
    const server = fakeServer(stored);
    const run = follow(RUN, { eventSource: null, fetcher: server.fetcher });
    await vi.advanceTimersByTimeAsync(0);
    expect(run.states).toEqual(["connecting", "polling"]);
    stored.push(started, token(3, "y"));
    await vi.advanceTimersByTimeAsync(150);
    stored.push(end(4));
    await vi.advanceTimersByTimeAsync(150);
    expect(run.received.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(run.states.at(-1)).toBe("done");
    const polls = server.calls.length;
    await vi.advanceTimersByTimeAsync(1_000);
    expect(server.calls.length).toBe(polls);
  });

  it("a network error while catching up retries with backoff", async () => {
    const stored: StoredRunEvent[] = [running, started];
    let down = true;
    const server = fakeServer(stored);
    const fetcher = vi.fn(async (input: string | URL | Request, init?: RequestInit) => {
      if (down) throw new TypeError("Failed to fetch");
      return server.fetcher(input, init);
    }) as unknown as typeof fetch;
    const run = follow(RUN, { eventSource: Source, fetcher });
    await vi.advanceTimersByTimeAsync(0);
    expect(run.states).toEqual(["connecting", "reconnecting"]);
    down = false;
    await vi.advanceTimersByTimeAsync(1_000);
    expect(FakeSource.instances).toHaveLength(1);
    expect(run.received.map((e) => e.seq)).toEqual([1, 2]);
    run.stop();
  });

  it("a run that is not found (or another user's) is an error, not a retry loop", async () => {
    const server = fakeServer([], { status: 404 });
    const run = follow(RUN, { eventSource: Source, fetcher: server.fetcher });
    await vi.advanceTimersByTimeAsync(5_000);
    expect(run.errors).toEqual(["Run not found"]);
    expect(run.states.at(-1)).toBe("error");
    expect(server.calls).toHaveLength(1);
  });

  it("stop() closes the stream and delivers nothing more", async () => {
    const server = fakeServer([running]);
    const run = follow(RUN, { eventSource: Source, fetcher: server.fetcher });
    await vi.advanceTimersByTimeAsync(0);
    const stream = FakeSource.instances[0]!;
    stream.open();
    run.stop();
    expect(stream.readyState).toBe(FakeSource.CLOSED);
    stream.send(started);
    await vi.advanceTimersByTimeAsync(100);
    expect(run.received.map((e) => e.seq)).toEqual([1]);
  });
});
