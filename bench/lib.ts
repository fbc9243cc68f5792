/** What every benchmark suite shares: timing, quantiles, and the results list written to bench/results.json. */
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
