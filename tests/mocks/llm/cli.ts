/**
 * `npm run mock:llm -- [--port 4010] [--host 127.0.0.1] [--api-key KEY]`: runs the mock LLM
 * provider until SIGINT/SIGTERM, printing the env lines to point the SDKs (or Agentry) at it and
 * one line per request.
 */
import { parseArgs } from "node:util";
import { type RecordedRequest, startMockLlm } from "./server.ts";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "4010" },
    host: { type: "string", default: "127.0.0.1" },
    "api-key": { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (values.help) {
  console.info("Usage: npm run mock:llm -- [--port 4010] [--host 127.0.0.1] [--api-key KEY]");
  process.exit(0);
}

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  console.error(`--port must be a port number, got ${values.port}`);
  process.exit(2);
}

function logLine(r: RecordedRequest): string {
  const ms = r.endedAt === null ? "" : ` ${r.endedAt - r.startedAt}ms`;
  const model = r.model === null ? "" : ` model=${r.model}`;
  const flags = `${r.stream ? " stream" : ""}${r.clientClosed ? " client-closed" : ""}`;
  return `#${r.seq} ${r.protocol} ${r.method} ${r.path}${model} scenario=${r.scenario} → ${r.status || "-"}${ms}${flags}`;
}

const mock = await startMockLlm({
  port,
  host: values.host,
  apiKey: values["api-key"],
  onRequest: (request) => console.info(logLine(request)),
});
const key = values["api-key"] ?? "mock";

console.info(`Mock LLM provider listening on ${mock.url}`);
console.info("Use it with:");
console.info(`  OPENAI_BASE_URL=${mock.url}/v1 OPENAI_API_KEY=${key}`);
console.info(`  ANTHROPIC_BASE_URL=${mock.url} ANTHROPIC_API_KEY=${key}`);
console.info(
  "Models: echo, demo, tools, slow, long, rate-limit, error-500, overloaded, stall, drop, malformed…",
);

let stopping = false;
const stop = (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.info(`${signal}: stopping the mock LLM provider`);
  mock.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on("SIGINT", () => stop("SIGINT"));
process.on("SIGTERM", () => stop("SIGTERM"));
