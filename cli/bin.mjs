#!/usr/bin/env node
// The `agentry` command: loads the TypeScript entry through tsx's ESM loader (no build step).
import { register } from "tsx/esm/api";

register();
const { run } = await import("./main.ts");
const code = await run(process.argv.slice(2));
// Pending sockets (keep-alive) must not hold the exit; stdout/stderr writes are synchronous on pipes/files.
process.exit(code);
