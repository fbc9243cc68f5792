/**
 * The event hub of a web process: ONE `LISTEN run_events` connection, fanned out in memory to the SSE
 * streams of this process. A notification only says "run X has events up to seq N"; subscribers read the
 * RunEvent table themselves, so a lost or duplicated notification costs at most a read, never an event.
 *
 * When the connection drops the hub reconnects with backoff and then wakes every subscriber with `null`
 * (unknown seq) so each re-reads what it may have missed while nobody was listening.
 */
import pg from "pg";
import type { Logger } from "#app/lib/logger.server.ts";
import { RUN_EVENTS_CHANNEL } from "./events.server.ts";
import { ZRunEventsNotification } from "./run-events.types.ts";

/** `maxSeq` is the highest stored seq of the run, or null after a reconnect (re-read to be sure). */
export type WakeFn = (maxSeq: number | null) => void;

export type EventHub = {
  /** Call `onWake` whenever the run may have new events. Returns the unsubscribe function. */
  subscribe(runId: string, onWake: WakeFn): () => void;
  /**
   * Call `onWake` whenever the user may have new notifications (`maxSeq`: the highest Notification seq, or
   * null after a reconnect). Returns the unsubscribe function.
   */
  subscribeUser(userId: string, onWake: WakeFn): () => void;
  /** Resolves once the LISTEN is active (the first time); rejects if the hub is closed before. */
  ready(): Promise<void>;
  /** Number of runs with at least one subscriber (for tests and metrics). */
  readonly subscribedRuns: number;
  close(): Promise<void>;
};

export type EventHubOptions = {
  connectionString: string;
  logger: Pick<Logger, "warn" | "info">;
  /** Reconnect delays: doubling from `minMs` to `maxMs`. Default 100 ms → 5 s. */
  reconnect?: { minMs?: number; maxMs?: number };
  /** A `SELECT 1` on the connection this often, so a silently dead connection is noticed. Default 30 s. */
  pingIntervalMs?: number;
  /** Shown in pg_stat_activity. Default "agentry-events". */
  applicationName?: string;
};

export function createEventHub({
  connectionString,
  logger,
  reconnect = {},
  pingIntervalMs = 30_000,
  applicationName = "agentry-events",
}: EventHubOptions): EventHub {
  const minMs = reconnect.minMs ?? 100;
  const maxMs = reconnect.maxMs ?? 5_000;
  const subscribers = new Map<string, Set<WakeFn>>();
  const userSubscribers = new Map<string, Set<WakeFn>>();
  let client: pg.Client | undefined;
  let closed = false;
  let connectedOnce = false;
  let attempt = 0;
  let retryTimer: NodeJS.Timeout | undefined;
  let pingTimer: NodeJS.Timeout | undefined;
  let resolveReady!: () => void;
  let rejectReady!: (error: Error) => void;
  const readyPromise = new Promise<void>((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  // Nobody may ever call ready(): an unobserved rejection at close() must not crash the process.
  readyPromise.catch(() => {});

  const wakeAll = (fns: Set<WakeFn> | undefined, maxSeq: number | null, key: string) => {
    for (const fn of fns ?? []) {
      try {
        fn(maxSeq);
      } catch (error) {
        logger.warn({ err: error, key }, "run event subscriber failed");
      }
    }
  };
  const wake = (runId: string, maxSeq: number | null) => wakeAll(subscribers.get(runId), maxSeq, runId);

  const onNotification = (message: pg.Notification) => {
    if (message.channel !== RUN_EVENTS_CHANNEL || !message.payload) return;
    let parsed: ReturnType<typeof ZRunEventsNotification.safeParse>;
    try {
      parsed = ZRunEventsNotification.safeParse(JSON.parse(message.payload));
    } catch {
      parsed = { success: false } as typeof parsed;
    }
    if (!parsed.success) {
      logger.warn({ channel: message.channel }, "ignoring a malformed run events notification");
      return;
    }
    for (const [runId, maxSeq] of Object.entries(parsed.data.runs)) {
      if (subscribers.has(runId)) wake(runId, maxSeq);
    }
    for (const [userId, maxSeq] of Object.entries(parsed.data.users ?? {})) {
      wakeAll(userSubscribers.get(userId), maxSeq, userId);
    }
  };

  const scheduleReconnect = () => {
    if (closed || retryTimer) return;
    const delay = Math.min(maxMs, minMs * 2 ** attempt);
    attempt += 1;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      void connect();
    }, delay);
  };

  /** Drop the current connection (it failed) and try again later. */
  const lost = (current: pg.Client, error?: unknown) => {
    if (client !== current) return; // already handled
    client = undefined;
    if (pingTimer) clearInterval(pingTimer);
    pingTimer = undefined;
    current.removeAllListeners("notification");
    current.end().catch(() => {});
    if (closed) return;
    logger.warn({ err: error }, "run events LISTEN connection lost; reconnecting");
    scheduleReconnect();
  };

  async function connect() {
    if (closed) return;
    const current = new pg.Client({
      connectionString,
      application_name: applicationName,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    });
    client = current;
    current.on("error", (error) => lost(current, error));
    current.on("end", () => lost(current));
    current.on("notification", onNotification);
    try {
      await current.connect();
      await current.query(`LISTEN ${RUN_EVENTS_CHANNEL}`);
    } catch (error) {
      lost(current, error);
      return;
    }
    if (closed || client !== current) {
      await current.end().catch(() => {});
      return;
    }
    attempt = 0;
    pingTimer = setInterval(() => {
      current.query("SELECT 1").catch((error) => lost(current, error));
    }, pingIntervalMs);
    pingTimer.unref();
    if (connectedOnce) {
      logger.info({ runs: subscribers.size }, "run events LISTEN connection restored");
      // Anything notified while we were away was missed: every subscriber re-reads.
      for (const runId of subscribers.keys()) wake(runId, null);
      for (const [userId, fns] of userSubscribers) wakeAll(fns, null, userId);
    }
    connectedOnce = true;
    resolveReady();
  }

  void connect();

  const add = (map: Map<string, Set<WakeFn>>, key: string, onWake: WakeFn) => {
    let set = map.get(key);
    if (!set) {
      set = new Set();
      map.set(key, set);
    }
    // A function object per subscription, so one callback subscribed twice unsubscribes once each.
    const entry: WakeFn = (maxSeq) => onWake(maxSeq);
    set.add(entry);
    return () => {
      const current = map.get(key);
      if (!current) return;
      current.delete(entry);
      if (current.size === 0) map.delete(key);
    };
  };

  return {
    subscribe: (runId, onWake) => add(subscribers, runId, onWake),
    subscribeUser: (userId, onWake) => add(userSubscribers, userId, onWake),
    ready: () => readyPromise,
    get subscribedRuns() {
      return subscribers.size;
    },
    async close() {
      if (closed) return;
      closed = true;
      if (retryTimer) clearTimeout(retryTimer);
      if (pingTimer) clearInterval(pingTimer);
      rejectReady(new Error("the event hub was closed"));
      subscribers.clear();
      userSubscribers.clear();
      const current = client;
      client = undefined;
      if (current) {
        current.removeAllListeners("notification");
        await current.end().catch(() => {});
      }
    },
  };
}
