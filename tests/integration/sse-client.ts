/**
 * A Server-Sent Events client that behaves like the browser's EventSource: it remembers the last `id:`,
 * honours `retry:`, and when the stream ends or the connection breaks it reconnects after that delay with
 * `Last-Event-ID`; a 204 ends it for good. Unlike EventSource it also retries after a 5xx (a web process
 * whose database is restarting), as an app that re-creates its EventSource on error would, and it stops by
 * itself after the run's terminal `status` event (as the run page does). Everything it receives is recorded.
 */

export type ReceivedEvent = { id: number; event: string; data: unknown; at: number };

export type SseClient = {
  /** Every event received, in order of arrival (duplicates included, if the server ever sent any). */
  readonly events: ReceivedEvent[];
  /** One entry per HTTP request made: the status answered (0: the request failed), and the Last-Event-ID sent. */
  readonly connections: Array<{ status: number; lastEventId: string | null }>;
  /** Resolves when the terminal status event has arrived (or a 204 said there is nothing more). */
  readonly done: Promise<void>;
  /** Cut the current connection as a network failure would; the client reconnects after `retry`. */
  dropConnection(): void;
  /** Stop for good. */
  close(): void;
};

const TERMINAL = new Set(["succeeded", "failed", "cancelled", "dead"]);

export function openRunEvents({
  url,
  token,
  defaultRetryMs = 3_000,
}: {
  /** …/api/v1/runs/:id/events */
  url: string;
  /** Bearer token. */
  token: string;
  /** Reconnect delay until the server sends `retry:` (EventSource's default is a few seconds). */
  defaultRetryMs?: number;
}): SseClient {
  const events: ReceivedEvent[] = [];
  const connections: SseClient["connections"] = [];
  let lastEventId: string | null = null;
  let retryMs = defaultRetryMs;
  let closed = false;
  let current: AbortController | null = null;
  let resolveDone!: () => void;
  const done = new Promise<void>((resolve) => {
    resolveDone = resolve;
  });

  const finish = () => {
    closed = true;
    current?.abort();
    resolveDone();
  };

  /** Parse one connection's stream per the SSE spec (fields id, event, data, retry; comments skipped). */
  async function read(body: ReadableStream<Uint8Array>) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    let event = "";
    let data: string[] = [];
    let id: string | null = null;
    const dispatch = () => {
      if (id !== null) lastEventId = id;
      if (data.length > 0) {
        const text = data.join("\n");
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // not JSON: keep the text
        }
        events.push({ id: Number(lastEventId), event: event || "message", data: parsed, at: Date.now() });
        const status = (parsed as { status?: unknown } | null)?.status;
        if (event === "status" && typeof status === "string" && TERMINAL.has(status)) finish();
      }
      event = "";
      data = [];
      id = null;
    };
    for (;;) {
      const { value, done: ended } = await reader.read();
      if (ended) return;
      buffer += decoder.decode(value, { stream: true });
      for (let nl = buffer.search(/\r\n|\r|\n/); nl !== -1; nl = buffer.search(/\r\n|\r|\n/)) {
        const width = buffer.startsWith("\r\n", nl) ? 2 : 1;
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + width);
        if (line === "") {
          dispatch();
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon === -1 ? line : line.slice(0, colon);
        let v = colon === -1 ? "" : line.slice(colon + 1);
        if (v.startsWith(" ")) v = v.slice(1);
        if (field === "event") event = v;
        else if (field === "data") data.push(v);
        else if (field === "id") id = v;
        else if (field === "retry" && /^\d+$/.test(v)) retryMs = Number(v);
        if (closed) return;
      }
    }
  }

  async function loop() {
    while (!closed) {
      const controller = new AbortController();
      current = controller;
      const sent = lastEventId;
      try {
        const res = await fetch(url, {
          headers: {
            accept: "text/event-stream",
            authorization: `Bearer ${token}`,
            ...(sent !== null ? { "last-event-id": sent } : {}),
          },
          signal: controller.signal,
        });
        connections.push({ status: res.status, lastEventId: sent });
        if (res.status === 204) {
          finish();
          return;
        }
        if (res.status === 200 && res.body) await read(res.body);
        else await res.body?.cancel().catch(() => {});
        if (res.status >= 400 && res.status < 500) {
          finish();
          throw new Error(`the event stream answered ${res.status}`);
        }
      } catch (error) {
        if (closed) return;
        if ((error as Error).message?.startsWith("the event stream answered")) throw error;
        if (controller.signal.aborted === false) connections.push({ status: 0, lastEventId: sent });
      }
      if (closed) return;
      await new Promise((resolve) => setTimeout(resolve, retryMs));
    }
  }

  const running = loop();
  // A 4xx ends the client; the test sees it as a `done` with no terminal event (and the rejection here).
  running.catch(() => {});

  return {
    events,
    connections,
    done,
    dropConnection() {
      current?.abort();
    },
    close: finish,
  };
}
