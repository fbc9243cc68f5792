/**
 * Encryption of stored provider credentials: AES-256-GCM (node:crypto) with a random 12-byte nonce per
 * encryption and additional authenticated data that binds a ciphertext to its row, so a ciphertext copied
 * onto another row (another user, provider or name) fails to decrypt instead of leaking the key.
 *
 * Keys are identified by a fingerprint of the key itself (stored as ProviderCredential.keyVersion), so
 * operators never number keys: rotating is "move the old key to AGENTRY_ENCRYPTION_KEY_PREVIOUS, put a new
 * one in AGENTRY_ENCRYPTION_KEY, re-encrypt". No error here ever contains key material or plaintext.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import type { EncryptionKey, Keyring } from "./config.server.ts";

export type { EncryptionKey, Keyring };

const ALGORITHM = "aes-256-gcm";
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const STANDARD_BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** What an encryption produces; stored as the row's ciphertext, iv, authTag and keyVersion columns. */
export type EncryptedSecret = {
  ciphertext: Buffer;
  iv: Buffer;
  authTag: Buffer;
  /** Fingerprint of the key that encrypted it. */
  keyVersion: number;
};

/** Why a stored secret could not be decrypted; the message never holds key material or plaintext. */
export class SecretDecryptionError extends Error {
  override readonly name = "SecretDecryptionError";
  constructor(
    /** `unknown_key`: encrypted with a key this server does not have; `authentication`: altered or moved. */
    readonly reason: "unknown_key" | "authentication",
    message: string,
  ) {
    super(message);
  }
}

/** The stored columns decryptSecret needs (Prisma's Bytes are Uint8Arrays). */
export type StoredSecret = {
  ciphertext: Uint8Array;
  iv: Uint8Array;
  authTag: Uint8Array;
  keyVersion: number;
};

/**
 * A stable positive 31-bit fingerprint of a key: the first 4 bytes of sha256("agentry-key-id" ‖ key),
 * top bit cleared (fits PostgreSQL's int4). Reveals nothing usable about the key.
 */
export function keyFingerprint(key: Uint8Array): number {
  const digest = createHash("sha256").update("agentry-key-id").update(key).digest();
  // 0 is reserved (never a fingerprint) so a zeroed column cannot match a key; odds of hitting it: 2^-31.
  return digest.readUInt32BE(0) & 0x7fffffff || 1;
}

/**
 * Decode an AES-256 key given as standard base64 (what `openssl rand -base64 32` prints and what
 * .data/secrets.json holds). Throws when it is not base64 or not 32 bytes; the message never repeats it.
 */
export function keyFromBase64(b64: string): EncryptionKey {
  const text = typeof b64 === "string" ? b64.trim() : "";
  if (!STANDARD_BASE64.test(text)) {
    throw new Error("Encryption key must be standard base64 (generate one with `openssl rand -base64 32`)");
  }
  const key = Buffer.from(text, "base64");
  if (key.length !== KEY_BYTES) {
    throw new Error(
      `Encryption key must decode to ${KEY_BYTES} bytes, not ${key.length} (generate one with \`openssl rand -base64 32\`)`,
    );
  }
  return { version: keyFingerprint(key), key };
}

/**
 * The keyring from AGENTRY_ENCRYPTION_KEY (`current`, encrypts) and AGENTRY_ENCRYPTION_KEY_PREVIOUS
 * (`previous`, only decrypts rows not yet re-encrypted). Errors name the variable, never its value.
 * A previous key equal to the current one (or listed twice) is ignored.
 */
export function createKeyring(current: string, previous: string[] = []): Keyring {
  let currentKey: EncryptionKey;
  try {
    currentKey = keyFromBase64(current);
  } catch (error) {
    throw new Error(`AGENTRY_ENCRYPTION_KEY is invalid: ${(error as Error).message}`);
  }
  const seen = new Map<number, Buffer>([[currentKey.version, currentKey.key]]);
  const previousKeys: EncryptionKey[] = [];
  previous.forEach((value, index) => {
    let key: EncryptionKey;
    try {
      key = keyFromBase64(value);
    } catch (error) {
      throw new Error(
        `AGENTRY_ENCRYPTION_KEY_PREVIOUS entry ${index + 1} is invalid: ${(error as Error).message}`,
      );
    }
    const known = seen.get(key.version);
    if (known) {
      if (known.equals(key.key)) return;
      // Two different keys with one fingerprint (odds 2^-31 per pair): rows could not say which to use.
      throw new Error(
        `AGENTRY_ENCRYPTION_KEY_PREVIOUS entry ${index + 1} has the same fingerprint as another key; generate a new current key`,
      );
    }
    seen.set(key.version, key.key);
    previousKeys.push(key);
  });
  return { current: currentKey, previous: previousKeys };
}

/** Encrypt `plaintext` with the keyring's current key, bound to `aad` (the row's identity). */
export function encryptSecret(keyring: Keyring, plaintext: string, aad: string): EncryptedSecret {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(ALGORITHM, keyring.current.key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(aad, "utf8"));
  const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return { ciphertext, iv, authTag: cipher.getAuthTag(), keyVersion: keyring.current.version };
}

/** The key that encrypted a row (current or previous), or undefined when this server does not have it. */
export function keyForVersion(keyring: Keyring, version: number): EncryptionKey | undefined {
  if (keyring.current.version === version) return keyring.current;
  return keyring.previous.find((key) => key.version === version);
}

/**
 * Decrypt a stored secret. Throws SecretDecryptionError (no secret material in it) when the row was encrypted
 * with a key this server does not have, or when the ciphertext, nonce, tag or `aad` do not match
 * (tampering, or a ciphertext moved to another row).
 */
export function decryptSecret(keyring: Keyring, row: StoredSecret, aad: string): string {
  const key = keyForVersion(keyring, row.keyVersion);
  if (!key) {
    throw new SecretDecryptionError(
      "unknown_key",
      `Credential was encrypted with an unknown key (fingerprint ${row.keyVersion}); set that key in AGENTRY_ENCRYPTION_KEY_PREVIOUS or store the credential again`,
    );
  }
  if (row.iv.length !== IV_BYTES || row.authTag.length !== TAG_BYTES) {
    throw new SecretDecryptionError(
      "authentication",
      "Credential cannot be decrypted: its nonce or authentication tag is malformed",
    );
  }
  try {
    const decipher = createDecipheriv(ALGORITHM, key.key, row.iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(aad, "utf8"));
    decipher.setAuthTag(row.authTag);
    return Buffer.concat([decipher.update(row.ciphertext), decipher.final()]).toString("utf8");
  } catch {
    // node's message ("Unsupported state or unable to authenticate data") says nothing useful; ours does.
    throw new SecretDecryptionError(
      "authentication",
      "Credential cannot be decrypted: it was altered or does not belong to this row (authentication failed)",
    );
  }
}
