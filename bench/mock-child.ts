/** The mock provider for `npm run bench -- ai`, in a process of its own; prints its URL and serves until killed. */
import { startMockLlm } from "#tests/mocks/llm/server.ts";

const mock = await startMockLlm({ port: 0, maxRecorded: 1_000 });
console.info(mock.url);
const stop = () => void mock.close().then(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
