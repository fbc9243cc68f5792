/**
 * The CLI's view of its process: streams, environment, working directory and signals. This is the one
 * place that reads `process.*`; commands get an `Io` so tests can run them in-process with their own.
 */
import type { Readable, Writable } from "node:stream";

export type OutStream = Writable & { isTTY?: boolean; columns?: number };
export type InStream = Readable & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };

export type Io = {
  stdout: OutStream;
  stderr: OutStream;
  stdin: InStream;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  /** Where SIGINT is delivered (the process; tests pass their own emitter). */
  signals: Pick<NodeJS.EventEmitter, "on" | "off">;
};

export function processIo(): Io {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    cwd: process.cwd(),
    signals: process,
  };
}
