/**
 * What the AI module needs from the server's configuration, resolved once at boot and passed in as an
 * argument (the module never reads the environment itself).
 */

/** An AES-256-GCM key with its fingerprint (stored in ProviderCredential.keyVersion). */
export type EncryptionKey = { version: number; key: Buffer };

/**
 * The keys that protect stored provider credentials: `current` encrypts; every key (current and previous)
 * can decrypt, chosen by the row's keyVersion.
 */
export type Keyring = {
  current: EncryptionKey;
  previous: EncryptionKey[];
};

export type ServerProvider = { apiKey: string; baseUrl?: string };

export type AiConfig = {
  /**
   * Credentials configured by the operator, used when a user has none of their own:
   * OPENAI_API_KEY/OPENAI_BASE_URL, ANTHROPIC_API_KEY/ANTHROPIC_BASE_URL, and named OpenAI-compatible endpoints.
   */
  server: {
    openai?: ServerProvider;
    anthropic?: ServerProvider;
    /** endpoint name → connection (`ollama` → http://127.0.0.1:11434/v1). */
    compat: Record<string, { baseUrl: string; apiKey: string }>;
  };
  /**
   * The offline demo model: the mock provider started in-process (embedded/dev mode with no provider
   * configured). Reached as the compat endpoint `demo`. null when off.
   */
  demo: { baseUrl: string } | null;
  /** May users point credentials at base URLs of their own (SSRF surface on shared servers)? */
  allowUserBaseUrls: boolean;
  /** Exact-match cache lifetime; 0 disables the cache. */
  cacheTtlSeconds: number;
  /** Give up when the first token has not arrived after this long (each attempt). */
  firstTokenTimeoutMs: number;
  /** Give up when the stream goes quiet for this long between chunks. */
  idleTimeoutMs: number;
  /** Retries after the first attempt, on 429/5xx/network/timeouts, before any output reached the caller. */
  maxRetries: number;
  /** Longest single wait between attempts; a Retry-After beyond it fails the call at once. */
  maxRetryDelayMs: number;
  /** Extra catalog entries (AI_MODELS_FILE), merged over the shipped catalog by id. */
  modelsFile?: string;
};

export const DEFAULT_AI_CONFIG: AiConfig = {
  server: { compat: {} },
  demo: null,
  allowUserBaseUrls: true,
  cacheTtlSeconds: 7 * 24 * 3600,
  firstTokenTimeoutMs: 120_000,
  idleTimeoutMs: 60_000,
  maxRetries: 3,
  maxRetryDelayMs: 30_000,
};
