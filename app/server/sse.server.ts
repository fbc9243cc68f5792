/**
 * Plumbing shared by the Server-Sent Events routes (run events, notifications): the response head, writes
 * that respect a slow client, and the serialised "read what is new" loop a wake-up triggers.
 */
import type { Response } from "express";

/** Send the event-stream head (no caching, no proxy buffering, Nagle off) and a first block, e.g. `retry:`. */
export function startEventStream(res: Response, firstBlock: string): void {
  res.writeHead(200, {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache, no-transform",
    "X-Accel-Buffering": "no",
    Connection: "keep-alive",
  });
  res.socket?.setNoDelay(true);
  res.write(firstBlock);
}

/** Write `chunk`; when the socket's buffer is full, a promise that settles once the client took it (or left). */
export function writeOrWait(res: Response, chunk: string | Buffer): Promise<void> | undefined {
  if (res.write(chunk)) return undefined;
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}

/**
 * Serialised reads: `pump()` runs `drain` unless it is running, in which case it asks for one more run after
 * it (a wake-up during a read is never lost, and reads never overlap). A failing drain calls `onError` (the
 * stream closes; the client reconnects with Last-Event-ID).
 */
export function serialPump(
  drain: () => Promise<void>,
  { ended, onError }: { ended: () => boolean; onError: (error: unknown) => void },
): { pump(): Promise<void>; readonly busy: boolean } {
  let running: Promise<void> | null = null;
  let again = false;
  return {
    pump() {
      if (ended()) return Promise.resolve();
      if (running) {
        again = true;
        return running;
      }
      running = (async () => {
        try {
          do {
            again = false;
            await drain();
          } while (again && !ended());
        } catch (error) {
          onError(error);
        } finally {
          running = null;
        }
      })();
      return running;
    },
    get busy() {
      return running !== null;
    },
  };
}

/**
 * Tie a stream's end to its client and to the server's shutdown: a shutdown sends a jittered `retry:` hint
 * and calls `finish` (the stream ends; the client reconnects elsewhere with Last-Event-ID); the client leaving calls `closed` (stop timers, drop
 * subscriptions).
 */
export function bindStreamLifetime(
  res: Response,
  shutdown: AbortSignal | undefined,
  { finish, closed }: { finish: () => void; closed: () => void },
): void {
  const onShutdown = () => {
    // A last reconnection hint, spread over 0.5–2.5 s so the clients of a stopping server do not all
    // reconnect to the others in the same instant.
    if (!res.writableEnded) res.write(`retry: ${500 + Math.floor(Math.random() * 2000)}\n\n`);
    finish();
  };
  shutdown?.addEventListener("abort", onShutdown, { once: true });
  res.on("close", () => {
    closed();
    shutdown?.removeEventListener("abort", onShutdown);
  });
}
