/** What every benchmark suite shares: timing, quantiles, and the results list written to bench/results.json. */
import { readFileSync } from "node:fs";
import type { Db } from "#app/db/client.server.ts";

export type Result = {
  suite: string;
  scenario: string;
  n: number;
  p50: number;
  p95: number;
  p99?: number;
  unit: string;
  note?: string;
};

export const results: Result[] = [];

export function quantile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

export const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

/** Record a result computed elsewhere (samples in `unit`) and print it. */
export function report(
  suite: string,
  scenario: string,
  samples: number[],
  unit = "ms",
  note?: string,
): Result {
  const result: Result = {
    suite,
    scenario,
    n: samples.length,
    p50: round(quantile(samples, 0.5)),
    p95: round(quantile(samples, 0.95)),
    p99: round(quantile(samples, 0.99)),
    unit,
    note,
  };
  results.push(result);
  console.info(
    `${scenario.padEnd(52)} p50 ${String(result.p50).padStart(9)} ${unit}   p95 ${String(result.p95).padStart(9)}   p99 ${String(result.p99).padStart(9)}${note ? `   (${note})` : ""}`,
  );
  return result;
}

/** A single figure (a count, a rate) rather than a distribution. */
export function reportValue(
  suite: string,
  scenario: string,
  value: number,
  unit: string,
  note?: string,
): Result {
  const result: Result = { suite, scenario, n: 1, p50: round(value), p95: round(value), unit, note };
  results.push(result);
  console.info(
    `${scenario.padEnd(52)} ${String(result.p50).padStart(13)} ${unit}${note ? `   (${note})` : ""}`,
  );
  return result;
}

/** Time `run` n times after one warm-up call. */
export async function measure(
  suite: string,
  scenario: string,
  n: number,
  run: (i: number) => Promise<void>,
  note?: string,
): Promise<Result> {
  await run(-1);
  const samples: number[] = [];
  for (let i = 0; i < n; i += 1) {
    const started = performance.now();
    await run(i);
    samples.push(performance.now() - started);
  }
  return report(suite, scenario, samples, "ms", note);
}

/**
 * A CPU meter for the PostgreSQL backends connected to this database (read from /proc, so only when PostgreSQL
 * runs on this host): call it, then call what it returns for the milliseconds they used since, or null when
 * unreadable. Backends that end in between are left out; backends that start in between count whole.
 */
export async function postgresCpuMeter(db: Db): Promise<() => Promise<number | null>> {
  const sample = async (): Promise<Map<number, number> | null> => {
    const rows = await db.$queryRaw<Array<{ pid: number }>>`
      SELECT pid FROM pg_stat_activity WHERE datname = current_database()`;
    const ticks = new Map<number, number>();
    for (const { pid } of rows) {
      try {
        // Fields 14 and 15 of /proc/<pid>/stat (after the command name): utime and stime, in clock ticks.
        const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
        ticks.set(pid, Number(fields[11]) + Number(fields[12]));
      } catch {
        // ended meanwhile, or not a process of this host
      }
    }
    return rows.length > 0 && ticks.size === 0 ? null : ticks;
  };
  const before = await sample();
  return async () => {
    const after = await sample();
    if (!before || !after) return null;
    let used = 0;
    for (const [pid, ticks] of after) used += ticks - (before.get(pid) ?? 0);
    return used * 10; // USER_HZ is 100 on Linux
  };
}
