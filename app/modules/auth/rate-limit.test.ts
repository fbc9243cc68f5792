import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppError } from "#app/lib/app-error.ts";
import { setupTestDatabase } from "#tests/setup/database.ts";
import { createRateLimits, type RateLimits } from "./rate-limit.server.ts";

const database = setupTestDatabase();

/** Two "web processes": each with its own pool and its own limiters, one database. */
let pools: pg.Pool[] = [];
let web1: RateLimits;
let web2: RateLimits;

beforeAll(() => {
  pools = [1, 2].map(
    (n) => new pg.Pool({ connectionString: database.url, max: 2, application_name: `ratelimit-web${n}` }),
  );
  web1 = createRateLimits({ pool: pools[0]!, authPerMinute: 10, apiPerMinute: 5 });
  web2 = createRateLimits({ pool: pools[1]!, authPerMinute: 10, apiPerMinute: 5 });
});

afterAll(async () => {
  await web1?.close();
  await web2?.close();
  await Promise.all(pools.map((pool) => pool.end()));
});

async function refusal(attempt: Promise<void>): Promise<AppError> {
  const error = await attempt.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}

describe("rate limits", () => {
  it("allows 10 auth attempts a minute per IP; the 11th is TOO_MANY_REQUESTS with retryAfterSeconds", async () => {
    for (let i = 0; i < 10; i++) await web1.authIp("203.0.113.10");
    const error = await refusal(web1.authIp("203.0.113.10"));
    expect(error.code).toBe("TOO_MANY_REQUESTS");
    expect(error.status).toBe(429);
    const retryAfter = error.details?.retryAfterSeconds as number;
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    // Another address is counted apart.
    await expect(web1.authIp("203.0.113.11")).resolves.toBeUndefined();
  });

  it("counts across processes: two limiter instances share one count in PostgreSQL", async () => {
    for (let i = 0; i < 6; i++) await web1.authIp("198.51.100.20");
    for (let i = 0; i < 4; i++) await web2.authIp("198.51.100.20");
    expect((await refusal(web2.authIp("198.51.100.20"))).code).toBe("TOO_MANY_REQUESTS");
    expect((await refusal(web1.authIp("198.51.100.20"))).code).toBe("TOO_MANY_REQUESTS");
    const { rows } = await pools[0]!.query(`SELECT points FROM "RateLimit" WHERE key = $1`, [
      "auth-ip:198.51.100.20",
    ]);
    expect(rows[0]?.points).toBeGreaterThanOrEqual(11);
  });

  it("limits per account by normalised email, without storing the email", async () => {
    for (let i = 0; i < 5; i++) await web1.authAccount("Victim@Example.test");
    for (let i = 0; i < 5; i++) await web2.authAccount("  victim@example.TEST ");
    expect((await refusal(web1.authAccount("victim@example.test"))).code).toBe("TOO_MANY_REQUESTS");
    const { rows } = await pools[0]!.query<{ key: string }>(`SELECT key FROM "RateLimit"`);
    expect(rows.some((r) => r.key.toLowerCase().includes("victim"))).toBe(false);
    expect(rows.some((r) => /^auth-account:[0-9a-f]{64}$/.test(r.key))).toBe(true);
  });

  it("limits API keys (default or their own limit) and users separately", async () => {
    for (let i = 0; i < 5; i++) await web1.apiKey("key-default");
    expect((await refusal(web1.apiKey("key-default"))).code).toBe("TOO_MANY_REQUESTS");
    for (let i = 0; i < 8; i++) await web1.apiKey("key-custom", 8);
    expect((await refusal(web2.apiKey("key-custom", 8))).code).toBe("TOO_MANY_REQUESTS");
    for (let i = 0; i < 5; i++) await web2.apiUser("user-1");
    expect((await refusal(web1.apiUser("user-1"))).code).toBe("TOO_MANY_REQUESTS");
    await expect(web1.apiUser("user-2")).resolves.toBeUndefined();
  });

  it("keeps long or odd keys (headers are attacker-controlled) within the column", async () => {
    await web1.authIp(`${"x".repeat(500)}, 10.0.0.1`);
    const { rows } = await pools[0]!.query<{ key: string }>(
      `SELECT key FROM "RateLimit" WHERE key LIKE 'auth-ip:h:%'`,
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]!.key.length).toBeLessThanOrEqual(255);
  });

  it("starts a new window once the old one has expired", async () => {
    for (let i = 0; i < 10; i++) await web1.authIp("192.0.2.99");
    expect((await refusal(web2.authIp("192.0.2.99"))).code).toBe("TOO_MANY_REQUESTS");
    // Age the stored window, as a minute passing would. web1 and web2 now also refuse this key from
    // memory until their own copy of the window ends, so ask a fresh instance (a third process).
    await pools[0]!.query(`UPDATE "RateLimit" SET expire = $1 WHERE key = 'auth-ip:192.0.2.99'`, [
      Date.now() - 1,
    ]);
    const web3 = createRateLimits({ pool: pools[0]!, sweep: false });
    try {
      await expect(web3.authIp("192.0.2.99")).resolves.toBeUndefined();
    } finally {
      await web3.close();
    }
  });
});
