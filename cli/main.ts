/**
 * `agentry`: the command-line client of an Agentry server. `run(argv, io)` parses the arguments, runs one
 * command and returns its exit code; bin.mjs calls it with the real process.
 */
import { readFileSync } from "node:fs";
import { type ParseArgsConfig, parseArgs } from "node:util";
import { createApi } from "./api.ts";
import type { Command, Ctx, Values } from "./command.ts";
import { login, logout, whoami } from "./commands/auth.ts";
import { filesPull, filesPush, projectsCreate, projectsLs, workflowsLs } from "./commands/projects.ts";
import { run as runCommand, runsCancel, runsLs, runsShow, runsWatch } from "./commands/runs.ts";
import { requireKey, resolveTarget, type Target } from "./config.ts";
import { type Io, processIo } from "./env.ts";
import { CliError, EXIT, toCliError, UsageError } from "./errors.ts";

export const COMMANDS: Command[] = [
  login,
  logout,
  whoami,
  projectsLs,
  projectsCreate,
  filesPush,
  filesPull,
  workflowsLs,
  runCommand,
  runsLs,
  runsShow,
  runsCancel,
  runsWatch,
];

const GLOBAL_OPTIONS = {
  json: { type: "boolean" },
  url: { type: "string" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "V" },
} as const satisfies NonNullable<ParseArgsConfig["options"]>;

const GLOBAL_HELP: Array<[string, string]> = [
  ["--json", "Machine-readable output: one JSON document on stdout (NDJSON for `run`)"],
  ["--url <url>", "Server URL (else AGENTRY_URL, else the one you logged in to)"],
  ["-h, --help", "Help for a command"],
  ["-V, --version", "Print the CLI version"],
];

export function cliVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

function optionRows(rows: Array<[string, string]>): string {
  const width = Math.max(...rows.map(([flag]) => flag.length));
  return rows.map(([flag, text]) => `  ${flag.padEnd(width)}  ${text}`).join("\n");
}

export function mainHelp(): string {
  const rows: Array<[string, string]> = COMMANDS.map((c) => [c.path.join(" "), c.summary]);
  return `agentry ${cliVersion()} — the command line of Agentry

Usage: agentry <command> [options]

Commands:
${optionRows(rows)}

Global options:
${optionRows(GLOBAL_HELP)}

Environment:
  AGENTRY_URL      Server URL (overridden by --url)
  AGENTRY_API_KEY  API key to use instead of the stored one

Run \`agentry <command> --help\` for a command's options and examples. Docs: docs/cli.md
`;
}

export function commandHelp(command: Command): string {
  const parts = [`Usage: ${command.usage}`, "", `${command.summary}.`];
  if (command.description) parts.push("", command.description);
  if (command.optionHelp?.length) parts.push("", "Options:", optionRows(command.optionHelp));
  parts.push("", "Global options:", optionRows(GLOBAL_HELP));
  if (command.examples?.length) parts.push("", "Examples:", ...command.examples.map((e) => `  ${e}`));
  return `${parts.join("\n")}\n`;
}

function subcommandHelp(head: string): string {
  const commands = COMMANDS.filter((c) => c.path[0] === head);
  return `Usage: agentry ${head} <${commands.map((c) => c.path[1]).join("|")}> [options]

${optionRows(commands.map((c) => [c.path.join(" "), c.summary]))}

Run \`agentry ${head} <command> --help\` for details.
`;
}

/** The positions of the words that name the command (skipping global options and their values). */
function commandWords(argv: string[]): number[] {
  const positions: number[] = [];
  for (let i = 0; i < argv.length && positions.length < 2; i += 1) {
    const arg = argv[i] as string;
    if (arg === "--") break;
    if (arg === "--url") {
      i += 1;
      continue;
    }
    if (arg.startsWith("-")) continue;
    positions.push(i);
  }
  return positions;
}

function findCommand(argv: string[]): { command: Command | null; rest: string[]; head: string | null } {
  const positions = commandWords(argv);
  const first = positions[0] === undefined ? null : (argv[positions[0]] as string);
  if (first === null) return { command: null, rest: argv, head: null };
  const single = COMMANDS.find((c) => c.path.length === 1 && c.path[0] === first);
  if (single) return { command: single, rest: argv.filter((_, i) => i !== positions[0]), head: first };
  const family = COMMANDS.filter((c) => c.path[0] === first);
  if (family.length === 0) throw new UsageError(`Unknown command "${first}". Run \`agentry --help\`.`);
  const second = positions[1] === undefined ? null : (argv[positions[1]] as string);
  const command =
    second === null
      ? null
      : (family.find((c) => c.path[1] === second || c.aliases?.includes(second)) ?? null);
  if (second !== null && !command) {
    throw new UsageError(`Unknown command "${first} ${second}". Run \`agentry ${first} --help\`.`);
  }
  const drop = new Set(command ? [positions[0], positions[1]] : [positions[0]]);
  return { command, rest: argv.filter((_, i) => !drop.has(i)), head: first };
}

export async function run(argv: string[], io: Io = processIo()): Promise<number> {
  let json = argv.includes("--json");
  const resolved: { target: Target | null } = { target: null };
  const printJson = (value: unknown) => io.stdout.write(`${JSON.stringify(value)}\n`);
  const fail = (error: CliError) => {
    if (json) {
      // The one JSON document is the error; the message also goes to stderr for people.
      printJson({ error: { code: error.code ?? "ERROR", message: error.message, exitCode: error.exitCode } });
    }
    io.stderr.write(`agentry: ${error.message}\n`);
    return error.exitCode;
  };
  try {
    const { command, rest, head } = findCommand(argv);
    const options = { ...GLOBAL_OPTIONS, ...(command?.options ?? {}) };
    let parsed: { values: Values; positionals: string[] };
    try {
      parsed = parseArgs({ args: rest, options, allowPositionals: true, strict: true }) as typeof parsed;
    } catch (error) {
      throw new UsageError(
        `${(error as Error).message.split("\n")[0]}${command ? `\nUsage: ${command.usage}` : ""}`,
      );
    }
    const { values, positionals } = parsed;
    json = values.json === true;
    if (values.version === true && command?.path[0] !== "run") {
      io.stdout.write(json ? `${JSON.stringify({ version: cliVersion() })}\n` : `${cliVersion()}\n`);
      return EXIT.ok;
    }
    if (!command) {
      if (values.help === true || head === null) {
        io.stdout.write(head ? subcommandHelp(head) : mainHelp());
        return head === null && values.help !== true ? EXIT.usage : EXIT.ok;
      }
      throw new UsageError(`Missing command. Run \`agentry ${head} --help\`.`);
    }
    if (values.help === true) {
      io.stdout.write(commandHelp(command));
      return EXIT.ok;
    }
    const [min, max] = command.args ?? [0, 0];
    if (positionals.length < min || positionals.length > max) {
      throw new UsageError(
        `${positionals.length < min ? "Missing arguments" : `Unexpected argument "${positionals[max]}"`}\nUsage: ${command.usage}`,
      );
    }
    const flagUrl = typeof values.url === "string" ? values.url : undefined;
    const ctx: Ctx = {
      io,
      json,
      flagUrl,
      async target() {
        resolved.target ??= await resolveTarget(io, flagUrl);
        return resolved.target;
      },
      async api() {
        const t = await this.target();
        return createApi({ url: t.url, key: requireKey(t) });
      },
      toCliError: (error) => toCliError(error, resolved.target?.url ?? flagUrl ?? "the server"),
      out: (text) => {
        if (!json) io.stdout.write(text);
      },
      note: (text) => io.stderr.write(`${text}\n`),
      printJson,
    };
    return await command.run(ctx, values, positionals);
  } catch (error) {
    const cli = toCliError(error, resolved.target?.url ?? "the server");
    if (!(cli instanceof UsageError) && !(error instanceof CliError) && !cli.code) {
      // Unexpected: keep the stack for a bug report when asked.
      if (io.env.AGENTRY_DEBUG) io.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
    }
    return fail(cli);
  }
}
