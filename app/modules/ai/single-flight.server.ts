/**
 * Single-flight for streams: N identical concurrent requests share one upstream call. The first caller starts
 * the flight; everyone (the first included) subscribes and receives every event from the beginning, at their
 * own pace. The upstream is cancelled only when every subscriber has gone, so one impatient caller cannot
 * break the others' answers.
 */

type Waiter = () => void;

export class Flight<T> {
  private readonly events: T[] = [];
  private finished = false;
  private failure: { error: unknown } | undefined;
  private waiters: Waiter[] = [];
  private subscribers = 0;
  private everSubscribed = 0;
  /** Aborted when the last subscriber leaves before the end. */
  readonly controller = new AbortController();

  get followers(): number {
    return Math.max(0, this.everSubscribed - 1);
  }

  get done(): boolean {
    return this.finished;
  }

  /** Every subscriber left before the end: the upstream is being cancelled, nobody may join any more. */
  get abandoned(): boolean {
    return this.controller.signal.aborted;
  }

  push(event: T): void {
    this.events.push(event);
    this.wake();
  }

  finish(): void {
    this.finished = true;
    this.wake();
  }

  fail(error: unknown): void {
    this.failure = { error };
    this.finished = true;
    this.wake();
  }

  private wake(): void {
    const waiters = this.waiters;
    if (waiters.length === 0) return;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** Every event from the first one, then live; throws the flight's error; `signal` detaches this subscriber. */
  async *subscribe(signal?: AbortSignal): AsyncGenerator<T, void, undefined> {
    this.subscribers++;
    this.everSubscribed++;
    let index = 0;
    try {
      for (;;) {
        while (index < this.events.length) yield this.events[index++] as T;
        if (this.finished) {
          if (this.failure) throw this.failure.error;
          return;
        }
        signal?.throwIfAborted();
        await new Promise<void>((resolve) => {
          const onAbort = () => resolve();
          signal?.addEventListener("abort", onAbort, { once: true });
          this.waiters.push(() => {
            signal?.removeEventListener("abort", onAbort);
            resolve();
          });
        });
        signal?.throwIfAborted();
      }
    } finally {
      this.subscribers--;
      if (this.subscribers === 0 && !this.finished) this.controller.abort();
    }
  }
}

/** Flights by key; a key is free again as soon as its flight ends. */
export class FlightRegistry<T> {
  private readonly flights = new Map<string, Flight<T>>();

  get size(): number {
    return this.flights.size;
  }

  /** The running flight for `key`, or a new one (`started: true`) that the caller must drive. */
  join(key: string): { flight: Flight<T>; started: boolean } {
    const running = this.flights.get(key);
    if (running && !running.done && !running.abandoned) return { flight: running, started: false };
    const flight = new Flight<T>();
    this.flights.set(key, flight);
    return { flight, started: true };
  }

  /** Forget a finished flight (only if it is still the registered one). */
  release(key: string, flight: Flight<T>): void {
    if (this.flights.get(key) === flight) this.flights.delete(key);
  }
}
