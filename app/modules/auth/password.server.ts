/**
 * Password hashing: argon2id with OWASP's first recommended setting (19 MiB, 2 passes, 1 lane).
 * `@node-rs/argon2` runs on libuv's thread pool, so a hash does not block the event loop.
 */
import { type Algorithm, hash, parseOptions, verify } from "@node-rs/argon2";

/** argon2id (the enum is a `const enum`, which isolatedModules cannot read at runtime). */
const ARGON2ID = 2 as Algorithm;

/** The policy every new hash uses. */
export const PASSWORD_HASH_OPTIONS = {
  algorithm: ARGON2ID,
  /** KiB: 19 MiB. */
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
} as const;

/**
 * A hash of a random, forgotten password, made with the policy above (a test checks it still
 * matches). Verifying against it costs what verifying a real user's hash costs.
 */
const DUMMY_HASH =
  "$argon2id$v=19$m=19456,t=2,p=1$yL+5MptCSDFQqyyeuntO8Q$+xTA9IM0wful99fWRfIfrDsi/iLN+DjK+wTQ4zVhQeE";

/** Hash a password for storage (PHC string `$argon2id$v=19$m=19456,t=2,p=1$salt$hash`). */
export function hashPassword(password: string): Promise<string> {
  return hash(password, PASSWORD_HASH_OPTIONS);
}

/** True when `password` matches `passwordHash`. A malformed hash counts as no match, never as an error. */
export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password);
  } catch {
    return false;
  }
}

/**
 * Spend the time of one verification and learn nothing: for a login whose account does not exist
 * (or has no password), so its response time does not tell an attacker that.
 */
export async function burnPasswordCheck(password: string): Promise<void> {
  await verifyPassword(DUMMY_HASH, password);
}

/** True when a stored hash was made with other parameters than today's policy (rehash at next login). */
export function needsRehash(passwordHash: string): boolean {
  try {
    const used = parseOptions(passwordHash);
    return (
      used.algorithm !== PASSWORD_HASH_OPTIONS.algorithm ||
      used.memoryCost !== PASSWORD_HASH_OPTIONS.memoryCost ||
      used.timeCost !== PASSWORD_HASH_OPTIONS.timeCost ||
      used.parallelism !== PASSWORD_HASH_OPTIONS.parallelism
    );
  } catch {
    return true;
  }
}

/** For tests: the dummy hash's parameters must follow the policy, or burnPasswordCheck would cost less. */
export const DUMMY_PASSWORD_HASH = DUMMY_HASH;
