import { hash } from "@node-rs/argon2";
import { describe, expect, it } from "vitest";
import {
  burnPasswordCheck,
  DUMMY_PASSWORD_HASH,
  hashPassword,
  needsRehash,
  PASSWORD_HASH_OPTIONS,
  verifyPassword,
} from "./password.server.ts";

/** `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>` → its parts, read from the string itself. */
function decodePhc(phc: string) {
  const match =
    /^\$(argon2(?:id|i|d))\$v=(\d+)\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(phc);
  if (!match) throw new Error(`not a PHC argon2 string: ${phc}`);
  const [, algorithm, version, m, t, p, salt, digest] = match;
  return {
    algorithm,
    version: Number(version),
    m: Number(m),
    t: Number(t),
    p: Number(p),
    saltBytes: Buffer.from(salt!, "base64").length,
    hashBytes: Buffer.from(digest!, "base64").length,
  };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

describe("password hashing", () => {
  it("uses argon2id with m=19456 KiB, t=2, p=1, a 16-byte salt and a 32-byte hash", async () => {
    const phc = await hashPassword("correct horse battery staple");
    expect(decodePhc(phc)).toEqual({
      algorithm: "argon2id",
      version: 19,
      m: 19456,
      t: 2,
      p: 1,
      saltBytes: 16,
      hashBytes: 32,
    });
  });

  it("salts every hash: the same password hashes differently", async () => {
    const [a, b] = await Promise.all([hashPassword("same password!"), hashPassword("same password!")]);
    expect(a).not.toBe(b);
  });

  it("verifies the right password and refuses a wrong one, or a malformed hash, without throwing", async () => {
    const phc = await hashPassword("correct horse battery staple");
    expect(await verifyPassword(phc, "correct horse battery staple")).toBe(true);
    expect(await verifyPassword(phc, "correct horse battery stapla")).toBe(false);
    expect(await verifyPassword(phc, "")).toBe(false);
    expect(await verifyPassword("not-a-hash", "whatever")).toBe(false);
  });

  it("burns with a dummy hash of the same parameters as real ones", async () => {
    const { saltBytes: _s, hashBytes: _h, ...dummy } = decodePhc(DUMMY_PASSWORD_HASH);
    const { saltBytes: _s2, hashBytes: _h2, ...real } = decodePhc(await hashPassword("x".repeat(12)));
    expect(dummy).toEqual(real);
    await expect(burnPasswordCheck("anything at all")).resolves.toBeUndefined();
  });

  it("tells hashes made under another policy from current ones", async () => {
    expect(needsRehash(await hashPassword("current policy"))).toBe(false);
    const weak = await hash("old policy", { memoryCost: 4096, timeCost: 3, parallelism: 1 });
    expect(needsRehash(weak)).toBe(true);
    expect(needsRehash("garbage")).toBe(true);
    expect(PASSWORD_HASH_OPTIONS.memoryCost).toBe(19456);
  });

  it("measures: hash and verify time (median of 10)", async () => {
    const hashMs: number[] = [];
    const verifyMs: number[] = [];
    let phc = "";
    for (let i = 0; i < 10; i++) {
      const started = performance.now();
      phc = await hashPassword(`benchmark password ${i}`);
      hashMs.push(performance.now() - started);
      const verifyStarted = performance.now();
      expect(await verifyPassword(phc, `benchmark password ${i}`)).toBe(true);
      verifyMs.push(performance.now() - verifyStarted);
    }
    console.info(
      `[auth] argon2id m=19456,t=2,p=1: hash median ${median(hashMs).toFixed(1)} ms, verify median ${median(verifyMs).toFixed(1)} ms (10 runs each)`,
    );
    // Not a speed test, a sanity bound: 19 MiB × 2 passes takes milliseconds, not microseconds or seconds.
    expect(median(hashMs)).toBeGreaterThan(2);
    expect(median(hashMs)).toBeLessThan(2_000);
  });
});
