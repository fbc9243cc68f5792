/**
 * The AI module as the server runs it: configuration from the environment, the keyring for stored
 * credentials, the model catalog and the AIServiceProxy. Built once per process (web and worker alike)
 * and passed to the tRPC context, Remix loaders and the worker's tasks.
 */
import type { Db } from "#app/db/client.server.ts";
import type { Env } from "#app/env.server.ts";
import type { Logger } from "#app/lib/logger.server.ts";
import { loadOrCreateLocalSecrets } from "#app/platform/local-secrets.server.ts";
import { ZEndpointName } from "./ai.types.ts";
import { type Catalog, loadCatalog } from "./catalog.server.ts";
import { type AiConfig, DEFAULT_AI_CONFIG, type Keyring } from "./config.server.ts";
import { createKeyring } from "./crypto.server.ts";
import { type AiService, createAiService } from "./service.server.ts";

export type AiRuntime = {
  config: AiConfig;
  keyring: Keyring;
  catalog: Catalog;
  service: AiService;
};

export function createAiRuntime({
  db,
  logger,
  config,
  keyring,
  catalog = loadCatalog({ modelsFile: config.modelsFile }),
  now,
}: {
  db: Db;
  logger: Logger;
  config: AiConfig;
  keyring: Keyring;
  catalog?: Catalog;
  now?: () => Date;
}): AiRuntime {
  const service = createAiService({
    db,
    logger: logger.child({ component: "ai" }),
    config,
    keyring,
    catalog,
    now,
  });
  return { config, keyring, catalog, service };
}

/** Named OpenAI-compatible endpoints from AI_COMPAT_ENDPOINTS (list or JSON) and AI_COMPAT_<NAME>_API_KEY. */
export function parseCompatEndpoints(
  value: string | undefined,
  apiKeys: Record<string, string> = {},
): Record<string, { baseUrl: string; apiKey: string }> {
  if (!value) return {};
  const result: Record<string, { baseUrl: string; apiKey: string }> = {};
  const add = (name: string, baseUrl: unknown, apiKey: unknown) => {
    const parsedName = ZEndpointName.safeParse(name);
    if (!parsedName.success)
      throw new Error(`AI_COMPAT_ENDPOINTS: "${name}" is not a valid endpoint name (a-z, 0-9, - and _)`);
    if (parsedName.data === "demo")
      throw new Error(`AI_COMPAT_ENDPOINTS: "demo" is reserved for the offline demo model`);
    if (typeof baseUrl !== "string" || !/^https?:\/\/[^\s]+$/.test(baseUrl)) {
      throw new Error(`AI_COMPAT_ENDPOINTS: endpoint "${name}" needs an http(s) base URL`);
    }
    const key = typeof apiKey === "string" ? apiKey : (apiKeys[envKeyName(parsedName.data)] ?? "");
    result[parsedName.data] = { baseUrl: baseUrl.replace(/\/+$/, ""), apiKey: key };
  };
  const trimmed = value.trim();
  if (trimmed.startsWith("{")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      throw new Error("AI_COMPAT_ENDPOINTS is not valid JSON");
    }
    for (const [name, entry] of Object.entries(
      parsed as Record<string, { baseUrl?: unknown; apiKey?: unknown }>,
    )) {
      add(name, entry?.baseUrl, entry?.apiKey);
    }
    return result;
  }
  for (const item of trimmed.split(",")) {
    if (!item.trim()) continue;
    const eq = item.indexOf("=");
    if (eq <= 0) throw new Error(`AI_COMPAT_ENDPOINTS: "${item.trim()}" must look like name=http://host/v1`);
    add(item.slice(0, eq).trim(), item.slice(eq + 1).trim(), undefined);
  }
  return result;
}

/** `vllm` → `AI_COMPAT_VLLM_API_KEY`, `lm-studio` → `AI_COMPAT_LM_STUDIO_API_KEY`. */
export function envKeyName(endpoint: string): string {
  return `AI_COMPAT_${endpoint.toUpperCase().replace(/[^A-Z0-9]/g, "_")}_API_KEY`;
}

/** AI settings from the validated environment. `demoBaseUrl` is the in-process mock's /v1 URL when the demo runs. */
export function aiConfigFromEnv(env: Env, { demoBaseUrl }: { demoBaseUrl: string | null }): AiConfig {
  return {
    ...DEFAULT_AI_CONFIG,
    server: {
      openai: env.OPENAI_API_KEY ? { apiKey: env.OPENAI_API_KEY, baseUrl: env.OPENAI_BASE_URL } : undefined,
      anthropic: env.ANTHROPIC_API_KEY
        ? { apiKey: env.ANTHROPIC_API_KEY, baseUrl: env.ANTHROPIC_BASE_URL }
        : undefined,
      compat: parseCompatEndpoints(env.AI_COMPAT_ENDPOINTS, env.compatApiKeys),
    },
    demo: demoBaseUrl ? { baseUrl: demoBaseUrl } : null,
    allowUserBaseUrls: env.AI_ALLOW_USER_BASE_URLS,
    cacheTtlSeconds: env.AI_CACHE_TTL_SECONDS,
    firstTokenTimeoutMs: env.AI_FIRST_TOKEN_TIMEOUT_SECONDS * 1000,
    idleTimeoutMs: env.AI_IDLE_TIMEOUT_SECONDS * 1000,
    maxRetries: env.AI_MAX_RETRIES,
    modelsFile: env.AI_MODELS_FILE,
  };
}

/**
 * Whether to offer the offline demo model: `on`/`off` as set; `auto` = when no provider is configured at the
 * server level and this is a local install (embedded database) or development.
 */
export function wantsDemoModel(env: Env, mode: "development" | "production"): boolean {
  if (env.AI_DEMO_MODEL !== "auto") return env.AI_DEMO_MODEL === "on";
  const configured = !!env.OPENAI_API_KEY || !!env.ANTHROPIC_API_KEY || !!env.AI_COMPAT_ENDPOINTS;
  return !configured && (!env.DATABASE_URL || mode === "development");
}

/** The credentials keyring: AGENTRY_ENCRYPTION_KEY(_PREVIOUS), else the key generated in AGENTRY_DATA_DIR. */
export async function keyringFromEnv(env: Env, logger: Logger): Promise<Keyring> {
  const previous =
    env.AGENTRY_ENCRYPTION_KEY_PREVIOUS?.split(",")
      .map((k) => k.trim())
      .filter(Boolean) ?? [];
  if (env.AGENTRY_ENCRYPTION_KEY) return createKeyring(env.AGENTRY_ENCRYPTION_KEY, previous);
  const local = await loadOrCreateLocalSecrets(env.dataDir);
  if (env.DATABASE_URL) {
    logger.warn(
      "AGENTRY_ENCRYPTION_KEY is not set: provider credentials are encrypted with the key generated in AGENTRY_DATA_DIR. Set it when several processes share this database, or they cannot read each other's credentials.",
    );
  }
  return createKeyring(local.encryptionKey, previous);
}
