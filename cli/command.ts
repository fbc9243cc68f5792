/** What a command is, and what it gets to run. */
import type { ParseArgsConfig } from "node:util";
import type { Api } from "./api.ts";
import type { Target } from "./config.ts";
import type { Io } from "./env.ts";
import type { CliError } from "./errors.ts";

export type Ctx = {
  io: Io;
  /** `--json`: one JSON document on stdout (NDJSON for a followed run), nothing else on stdout. */
  json: boolean;
  /** `--url`, when given. */
  flagUrl: string | undefined;
  /** The server and key to use (see config.ts). */
  target(): Promise<Target>;
  /** The API client for the target; "not logged in" when there is no key. */
  api(): Promise<Api>;
  /** An API client error → a CliError that names the server. */
  toCliError(error: unknown): CliError;
  /** Text to stdout (human mode). */
  out(text: string): void;
  /** A line to stderr. */
  note(text: string): void;
  /** A JSON document (one line) to stdout. */
  printJson(value: unknown): void;
};

export type Values = Record<string, string | boolean | Array<string | boolean> | undefined>;

export type Command = {
  /** Words that name it: ["projects", "ls"]. */
  path: string[];
  /** Other names for the last word ("list" for "ls"). */
  aliases?: string[];
  summary: string;
  /** `agentry projects create <name> [--description <text>]` */
  usage: string;
  description?: string;
  options?: NonNullable<ParseArgsConfig["options"]>;
  /** [flag, explanation] rows for --help. */
  optionHelp?: Array<[string, string]>;
  examples?: string[];
  /** Positional arguments: at least / at most. */
  args?: [min: number, max: number];
  run(ctx: Ctx, values: Values, positionals: string[]): Promise<number>;
};
