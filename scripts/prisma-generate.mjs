#!/usr/bin/env node
/**
 * `prisma generate`, made to work on a fresh clone with or without internet (npm postinstall
 * and `npm run db:generate`). Writes the client to app/generated/prisma (git-ignored).
 *
 * Why a wrapper: the Prisma 7 CLI downloads its native schema-engine binary from
 * binaries.prisma.sh before running *any* command, generate included, although generate never
 * uses it. Offline that download fails and so would `npm install`. Pointing
 * PRISMA_SCHEMA_ENGINE_BINARY at an existing file skips the download; generate itself runs on
 * WebAssembly. Migrations never need the binary either (see app/db/migrate.server.ts and
 * scripts/db-diff.ts).
 *
 * A production install without dev dependencies (`npm ci --omit=dev`) has no Prisma CLI: then
 * there is nothing to do here, because the build step already bundled the generated client.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(path.join(root, "package.json"));

let cli;
try {
  cli = require.resolve("prisma/build/index.js");
} catch {
  console.info("[prisma-generate] the prisma CLI is not installed (dev dependencies omitted): skipping");
  process.exit(0);
}

const env = { ...process.env };
// Any existing file will do: generate only checks that the path is set and present.
env.PRISMA_SCHEMA_ENGINE_BINARY ||= ["/bin/false", "/usr/bin/false"].find(existsSync) ?? process.execPath;
// No update check or telemetry from an install step.
env.CHECKPOINT_DISABLE ||= "1";
env.PRISMA_HIDE_UPDATE_MESSAGE ||= "1";

const result = spawnSync(process.execPath, [cli, "generate", ...process.argv.slice(2)], {
  cwd: root,
  env,
  stdio: "inherit",
});
if (result.error) {
  console.error(`[prisma-generate] could not run prisma: ${result.error.message}`);
  process.exit(1);
}
process.exit(result.status ?? 1);
