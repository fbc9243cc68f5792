/**
 * The CLI's view of its process: streams, environment (parsed by app/env.server.ts, the one place that reads
 * process.env), working directory and signals. Commands get an `Io` so tests can run them in-process with
 * their own.
 */
import type { Readable, Writable } from "node:stream";
import { type CliEnv, loadCliEnv } from "#app/env.server.ts";

export type OutStream = Writable & { isTTY?: boolean; columns?: number };
export type InStream = Readable & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };

export type Io = {
  stdout: OutStream;
  stderr: OutStream;
  stdin: InStream;
  /** The variables the CLI reads, validated in app/env.server.ts (ZCliEnv). */
  env: Readonly<CliEnv>;
  cwd: string;
  /** Where SIGINT is delivered (the process; tests pass their own emitter). */
  signals: Pick<NodeJS.EventEmitter, "on" | "off">;
};

export function processIo(): Io {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: loadCliEnv(),
    cwd: process.cwd(),
    signals: process,
  };
}
