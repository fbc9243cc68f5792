/**
 * npm run eval -- --suite <dir> --model <id> [--model <id2>] [--json <file>] [--concurrency N] [--no-fail]
 *
 * Runs the coding agent on every task of a suite through the real workflow engine and prints a table; writes
 * the JSON report to --json (default .data-eval/eval-report.json). Exit 0 when every task passed, 1 when one
 * failed (0 with --no-fail), 2 for bad arguments or a setup problem. See docs/evals.md.
 */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { loadEnv } from "#app/env.server.ts";
import { resolveTestServer } from "#tests/setup/database-server.ts";
import {
  EvalSetupError,
  type EvalSuite,
  exitCodeFor,
  formatReport,
  isMockModel,
  loadSuite,
  REPO_ROOT,
  reportJson,
  runEval,
  SuiteError,
  type TaskResult,
} from "../evals/harness/index.ts";

const USAGE = `Usage: npm run eval -- --suite <dir> --model <id> [--model <id2> …] [options]

  --suite <dir>        folder of tasks (each: task.json + files/ [+ mock-script.json]), or one task folder
  --model <id>         model to evaluate, repeatable: mock | openai:<model> | anthropic:<model> | compat:<endpoint>/<model>
  --json <file>        where to write the JSON report (default .data-eval/eval-report.json)
  --concurrency <n>    tasks run at once (default 1)
  --no-fail            exit 0 even when tasks fail
  -h, --help           this text

Database: TEST_DATABASE_URL, else DATABASE_URL (a throwaway database is created on that server and dropped),
else the embedded PostgreSQL of the tests (.data-test/). Provider keys: OPENAI_API_KEY, ANTHROPIC_API_KEY,
AI_COMPAT_ENDPOINTS … as for the app.`;

/** Under the repository's git-ignored `.data-*` folders, so a report is never committed by accident. */
const DEFAULT_JSON = path.join(REPO_ROOT, ".data-eval", "eval-report.json");
/** npm runs scripts in the package root; relative paths are the caller's. */
const CALLER_CWD = process.env.INIT_CWD ?? process.cwd();

async function main(): Promise<number> {
  let args: ReturnType<typeof parse>;
  const parse = () =>
    parseArgs({
      options: {
        suite: { type: "string" },
        model: { type: "string", multiple: true },
        json: { type: "string" },
        concurrency: { type: "string" },
        "no-fail": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    });
  try {
    args = parse();
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values } = args;
  if (values.help) {
    console.info(USAGE);
    return 0;
  }
  if (!values.suite || !values.model?.length) {
    console.error(`--suite and at least one --model are required.\n\n${USAGE}`);
    return 2;
  }
  const concurrency = values.concurrency === undefined ? 1 : Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 32) {
    console.error("--concurrency must be an integer from 1 to 32");
    return 2;
  }
  const models = values.model
    .flatMap((m) => m.split(","))
    .map((m) => m.trim())
    .filter(Boolean);
  const jsonFile = values.json ? path.resolve(CALLER_CWD, values.json) : DEFAULT_JSON;

  const env = loadEnv(process.env);
  let suite: EvalSuite;
  try {
    // Before any database work: a bad suite is a quick, clear error.
    suite = await loadSuite(path.resolve(CALLER_CWD, values.suite));
  } catch (error) {
    if (error instanceof SuiteError) {
      console.error(error.message);
      return 2;
    }
    throw error;
  }
  const server = await resolveTestServer(process.env);
  const progress = (r: TaskResult) =>
    process.stderr.write(
      `${r.passed ? "✓" : "✗"} ${r.model} / ${r.task} (${(r.wallMs / 1000).toFixed(1)} s)${r.passed ? "" : ` ${r.status}`}\n`,
    );
  try {
    process.stderr.write(
      `Evaluating ${models.join(", ")} on ${values.suite}${models.some(isMockModel) ? " (mock: scripted, not an AI)" : ""} — database: ${server.source}\n`,
    );
    const report = await runEval({
      suite,
      models,
      env,
      concurrency,
      database: { serverUrl: server.url },
      onResult: progress,
    });
    process.stdout.write(`\n${formatReport(report)}`);
    await mkdir(path.dirname(jsonFile), { recursive: true });
    await writeFile(jsonFile, reportJson(report));
    const shown = path.relative(CALLER_CWD, jsonFile);
    process.stdout.write(`\nJSON report: ${shown.startsWith("..") ? jsonFile : shown}\n`);
    return exitCodeFor(report, { noFail: values["no-fail"] === true });
  } catch (error) {
    if (error instanceof SuiteError || error instanceof EvalSetupError) {
      console.error(error.message);
      return 2;
    }
    throw error;
  } finally {
    await server.stop();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error);
    process.exitCode = 2;
  },
);
