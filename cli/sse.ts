/**
 * A small Server-Sent Events reader over fetch for `GET /api/v1/runs/{id}/events`: parses `id:`, `event:`,
 * `data:` and `retry:` lines, and reconnects with `Last-Event-ID` when the connection drops before the
 * stream's end (the server ends it after the run's terminal status; a reconnect after that gets 204).
 */
import { apiError, CliError } from "./errors.ts";

export type SseMessage = { id: string | null; event: string; data: string };

/** Parses an SSE byte stream into messages (the WHATWG rules, minus what the run stream never sends). */
export async function* parseSse(
  body: ReadableStream<Uint8Array>,
): AsyncGenerator<SseMessage | { retry: number }> {
  const decoder = new TextDecoder();
  let buffer = "";
  let id: string | null = null;
  let event = "";
  let data: string[] = [];
  const reader = body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      for (;;) {
        const nl = buffer.search(/\r\n|\r|\n/);
        if (nl < 0) break;
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + (buffer.startsWith("\r\n", nl) ? 2 : 1));
        if (line === "") {
          if (data.length > 0) yield { id, event: event || "message", data: data.join("\n") };
          event = "";
          data = [];
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? "" : line.slice(colon + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        if (field === "data") data.push(value);
        else if (field === "event") event = value;
        else if (field === "id" && !value.includes("\0")) id = value;
        else if (field === "retry" && /^\d+$/.test(value)) yield { retry: Number(value) };
      }
    }
  } finally {
    reader.releaseLock();
    await body.cancel().catch(() => {});
  }
}

export type FollowOptions = {
  url: string;
  key: string;
  runId: string;
  /** Resume after this seq (0: from the start). */
  after?: number;
  signal?: AbortSignal;
  /** Called for each message in order; return true to stop reading. */
  onMessage(message: SseMessage): boolean | undefined | Promise<boolean | undefined>;
  /** Told about each reconnect (for a notice on stderr). */
  onReconnect?(attempt: number, reason: string): void;
  /** Consecutive failed connections before giving up. Default 10. */
  maxAttempts?: number;
};

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });

/**
 * Follows the run's events until the stream ends for good (after the terminal status, or 204), `onMessage`
 * returns true, or `signal` aborts. Reconnects after a dropped connection or a 5xx, from the last id seen.
 */
export async function followRunEvents(options: FollowOptions): Promise<void> {
  const { url, key, runId, signal, maxAttempts = 10 } = options;
  let lastId = options.after && options.after > 0 ? String(options.after) : null;
  let retryMs = 2000;
  let failures = 0;
  for (;;) {
    if (signal?.aborted) return;
    let reason: string;
    try {
      const res = await fetch(`${url}/api/v1/runs/${encodeURIComponent(runId)}/events`, {
        headers: {
          authorization: `Bearer ${key}`,
          accept: "text/event-stream",
          ...(lastId ? { "last-event-id": lastId } : {}),
        },
        signal,
      });
      if (res.status === 204) return;
      if (!res.ok) {
        const body = (await res.json().catch(() => null)) as {
          error?: { code: string; message: string };
        } | null;
        const error = body?.error;
        // 5xx and 503 (a server shutting down): reconnect; anything else is final.
        if (res.status < 500) {
          throw error
            ? apiError(error.code, error.message, url)
            : new CliError(`Event stream: HTTP ${res.status}`);
        }
        reason = `HTTP ${res.status}${error ? ` ${error.message}` : ""}`;
      } else if (!res.body) {
        reason = "empty answer";
      } else {
        let ended = false;
        for await (const message of parseSse(res.body)) {
          if ("retry" in message) {
            retryMs = message.retry;
            continue;
          }
          failures = 0;
          if (message.id !== null) lastId = message.id;
          if (await options.onMessage(message)) {
            ended = true;
            break;
          }
        }
        if (ended) return;
        // The server closes the stream right after the terminal status; the caller stops before that.
        reason = "the connection closed";
      }
    } catch (error) {
      if (error instanceof CliError) throw error;
      if (signal?.aborted) return;
      reason = (error as Error).message;
      const cause = (error as { cause?: { code?: string } }).cause;
      if (cause?.code) reason = `${reason} (${cause.code})`;
    }
    failures += 1;
    if (failures > maxAttempts) {
      throw new CliError(
        `Lost the run's event stream (${reason}); follow it again with \`agentry runs show ${runId}\`.`,
      );
    }
    options.onReconnect?.(failures, reason);
    await sleep(Math.min(retryMs * failures, 15_000), signal);
  }
}
