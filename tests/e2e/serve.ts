/**
 * Playwright's web server: the production build (build/agentry/server.js) on
 * a database of its own, created fresh for this run and dropped afterwards.
 * Uses TEST_DATABASE_URL / DATABASE_URL when set, else an embedded PostgreSQL
 * in .data/e2e so the developer's own .data is never touched.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ensureEmbeddedPostgres } from "#app/db/embedded-postgres.server.ts";
import { createLogger } from "#app/lib/logger.server.ts";
import { startFakeGitHub } from "#tests/mocks/github-oauth.ts";
import { startMockLlm } from "#tests/mocks/llm/server.ts";
import { createDatabase, dropDatabase } from "#tests/setup/database.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const logger = createLogger({ level: "warn", name: "e2e-serve" });

const given = process.env.TEST_DATABASE_URL || process.env.DATABASE_URL;
const embedded = given
  ? undefined
  : await ensureEmbeddedPostgres({ dataDir: path.join(root, ".data/e2e"), logger });
const serverUrl = given ?? embedded!.url;
const { url: databaseUrl, name } = await createDatabase(serverUrl, `agentry_e2e_${Date.now().toString(36)}`);

// GitHub at the network edge: the fake speaks its OAuth and API; specs drive it through /_fake/*.
const fakeGitHubPort = Number(process.env.E2E_GITHUB_PORT ?? 3106);
const github = await startFakeGitHub({
  port: fakeGitHubPort,
  clients: [{ clientId: "e2e-client", clientSecret: "e2e-secret" }],
});

// AI providers at the network edge: a mock that speaks OpenAI's and Anthropic's protocols, which specs use
// as the base URL of credentials they add in Settings → Providers.
const mockLlm = await startMockLlm({ port: Number(process.env.E2E_LLM_PORT ?? 3107) });

const child = spawn(process.execPath, [path.join(root, "build/agentry/server.js")], {
  cwd: root,
  // Its own process group: Playwright signals ours, and we pass exactly one SIGTERM on.
  detached: true,
  stdio: "inherit",
  env: {
    ...process.env,
    DATABASE_URL: databaseUrl,
    PORT: process.env.E2E_PORT ?? "3105",
    HOST: "127.0.0.1",
    LOG_LEVEL: process.env.E2E_LOG_LEVEL ?? "warn",
    NODE_ENV: "production",
    GITHUB_CLIENT_ID: "e2e-client",
    GITHUB_CLIENT_SECRET: "e2e-secret",
    GITHUB_WEB_URL: github.url,
    GITHUB_API_URL: github.url,
    // Specs sign up and in many times a minute from one IP.
    RATE_LIMIT_AUTH_PER_MINUTE: "1000",
    // The offline demo model, as a fresh install without provider keys offers it; plus a slow scripted model.
    AI_DEMO_MODEL: "on",
    AI_MODELS_FILE: path.join(root, "tests/e2e/models.json"),
    OPENAI_API_KEY: "",
    ANTHROPIC_API_KEY: "",
    AI_COMPAT_ENDPOINTS: "",
  },
});

let cleaning = false;
async function cleanup(code: number) {
  if (cleaning) return;
  cleaning = true;
  if (child.exitCode === null) {
    child.kill("SIGTERM");
    await new Promise((resolve) => child.once("exit", resolve));
  }
  await github.close();
  await mockLlm.close();
  await dropDatabase(serverUrl, name).catch((error) =>
    logger.warn({ err: error }, "could not drop e2e database"),
  );
  await embedded?.stop();
  process.exit(code);
}

child.on("exit", (code) => void cleanup(code ?? 1));
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => void cleanup(0));
