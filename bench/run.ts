/**
 * `npm run bench [-- suite...]`: performance scenarios on this machine, against a real PostgreSQL and real
 * HTTP. Suites: `core` (auth, API, queue, import), `ai` (the AI proxy against the mock provider) `runs` and `sandbox` (one command in bubblewrap vs spawned directly)
 * (the run pipeline through a real worker); none named = all. Prints medians and tails, and appends the run to bench/results.json (last 50 runs kept).
 * Uses TEST_DATABASE_URL / DATABASE_URL when set, else an embedded PostgreSQL in .data/bench.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ensureEmbeddedPostgres } from "#app/db/embedded-postgres.server.ts";
import { migrate } from "#app/db/migrate.server.ts";
import { createLogger } from "#app/lib/logger.server.ts";
import { createDatabase, dropDatabase } from "#tests/setup/database-server.ts";
import { runAi } from "./ai.ts";
import { runCore } from "./core.ts";
import { results } from "./lib.ts";
import { runRuns } from "./runs.ts";
import { runSandbox } from "./sandbox.ts";

const SUITES: Record<string, (url: string) => Promise<void>> = {
  core: runCore,
  ai: runAi,
  runs: runRuns,
  sandbox: (url) => runSandbox(url),
};

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const asked = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const unknown = asked.filter((s) => !(s in SUITES));
if (unknown.length > 0) {
  console.error(`Unknown suite(s): ${unknown.join(", ")}. Suites: ${Object.keys(SUITES).join(", ")}`);
  process.exit(2);
}
const suites = asked.length > 0 ? asked : Object.keys(SUITES);

const logger = createLogger({ level: "silent" });
const given = process.env.TEST_DATABASE_URL || process.env.DATABASE_URL;
const embedded = given
  ? undefined
  : await ensureEmbeddedPostgres({ dataDir: path.join(root, ".data/bench"), logger });
const serverUrl = given ?? embedded!.url;
const name = `agentry_bench_${Date.now().toString(36)}`;
const { url } = await createDatabase(serverUrl, name);

try {
  await migrate({ connectionString: url, migrationsDir: path.join(root, "prisma/migrations") });
  for (const suite of suites) {
    console.info(`\n── ${suite} ──`);
    await SUITES[suite]!(url);
  }
} finally {
  await dropDatabase(serverUrl, name);
  await embedded?.stop();
}

const file = path.join(root, "bench/results.json");
type Stored = {
  runs: Array<{ date: string; node: string; cpus: number; suites: string[]; results: typeof results }>;
};
let stored: Stored = { runs: [] };
if (existsSync(file)) {
  try {
    const parsed = JSON.parse(readFileSync(file, "utf8")) as Partial<Stored>;
    if (Array.isArray(parsed.runs)) stored = { runs: parsed.runs };
  } catch {
    // an unreadable file is replaced
  }
}
const { availableParallelism } = await import("node:os");
stored.runs.push({
  date: new Date().toISOString(),
  node: process.version,
  cpus: availableParallelism(),
  suites,
  results,
});
stored.runs = stored.runs.slice(-50);
writeFileSync(file, `${JSON.stringify(stored, null, 2)}\n`);
console.info(`\nappended to bench/results.json (${stored.runs.length} runs kept)`);
