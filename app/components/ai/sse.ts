/**
 * An incremental parser for Server-Sent Events read from a fetch() body (EventSource cannot POST). Feeds on
 * decoded text chunks that may split lines and events anywhere; calls `onEvent` once per complete event.
 * Comments (`: ping`) are skipped; `data:` lines of one event are joined with newlines, per the spec.
 */
export type SseMessage = { event: string; data: string; id: string | null };

export function createSseParser(onEvent: (message: SseMessage) => void) {
  let buffer = "";
  let event = "";
  let data: string[] = [];
  let id: string | null = null;

  const dispatch = () => {
    if (data.length > 0) onEvent({ event: event || "message", data: data.join("\n"), id });
    event = "";
    data = [];
  };

  const line = (text: string) => {
    if (text === "") return dispatch();
    if (text.startsWith(":")) return;
    const colon = text.indexOf(":");
    const field = colon === -1 ? text : text.slice(0, colon);
    let value = colon === -1 ? "" : text.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
    else if (field === "id") id = value;
  };

  return {
    push(chunk: string) {
      buffer += chunk;
      let newline = buffer.search(/\r\n|\r|\n/);
      while (newline !== -1) {
        const width = buffer.startsWith("\r\n", newline) ? 2 : 1;
        // A lone \r at the very end may be the first half of \r\n: wait for more.
        if (buffer[newline] === "\r" && width === 1 && newline === buffer.length - 1) break;
        line(buffer.slice(0, newline));
        buffer = buffer.slice(newline + width);
        newline = buffer.search(/\r\n|\r|\n/);
      }
    },
    /** The stream ended: a final event without its blank line is dropped, as browsers do. */
    end() {
      buffer = "";
      event = "";
      data = [];
    },
  };
}

/** Read SSE from a fetch Response until it ends or `signal` aborts. */
export async function readSse(response: Response, onEvent: (message: SseMessage) => void): Promise<void> {
  if (!response.body) return;
  const parser = createSseParser(onEvent);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    parser.push(decoder.decode(value, { stream: true }));
  }
  parser.end();
}
