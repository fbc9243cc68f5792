import { createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  createKeyring,
  decryptSecret,
  encryptSecret,
  keyFingerprint,
  keyFromBase64,
  SecretDecryptionError,
} from "./crypto.server.ts";

const KEY_A = randomBytes(32).toString("base64");
const KEY_B = randomBytes(32).toString("base64");
const AAD = "0190c0de-0000-7000-8000-000000000001:openai:default";
const SECRET = "sk-test-0123456789abcdefXYZ";

/** What an error must never carry: any key or the secret. */
function expectNoSecretIn(error: unknown, ...secrets: string[]) {
  const text = `${String(error)} ${(error as Error).stack ?? ""}`;
  for (const secret of secrets) expect(text).not.toContain(secret);
}

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a throw");
}

describe("keyFromBase64", () => {
  it("decodes a 32-byte key and fingerprints it stably as a positive 31-bit integer", () => {
    const key = keyFromBase64(KEY_A);
    expect(key.key).toEqual(Buffer.from(KEY_A, "base64"));
    expect(Number.isInteger(key.version)).toBe(true);
    expect(key.version).toBeGreaterThan(0);
    expect(key.version).toBeLessThanOrEqual(0x7fffffff);
    expect(keyFromBase64(KEY_A).version).toBe(key.version);
    expect(keyFromBase64(` ${KEY_A}\n`).version).toBe(key.version);
    expect(keyFromBase64(KEY_B).version).not.toBe(key.version);
  });

  it("fingerprints a known key to a known value (stored in rows: it must never change)", () => {
    expect(keyFingerprint(Buffer.alloc(32, 0))).toBe(keyFingerprint(Buffer.alloc(32, 0)));
    // sha256("agentry-key-id" ‖ 32 zero bytes), first 4 bytes big-endian, top bit cleared.
    const expected =
      createHash("sha256").update("agentry-key-id").update(Buffer.alloc(32, 0)).digest().readUInt32BE(0) &
      0x7fffffff;
    expect(keyFingerprint(Buffer.alloc(32, 0))).toBe(expected || 1);
  });

  it("refuses keys of the wrong length or encoding without repeating them", () => {
    const short = randomBytes(16).toString("base64");
    const error = thrown(() => keyFromBase64(short));
    expect(error.message).toMatch(/32 bytes, not 16/);
    expectNoSecretIn(error, short);
    const notBase64 = "this is not base64 at all!!";
    const error2 = thrown(() => keyFromBase64(notBase64));
    expect(error2.message).toMatch(/base64/);
    expectNoSecretIn(error2, notBase64);
    expect(() => keyFromBase64("")).toThrow(/base64/);
  });
});

describe("createKeyring", () => {
  it("takes the current key and previous ones, dropping duplicates of the current", () => {
    const keyring = createKeyring(KEY_A, [KEY_B, KEY_A, KEY_B]);
    expect(keyring.current.version).toBe(keyFromBase64(KEY_A).version);
    expect(keyring.previous.map((k) => k.version)).toEqual([keyFromBase64(KEY_B).version]);
    expect(createKeyring(KEY_A).previous).toEqual([]);
  });

  it("names the environment variable, never the value", () => {
    const bad = randomBytes(31).toString("base64");
    const current = thrown(() => createKeyring(bad));
    expect(current.message).toMatch(/^AGENTRY_ENCRYPTION_KEY is invalid: .*32 bytes/);
    expectNoSecretIn(current, bad);
    const previous = thrown(() => createKeyring(KEY_A, [KEY_B, bad]));
    expect(previous.message).toMatch(/^AGENTRY_ENCRYPTION_KEY_PREVIOUS entry 2 is invalid/);
    expectNoSecretIn(previous, bad, KEY_A, KEY_B);
  });
});

describe("encryptSecret / decryptSecret", () => {
  const keyring = createKeyring(KEY_A);

  it("round-trips, with a fresh 12-byte nonce and a 16-byte tag each time", () => {
    const one = encryptSecret(keyring, SECRET, AAD);
    const two = encryptSecret(keyring, SECRET, AAD);
    expect(one.iv).toHaveLength(12);
    expect(one.authTag).toHaveLength(16);
    expect(one.keyVersion).toBe(keyring.current.version);
    expect(one.iv.equals(two.iv)).toBe(false);
    expect(one.ciphertext.equals(two.ciphertext)).toBe(false);
    expect(one.ciphertext.toString("utf8")).not.toContain("sk-test");
    expect(decryptSecret(keyring, one, AAD)).toBe(SECRET);
    expect(decryptSecret(keyring, two, AAD)).toBe(SECRET);
  });

  it("handles empty and non-ASCII secrets", () => {
    expect(decryptSecret(keyring, encryptSecret(keyring, "", AAD), AAD)).toBe("");
    const unicode = "clé-🔑-ключ";
    expect(decryptSecret(keyring, encryptSecret(keyring, unicode, AAD), AAD)).toBe(unicode);
  });

  it("decrypts from Uint8Arrays as Prisma returns Bytes", () => {
    const sealed = encryptSecret(keyring, SECRET, AAD);
    const row = {
      ciphertext: new Uint8Array(sealed.ciphertext),
      iv: new Uint8Array(sealed.iv),
      authTag: new Uint8Array(sealed.authTag),
      keyVersion: sealed.keyVersion,
    };
    expect(decryptSecret(keyring, row, AAD)).toBe(SECRET);
  });

  it("fails when the ciphertext is moved to another row (different AAD)", () => {
    const sealed = encryptSecret(keyring, SECRET, AAD);
    const error = thrown(() => decryptSecret(keyring, sealed, "someone-else:openai:default"));
    expect(error).toBeInstanceOf(SecretDecryptionError);
    expect((error as SecretDecryptionError).reason).toBe("authentication");
    expect(error.message).toMatch(/altered or does not belong to this row/);
    expectNoSecretIn(error, SECRET, KEY_A);
  });

  it("fails on a flipped bit in the ciphertext, nonce or tag", () => {
    const sealed = encryptSecret(keyring, SECRET, AAD);
    for (const field of ["ciphertext", "iv", "authTag"] as const) {
      const copy = { ...sealed, [field]: Buffer.from(sealed[field]) };
      copy[field][0] = (copy[field][0] ?? 0) ^ 1;
      const error = thrown(() => decryptSecret(keyring, copy, AAD));
      expect(error).toBeInstanceOf(SecretDecryptionError);
      expectNoSecretIn(error, SECRET, KEY_A);
    }
    const truncatedTag = { ...sealed, authTag: sealed.authTag.subarray(0, 8) };
    expect(() => decryptSecret(keyring, truncatedTag, AAD)).toThrow(/malformed/);
  });

  it("decrypts with a previous key after rotation, and says which key is missing otherwise", () => {
    const old = createKeyring(KEY_B);
    const sealed = encryptSecret(old, SECRET, AAD);
    const rotated = createKeyring(KEY_A, [KEY_B]);
    expect(decryptSecret(rotated, sealed, AAD)).toBe(SECRET);
    expect(encryptSecret(rotated, SECRET, AAD).keyVersion).toBe(rotated.current.version);

    const error = thrown(() => decryptSecret(keyring, sealed, AAD));
    expect(error).toBeInstanceOf(SecretDecryptionError);
    expect((error as SecretDecryptionError).reason).toBe("unknown_key");
    expect(error.message).toContain(`fingerprint ${old.current.version}`);
    expect(error.message).toContain("AGENTRY_ENCRYPTION_KEY_PREVIOUS");
    expectNoSecretIn(error, SECRET, KEY_A, KEY_B);
  });
});
