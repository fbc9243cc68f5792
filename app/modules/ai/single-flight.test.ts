import { describe, expect, it } from "vitest";
import { FlightRegistry } from "./single-flight.server.ts";

async function drain<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

describe("FlightRegistry", () => {
  it("gives late subscribers every event from the start, then live ones", async () => {
    const flights = new FlightRegistry<number>();
    const { flight, started } = flights.join("k");
    expect(started).toBe(true);
    const first = drain(flight.subscribe());
    flight.push(1);
    flight.push(2);
    const joined = flights.join("k");
    expect(joined).toMatchObject({ started: false, flight });
    const second = drain(joined.flight.subscribe());
    flight.push(3);
    flight.finish();
    expect(await first).toEqual([1, 2, 3]);
    expect(await second).toEqual([1, 2, 3]);
    expect(flight.followers).toBe(1);
  });

  it("cancels the upstream only when the last subscriber leaves, and then lets nobody join the dying flight", async () => {
    const flights = new FlightRegistry<number>();
    const { flight } = flights.join("k");
    const leaving = new AbortController();
    const a = drain(flight.subscribe(leaving.signal)).catch((e: unknown) => e);
    const b = drain(flight.subscribe());
    flight.push(1);
    leaving.abort();
    expect(await a).toBeInstanceOf(Error);
    expect(flight.controller.signal.aborted).toBe(false);
    flight.push(2);
    flight.finish();
    expect(await b).toEqual([1, 2]);

    const next = flights.join("k2").flight;
    const only = new AbortController();
    const c = drain(next.subscribe(only.signal)).catch((e: unknown) => e);
    await Promise.resolve();
    only.abort();
    await c;
    expect(next.abandoned).toBe(true);
    expect(flights.join("k2").started).toBe(true);
  });

  it("passes the flight's failure to every subscriber", async () => {
    const flights = new FlightRegistry<number>();
    const { flight } = flights.join("k");
    const a = drain(flight.subscribe()).catch((e: unknown) => e);
    flight.push(1);
    flight.fail(new Error("upstream broke"));
    expect(((await a) as Error).message).toBe("upstream broke");
    await expect(drain(flight.subscribe())).rejects.toThrow("upstream broke");
  });
});
