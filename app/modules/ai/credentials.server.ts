/**
 * Provider credentials: each user's own API keys for OpenAI, Anthropic and OpenAI-compatible endpoints,
 * stored encrypted (crypto.server.ts) and bound to their row; and the resolution of a model id to a
 * connection: the user's credential first, then the operator's (config.server), then the offline demo.
 *
 * Secrets leave this module in exactly one place: the `connection` that resolveConnection returns to the
 * proxy. Views carry a four-character hint, audit events the provider and name, errors neither.
 */
import type { Db, Prisma } from "#app/db/client.server.ts";
import { AppError, isAppError } from "#app/lib/app-error.ts";
import type { Logger } from "#app/lib/logger.server.ts";
import { clock, isUuid, parseInput } from "#app/lib/use-case.ts";
import { recordAuditEvent } from "#app/modules/auth/audit.server.ts";
import { isUniqueViolation, requestContext } from "#app/modules/auth/deps.server.ts";
import {
  type AddCredentialInput,
  type ConnectionTestResult,
  type CredentialView,
  type ModelRef,
  type ProviderKind,
  ZAddCredentialInput,
  ZRotateCredentialInput,
} from "./ai.types.ts";
import type { AiConfig, Keyring } from "./config.server.ts";
import { decryptSecret, encryptSecret, SecretDecryptionError } from "./crypto.server.ts";
import { adapterFor as defaultAdapterFor } from "./providers/index.server.ts";
import { type ProviderAdapter, type ProviderConnection, ProviderError } from "./providers/types.server.ts";

export type CredentialsDeps = {
  db: Db;
  keyring: Keyring;
  config: AiConfig;
  /** The adapter that lists an endpoint's models when testing. Default: the real SDK adapters. */
  adapterFor?: (kind: ProviderKind) => ProviderAdapter;
  /** The clock. Default `() => new Date()`. */
  now?: () => Date;
  /** Where unexpected test failures are noted (name only, never the error's content). */
  logger?: Logger;
  /** How long a connection test may take. Default 10 000 ms. */
  testTimeoutMs?: number;
  /** Recorded on audit events (a use case's own `ip` / `userAgent` input wins). */
  ip?: string;
  userAgent?: string;
  /** The API key the caller authenticated with: audit events name it as the actor. */
  actorApiKeyId?: string | null;
};

type RequestFacts = { ip?: string; userAgent?: string };

export const DEFAULT_TEST_TIMEOUT_MS = 10_000;
/** How many model names a connection test returns. */
const MAX_LISTED_MODELS = 200;

export const PROVIDER_LABELS: Record<ProviderKind, string> = {
  openai: "OpenAI",
  anthropic: "Anthropic",
  compat: "OpenAI-compatible",
};

const VIEW_SELECT = {
  id: true,
  provider: true,
  name: true,
  baseUrl: true,
  hint: true,
  lastTestedAt: true,
  createdAt: true,
  updatedAt: true,
} as const satisfies Prisma.ProviderCredentialSelect;

const SECRET_SELECT = {
  ...VIEW_SELECT,
  userId: true,
  ciphertext: true,
  iv: true,
  authTag: true,
  keyVersion: true,
} as const satisfies Prisma.ProviderCredentialSelect;

type SecretRow = Prisma.ProviderCredentialGetPayload<{ select: typeof SECRET_SELECT }>;

const credentialNotFound = () => new AppError("NOT_FOUND", "Credential not found");

/**
 * The additional authenticated data of a row's ciphertext: the row's identity. A ciphertext copied onto
 * another user's row (or another provider or name) then fails to decrypt.
 */
export function credentialAad(row: { userId: string; provider: ProviderKind; name: string }): string {
  return `${row.userId}:${row.provider}:${row.name}`;
}

/**
 * What the UI shows of a secret: "…" and its last four characters; just "…" for secrets under 8 characters
 * (four would be half of it); null when there is no secret (keyless local servers).
 */
export function hintFor(secret: string): string | null {
  if (secret.length === 0) return null;
  if (secret.length < 8) return "…";
  return `…${secret.slice(-4)}`;
}

/** The rows' ciphertext as Prisma's Bytes columns want it. */
function sealFor(deps: Pick<CredentialsDeps, "keyring">, secret: string, aad: string) {
  const sealed = encryptSecret(deps.keyring, secret, aad);
  return {
    ciphertext: new Uint8Array(sealed.ciphertext),
    iv: new Uint8Array(sealed.iv),
    authTag: new Uint8Array(sealed.authTag),
    keyVersion: sealed.keyVersion,
  };
}

function auditContext(input: RequestFacts, deps: CredentialsDeps) {
  return requestContext(input, {
    ip: deps.ip,
    userAgent: deps.userAgent,
    actorApiKeyId: deps.actorApiKeyId,
  });
}

/**
 * A user-supplied base URL, checked against the operator's policy: refused when the server does not allow
 * custom base URLs, or when it carries a user name or password (secrets belong in the API key, which is
 * encrypted; base URLs are shown and recorded). Trailing slashes are dropped. Undefined → null (SDK default).
 */
function checkBaseUrl(baseUrl: string | undefined, provider: ProviderKind, config: AiConfig): string | null {
  if (!baseUrl) return null;
  if (!config.allowUserBaseUrls) {
    throw new AppError(
      "BAD_REQUEST",
      provider === "compat"
        ? "This server does not allow custom base URLs, so OpenAI-compatible endpoints cannot be added (ask the operator to configure them)"
        : "This server does not allow custom base URLs: leave Base URL empty to use the provider's own",
    );
  }
  const url = new URL(baseUrl);
  if (url.username || url.password) {
    throw new AppError("BAD_REQUEST", "Put the API key in the API key field, not in the base URL");
  }
  url.hash = "";
  return url.toString().replace(/\/+$/, "");
}

/** The caller's credentials (never their secrets), by provider then name. */
export async function listCredentials(
  input: { userId: string },
  deps: Pick<CredentialsDeps, "db">,
): Promise<CredentialView[]> {
  if (!isUuid(input.userId)) return [];
  return deps.db.providerCredential.findMany({
    where: { userId: input.userId },
    orderBy: [{ provider: "asc" }, { name: "asc" }],
    select: VIEW_SELECT,
  });
}

/**
 * Store a credential for the caller. `name` defaults to "default" (for compat it is the endpoint name used
 * in model ids: `compat:<name>/<model>`). CONFLICT when the caller already has one with this provider and
 * name; BAD_REQUEST for a base URL the server does not allow. Audit "credential.added".
 */
export async function addCredential(
  input: { userId: string } & AddCredentialInput & RequestFacts,
  deps: CredentialsDeps,
): Promise<CredentialView> {
  const { provider, name, apiKey, baseUrl } = parseInput(ZAddCredentialInput, input);
  const storedBaseUrl = checkBaseUrl(baseUrl, provider, deps.config);
  const now = clock(deps);
  const context = auditContext(input, deps);
  try {
    return await deps.db.$transaction(async (tx) => {
      const created = await tx.providerCredential.create({
        data: {
          userId: input.userId,
          provider,
          name,
          baseUrl: storedBaseUrl,
          ...sealFor(deps, apiKey, credentialAad({ userId: input.userId, provider, name })),
          hint: hintFor(apiKey),
          createdAt: now,
          updatedAt: now,
        },
        select: VIEW_SELECT,
      });
      await recordAuditEvent(tx, {
        userId: input.userId,
        action: "credential.added",
        targetType: "provider_credential",
        targetId: created.id,
        ...context,
        data: { provider, name, baseUrl: storedBaseUrl },
      });
      return created;
    });
  } catch (error) {
    if (isUniqueViolation(error)) {
      throw new AppError(
        "CONFLICT",
        `You already have ${PROVIDER_LABELS[provider]} credentials named "${name}": rotate their key or choose another name`,
      );
    }
    throw error;
  }
}

async function findSecretRow(db: Db, userId: string, id: string): Promise<SecretRow> {
  if (!isUuid(id) || !isUuid(userId)) throw credentialNotFound();
  const row = await db.providerCredential.findFirst({ where: { id, userId }, select: SECRET_SELECT });
  if (!row) throw credentialNotFound();
  return row;
}

/**
 * Replace a credential's secret, encrypted with the current key. Its last test no longer applies, so
 * lastTestedAt is cleared. NOT_FOUND for another user's credential. Audit "credential.rotated".
 */
export async function rotateCredential(
  input: { userId: string; id: string; apiKey: string } & RequestFacts,
  deps: CredentialsDeps,
): Promise<CredentialView> {
  const { id, apiKey } = parseInput(ZRotateCredentialInput, { id: input.id, apiKey: input.apiKey });
  if (!isUuid(input.userId)) throw credentialNotFound();
  const now = clock(deps);
  const context = auditContext(input, deps);
  return deps.db.$transaction(async (tx) => {
    const row = await tx.providerCredential.findFirst({
      where: { id, userId: input.userId },
      select: { provider: true, name: true },
    });
    if (!row) throw credentialNotFound();
    const { count } = await tx.providerCredential.updateMany({
      where: { id, userId: input.userId },
      data: {
        ...sealFor(deps, apiKey, credentialAad({ userId: input.userId, ...row })),
        hint: hintFor(apiKey),
        lastTestedAt: null,
        updatedAt: now,
      },
    });
    if (count === 0) throw credentialNotFound();
    await recordAuditEvent(tx, {
      userId: input.userId,
      action: "credential.rotated",
      targetType: "provider_credential",
      targetId: id,
      ...context,
      data: { provider: row.provider, name: row.name },
    });
    return tx.providerCredential.findFirstOrThrow({
      where: { id, userId: input.userId },
      select: VIEW_SELECT,
    });
  });
}

/** Delete one of the caller's credentials. NOT_FOUND for another user's. Audit "credential.deleted". */
export async function deleteCredential(
  input: { userId: string; id: string } & RequestFacts,
  deps: CredentialsDeps,
): Promise<{ ok: true }> {
  if (!isUuid(input.id) || !isUuid(input.userId)) throw credentialNotFound();
  const context = auditContext(input, deps);
  await deps.db.$transaction(async (tx) => {
    const row = await tx.providerCredential.findFirst({
      where: { id: input.id, userId: input.userId },
      select: { provider: true, name: true },
    });
    if (!row) throw credentialNotFound();
    const { count } = await tx.providerCredential.deleteMany({
      where: { id: input.id, userId: input.userId },
    });
    if (count === 0) throw credentialNotFound();
    await recordAuditEvent(tx, {
      userId: input.userId,
      action: "credential.deleted",
      targetType: "provider_credential",
      targetId: input.id,
      ...context,
      data: { provider: row.provider, name: row.name },
    });
  });
  return { ok: true };
}

/** The message for a row this server can no longer decrypt (its key was lost or the row was altered). */
function undecryptableMessage(row: { provider: ProviderKind; name: string }, error: SecretDecryptionError) {
  const what = `Your ${PROVIDER_LABELS[row.provider]} credentials "${row.name}"`;
  return error.reason === "unknown_key"
    ? `${what} were encrypted with a key this server no longer has: rotate the API key in Settings → Providers`
    : `${what} cannot be decrypted (the stored data was altered): rotate the API key in Settings → Providers`;
}

function connectionOf(row: SecretRow, apiKey: string): ProviderConnection {
  return { provider: row.provider, apiKey, ...(row.baseUrl ? { baseUrl: row.baseUrl } : {}) };
}

/** Words for a failed test, safe to show: the provider's own error, never the key. */
function describeFailure(error: unknown, connection: ProviderConnection, deps: CredentialsDeps): string {
  let message: string;
  if (error instanceof ProviderError || isAppError(error)) message = error.message;
  else {
    // Not an adapter's ProviderError: a bug or an SDK surprise. Its text could carry anything, so only
    // its class is logged and the user gets a generic sentence.
    deps.logger?.warn(
      { provider: connection.provider, errorName: (error as Error)?.name ?? typeof error },
      "connection test failed unexpectedly",
    );
    message = "Unexpected error while contacting the provider";
  }
  // Defence in depth: an SDK that echoes the key in its message must not show it.
  if (connection.apiKey.length >= 4) message = message.split(connection.apiKey).join("[redacted]");
  return message;
}

/** List the endpoint's models within the test timeout. Never throws: failures are `ok: false`. */
async function probe(connection: ProviderConnection, deps: CredentialsDeps): Promise<ConnectionTestResult> {
  const timeoutMs = deps.testTimeoutMs ?? DEFAULT_TEST_TIMEOUT_MS;
  const controller = new AbortController();
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  let timer: NodeJS.Timeout | undefined;
  // Raced as well as aborted: an adapter that ignores its signal still cannot hold the request open.
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(
        new ProviderError(
          "timeout",
          `${PROVIDER_LABELS[connection.provider]} did not answer within ${Math.round(timeoutMs / 1000)} s`,
        ),
      );
      controller.abort();
    }, timeoutMs);
  });
  try {
    const adapter = (deps.adapterFor ?? defaultAdapterFor)(connection.provider);
    const models = await Promise.race([
      adapter.listModels(connection, { signal: controller.signal }),
      timedOut,
    ]);
    return { ok: true, models: models.slice(0, MAX_LISTED_MODELS), latencyMs: elapsed(), error: null };
  } catch (error) {
    return { ok: false, models: [], latencyMs: elapsed(), error: describeFailure(error, connection, deps) };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Test a stored credential: decrypt it and list the endpoint's models (10 s timeout). Success records
 * lastTestedAt; any failure (bad key, unreachable, timeout, undecryptable) is `ok: false` with the reason.
 * NOT_FOUND for another user's credential.
 */
export async function testCredential(
  input: { userId: string; id: string },
  deps: CredentialsDeps,
): Promise<ConnectionTestResult> {
  const row = await findSecretRow(deps.db, input.userId, input.id);
  let apiKey: string;
  try {
    apiKey = decryptSecret(deps.keyring, row, credentialAad(row));
  } catch (error) {
    if (!(error instanceof SecretDecryptionError)) throw error;
    return { ok: false, models: [], latencyMs: 0, error: undecryptableMessage(row, error) };
  }
  const result = await probe(connectionOf(row, apiKey), deps);
  if (result.ok) {
    await deps.db.providerCredential.updateMany({
      where: { id: row.id, userId: input.userId },
      // Keep updatedAt: a test is not an edit (and updatedAt picks between credentials).
      data: { lastTestedAt: clock(deps), updatedAt: row.updatedAt },
    });
  }
  return result;
}

/**
 * Test a key before saving it: the same checks as addCredential (a compat endpoint needs a base URL, the
 * server's base URL policy), then the same probe as testCredential. Nothing is stored.
 */
export async function testConnection(
  input: { userId: string; provider: ProviderKind; apiKey?: string; baseUrl?: string },
  deps: CredentialsDeps,
): Promise<ConnectionTestResult> {
  const { provider, apiKey, baseUrl } = parseInput(ZAddCredentialInput, {
    provider: input.provider,
    apiKey: input.apiKey,
    baseUrl: input.baseUrl || undefined,
  });
  const storedBaseUrl = checkBaseUrl(baseUrl, provider, deps.config);
  return probe({ provider, apiKey, ...(storedBaseUrl ? { baseUrl: storedBaseUrl } : {}) }, deps);
}

export type ResolvedConnection = {
  connection: ProviderConnection;
  /** Whose credential it is: the user's own, the operator's, or the offline demo. */
  source: "user" | "server" | "demo";
  /** The user's credential, when source is "user". */
  credentialId: string | null;
};

/** `openai`, `anthropic`, `compat/ollama`: how errors name what is missing. */
function targetOf(ref: ModelRef): string {
  return ref.provider === "compat" ? `compat/${ref.endpoint}` : ref.provider;
}

/**
 * Where a model is reached and with which key. Order: the user's credential (openai/anthropic: the one
 * named "default", else the most recently updated; compat: the one whose name is the endpoint), then the
 * operator's (config.server), then for `compat:demo/...` the offline demo. BAD_REQUEST when none applies or
 * the user's credential cannot be decrypted.
 */
export async function resolveConnection(
  input: { userId: string; ref: ModelRef },
  deps: Pick<CredentialsDeps, "db" | "keyring" | "config" | "logger">,
): Promise<ResolvedConnection> {
  const { ref, userId } = input;
  if (isUuid(userId)) {
    const rows = await deps.db.providerCredential.findMany({
      where:
        ref.provider === "compat"
          ? { userId, provider: "compat", name: ref.endpoint }
          : { userId, provider: ref.provider },
      orderBy: [{ updatedAt: "desc" }, { id: "desc" }],
      select: SECRET_SELECT,
    });
    const row = rows.find((r) => r.name === "default") ?? rows[0];
    if (row) {
      let apiKey: string;
      try {
        apiKey = decryptSecret(deps.keyring, row, credentialAad(row));
      } catch (error) {
        if (!(error instanceof SecretDecryptionError)) throw error;
        deps.logger?.warn(
          { credentialId: row.id, keyVersion: row.keyVersion, reason: error.reason },
          "stored credential cannot be decrypted",
        );
        throw new AppError("BAD_REQUEST", undecryptableMessage(row, error));
      }
      return { connection: connectionOf(row, apiKey), source: "user", credentialId: row.id };
    }
  }

  const server =
    ref.provider === "compat" ? deps.config.server.compat[ref.endpoint] : deps.config.server[ref.provider];
  if (server) {
    return {
      connection: {
        provider: ref.provider,
        apiKey: server.apiKey,
        ...(server.baseUrl ? { baseUrl: server.baseUrl } : {}),
      },
      source: "server",
      credentialId: null,
    };
  }

  if (ref.provider === "compat" && ref.endpoint === "demo" && deps.config.demo) {
    return {
      connection: { provider: "compat", baseUrl: deps.config.demo.baseUrl, apiKey: "demo" },
      source: "demo",
      credentialId: null,
    };
  }

  throw new AppError("BAD_REQUEST", `No credentials for ${targetOf(ref)}: add one in Settings → Providers`);
}

/** What the operator configured, for the UI's "server keys" note: which providers, never the keys. */
export type ServerProviders = {
  openai: boolean;
  anthropic: boolean;
  /** Endpoint names of the operator's OpenAI-compatible endpoints. */
  compat: string[];
  /** The offline demo model (`compat:demo/...`) is on. */
  demo: boolean;
};

export function serverProviders(config: AiConfig): ServerProviders {
  return {
    openai: Boolean(config.server.openai),
    anthropic: Boolean(config.server.anthropic),
    compat: Object.keys(config.server.compat).sort(),
    demo: config.demo !== null,
  };
}

const REENCRYPT_BATCH = 100;

/**
 * After a key rotation: re-encrypt every credential whose keyVersion is not the current key's with the
 * current key, in batches. Rows no key of the keyring can decrypt are left as they are (and logged by id).
 * A row changed meanwhile (rotated by its user) is skipped, not overwritten. Returns how many were
 * re-encrypted. Safe to run again; a second run finds nothing to do.
 */
export async function reencryptCredentials(deps: {
  db: Db;
  keyring: Keyring;
  logger?: Logger;
}): Promise<number> {
  const { db, keyring } = deps;
  let count = 0;
  let after: string | undefined;
  for (;;) {
    const rows: SecretRow[] = await db.providerCredential.findMany({
      where: { keyVersion: { not: keyring.current.version }, ...(after ? { id: { gt: after } } : {}) },
      orderBy: { id: "asc" },
      take: REENCRYPT_BATCH,
      select: SECRET_SELECT,
    });
    if (rows.length === 0) return count;
    after = rows.at(-1)?.id;
    for (const row of rows) {
      const aad = credentialAad(row);
      let secret: string;
      try {
        secret = decryptSecret(keyring, row, aad);
      } catch (error) {
        if (!(error instanceof SecretDecryptionError)) throw error;
        deps.logger?.warn(
          { credentialId: row.id, keyVersion: row.keyVersion, reason: error.reason },
          "credential left as is: no key can decrypt it",
        );
        continue;
      }
      const updated = await db.providerCredential.updateMany({
        // The nonce identifies this exact ciphertext: a rotation since we read it is not overwritten.
        where: { id: row.id, keyVersion: row.keyVersion, iv: row.iv },
        // Re-encryption is not an edit: updatedAt (which picks between credentials) stays.
        data: { ...sealFor({ keyring }, secret, aad), updatedAt: row.updatedAt },
      });
      count += updated.count;
    }
  }
}
