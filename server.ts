/**
 * Agentry's process entry. `npm start` runs the bundled copy of this file;
 * `npm run dev` runs it through tsx with --dev.
 *
 *   --role all|web|worker   (or AGENTRY_ROLE) which parts this process runs
 *   --dev                   Vite middleware with hot reload instead of the built app
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadEnv } from "#app/env.server.ts";
import { createLogger } from "#app/lib/logger.server.ts";
import { findPackageRoot, startAgentry } from "#app/server/start.server.ts";

const rootDir = findPackageRoot(fileURLToPath(new URL(".", import.meta.url)));
const args = process.argv.slice(2);
/** Flags win over the environment; loadEnv validates the merged view like everything else. */
const overrides: Record<string, string> = {};
const defaults: Record<string, string> = {};
const roleIndex = args.findIndex((a) => a === "--role" || a.startsWith("--role="));
if (roleIndex >= 0) {
  const role = args[roleIndex]!.includes("=") ? args[roleIndex]!.split("=")[1] : args[roleIndex + 1];
  if (!role || !["all", "web", "worker"].includes(role)) {
    console.error(`--role must be one of all, web, worker (got ${role ?? "nothing"})`);
    process.exit(2);
  }
  overrides.AGENTRY_ROLE = role;
}
const dev = args.includes("--dev");
if (dev) defaults.NODE_ENV = "development";
// A .env beside package.json is read when present; real environment variables win.
const envFile = path.join(rootDir, ".env");
if (existsSync(envFile)) process.loadEnvFile(envFile);

const env = loadEnv(undefined, undefined, { defaults, overrides });
const logger = createLogger({
  level: env.LOG_LEVEL,
  pretty: env.LOG_FORMAT === "pretty" || (env.LOG_FORMAT === "auto" && process.stdout.isTTY === true),
});

const booted = performance.now();
const running = await startAgentry({
  env,
  logger,
  rootDir,
  mode: dev ? "development" : "production",
  onFatal: (error) => {
    logger.fatal({ err: error }, "a required part stopped; shutting down");
    void running.stop("fatal").finally(() => process.exit(1));
  },
}).catch((error: unknown) => {
  logger.fatal({ err: error }, `Agentry failed to start: ${(error as Error).message}`);
  process.exit(1);
});
logger.info({ ms: Math.round(performance.now() - booted) }, "ready");

let signals = 0;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    signals += 1;
    if (signals > 1) {
      logger.warn(`second ${signal}: exiting now`);
      process.exit(130);
    }
    running
      .stop(signal)
      .then(() => process.exit(0))
      .catch(() => process.exit(1));
  });
}
