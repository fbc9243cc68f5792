/**
 * The AI module as tests build it: a fixed test key for credentials, the shipped catalog, short memo so
 * tests see their own changes, and whatever config the test passes (mock provider URLs).
 */
import type { Db } from "#app/db/client.server.ts";
import { createLogger } from "#app/lib/logger.server.ts";
import { type AiConfig, DEFAULT_AI_CONFIG } from "#app/modules/ai/config.server.ts";
import { createKeyring } from "#app/modules/ai/crypto.server.ts";
import { type AiRuntime, createAiRuntime } from "#app/modules/ai/runtime.server.ts";

export type { AiRuntime };

/** 32 bytes, base64: the credentials key of every test. */
export const TEST_ENCRYPTION_KEY = Buffer.alloc(32, 7).toString("base64");

export function createTestAiRuntime(db: Db, config: Partial<AiConfig> = {}): AiRuntime {
  return createAiRuntime({
    db,
    logger: createLogger({ level: "silent" }),
    config: { ...DEFAULT_AI_CONFIG, maxRetries: 0, ...config },
    keyring: createKeyring(TEST_ENCRYPTION_KEY),
  });
}
