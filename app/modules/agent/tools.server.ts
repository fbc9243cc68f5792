/**
 * The agent's built-in tools over one workspace: list_files, read_file, write_file, edit_file, search,
 * run_command, finish (AGENT_TOOL_NAMES, in that order).
 *
 * Every input is validated with zod: a bad call comes back as a ToolResult with isError and a message the
 * model can act on, never as a throw. The file tools run on the host and treat the workspace as hostile
 * (a command may have planted links, FIFOs, setuid files): see fs-safe.server.ts. Only run_command executes
 * anything, always through the sandbox module.
 */
import { Worker } from "node:worker_threads";
import { z } from "zod";
import { MAX_FILE_BYTES } from "#app/modules/projects/projects.types.ts";
import {
  isSandboxError,
  runInSandbox,
  type SandboxConfig,
  type SandboxLimitsInput,
  type SandboxResult,
} from "#app/modules/sandbox/index.server.ts";
import type { AgentTool, ToolContext, ToolResult } from "./agent.types.ts";
import {
  decodeText,
  dropSpecialBits,
  readWorkspaceFile,
  realWorkspaceRoot,
  resolveWorkspacePath,
  utf8Head,
  utf8Tail,
  type WalkEntry,
  WorkspaceFsError,
  walkWorkspace,
  writeWorkspaceFile,
} from "./fs-safe.server.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

/** Size limits of the file tools and of what goes back to the model. */
export type AgentToolCaps = {
  /** Largest file read_file / edit_file open at all. Default 10 MiB. */
  readMaxFileBytes: number;
  /** Most text one read_file answer holds. Default 64 KiB. */
  readMaxOutputBytes: number;
  /** Most lines one read_file answer holds. Default 2 000. */
  readMaxLines: number;
  /** Longest line shown (read_file, search); longer ones are cut. Default 2 000 characters. */
  maxLineChars: number;
  /** Largest file write_file / edit_file write: the project's own save limit (2 MiB). */
  writeMaxBytes: number;
  /** Default and most entries of one list_files answer. Default 500 / 5 000. */
  listDefaultEntries: number;
  listMaxEntries: number;
  /** Default and most matches of one search. Default 100 / 1 000. */
  searchDefaultResults: number;
  searchMaxResults: number;
  /** Files larger than this are not searched (and are counted as skipped). Default 2 MiB. */
  searchMaxFileBytes: number;
  /** A search (its regex) running longer is stopped. Default 10 s. */
  searchTimeoutMs: number;
  /** Command output shown to the model (its head and its tail). Default 24 KiB. */
  commandOutputBytes: number;
};

export const DEFAULT_AGENT_TOOL_CAPS: AgentToolCaps = {
  readMaxFileBytes: 10 * MiB,
  readMaxOutputBytes: 64 * KiB,
  readMaxLines: 2_000,
  maxLineChars: 2_000,
  writeMaxBytes: MAX_FILE_BYTES,
  listDefaultEntries: 500,
  listMaxEntries: 5_000,
  searchDefaultResults: 100,
  searchMaxResults: 1_000,
  searchMaxFileBytes: 2 * MiB,
  searchTimeoutMs: 10_000,
  commandOutputBytes: 24 * KiB,
};

export type CreateAgentToolsOptions = {
  /** Absolute path of the run's workspace (MaterializedWorkspace.dir). */
  workspaceDir: string;
  sandbox: {
    config: SandboxConfig;
    limits?: SandboxLimitsInput;
    /** Default and longest wall-clock time of one command. Default 120 000 ms. */
    timeoutMs?: number;
    /** Output the sandbox keeps per command (streamed to onOutput). Default 1 MiB. */
    maxOutputBytes?: number;
  };
  caps?: Partial<AgentToolCaps>;
};

const DEFAULT_COMMAND_TIMEOUT_MS = 120_000;

// ─── Shared plumbing ─────────────────────────────────────────────────────────

type Runtime = {
  root: () => Promise<string>;
  caps: AgentToolCaps;
  options: CreateAgentToolsOptions;
};

const fail = (output: string, meta?: Record<string, unknown>): ToolResult => ({
  output,
  isError: true,
  ...(meta ? { meta } : {}),
});

function formatIssues(name: string, error: z.ZodError): string {
  const issues = error.issues.slice(0, 5).map((issue) => {
    const where = issue.path.length > 0 ? issue.path.join(".") : "input";
    return `${where}: ${issue.message}`;
  });
  return `Invalid input for ${name}: ${issues.join("; ")}`;
}

/** The arguments' JSON Schema, without the `$schema` key some providers reject in tool definitions. */
function jsonSchemaOf(schema: z.ZodObject): Record<string, unknown> {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io: "input" }) as Record<string, unknown>;
  return rest;
}

function defineTool<S extends z.ZodObject>(
  runtime: Runtime,
  spec: { name: string; description: string; schema: S },
  run: (input: z.output<S>, context: ToolContext, root: string) => Promise<ToolResult>,
): AgentTool {
  return {
    name: spec.name,
    description: spec.description,
    parameters: jsonSchemaOf(spec.schema),
    async run(raw, context) {
      let input: unknown = raw;
      if (typeof raw === "string") {
        try {
          input = JSON.parse(raw);
        } catch {
          return fail(`Invalid input for ${spec.name}: the arguments are not a JSON object`);
        }
      }
      const parsed = spec.schema.safeParse(input ?? {});
      if (!parsed.success) return fail(formatIssues(spec.name, parsed.error));
      let root = "";
      try {
        root = await runtime.root();
        return await run(parsed.data, context, root);
      } catch (error) {
        if (error instanceof WorkspaceFsError) return fail(error.message, { code: error.code });
        // Unexpected (an I/O error): say what happened without the host's paths.
        const message = error instanceof Error ? error.message : String(error);
        let shown = message.split(runtime.options.workspaceDir).join("<workspace>");
        if (root) shown = shown.split(root).join("<workspace>");
        return fail(`${spec.name} failed: ${shown}`);
      }
    },
  };
}

const ZPath = z.string({ error: "path must be a string" }).max(4096, "path is too long");

function cutLine(line: string, max: number): string {
  return line.length > max
    ? `${line.slice(0, max)}… [line cut at ${max} of ${line.length} characters]`
    : line;
}

function splitLines(text: string): string[] {
  if (text === "") return [];
  const lines = text.split("\n");
  if (text.endsWith("\n")) lines.pop();
  return lines.map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
}

const countLines = (text: string) => splitLines(text).length;

/** 1-based line numbers where each of `indexes` (character offsets) falls. */
function lineNumbersAt(text: string, indexes: number[]): number[] {
  const out: number[] = [];
  let line = 1;
  let pos = 0;
  for (const index of indexes) {
    for (; pos < index; pos += 1) if (text.charCodeAt(pos) === 10) line += 1;
    out.push(line);
  }
  return out;
}

function numbered(lines: string[], firstLine: number, maxLineChars: number): string[] {
  const width = String(firstLine + lines.length - 1).length;
  return lines.map((line, i) => `${String(firstLine + i).padStart(width)}\t${cutLine(line, maxLineChars)}`);
}

// ─── list_files ──────────────────────────────────────────────────────────────

function listTool(runtime: Runtime): AgentTool {
  const { caps } = runtime;
  const schema = z
    .object({
      path: ZPath.optional().describe(
        'Folder to list, relative to the workspace root. Default "." (everything).',
      ),
      max_entries: z
        .number()
        .int()
        .min(1)
        .max(caps.listMaxEntries)
        .optional()
        .describe(`Most entries to return (default ${caps.listDefaultEntries}).`),
    })
    .strict();
  return defineTool(
    runtime,
    {
      name: "list_files",
      description:
        "List the files and folders of the workspace recursively (or of one folder), with file sizes. Folders like .git and node_modules are shown but not entered; symbolic links are shown, never followed.",
      schema,
    },
    async (input, _context, root) => {
      const start = await resolveWorkspacePath(root, input.path ?? ".", { allowRoot: true });
      if (!start.stat) return fail(`Folder not found: ${start.rel}`);
      if (!start.stat.isDirectory())
        return fail(`${start.rel} is a file, not a folder; use read_file to read it`);
      const max = input.max_entries ?? caps.listDefaultEntries;
      const { entries, truncated } = await walkWorkspace(root, start, { maxEntries: max });
      const shown = (e: WalkEntry) => (start.rel === "" ? e.rel : e.rel.slice(start.rel.length + 1));
      const lines = entries.map((e) => {
        if (e.kind === "dir") return e.ignored ? `${shown(e)}/ (not listed: ignored folder)` : `${shown(e)}/`;
        if (e.kind === "symlink")
          return `${shown(e)} -> ${cutLine(e.target ?? "?", 200)} (symbolic link, not followed)`;
        if (e.kind === "other") return `${shown(e)} (special file, not readable)`;
        return `${shown(e)} (${e.size} B)`;
      });
      const files = entries.filter((e) => e.kind === "file").length;
      const folders = entries.filter((e) => e.kind === "dir").length;
      const where = start.rel === "" ? "the workspace" : `${start.rel}/`;
      const header =
        entries.length === 0 ? `${where} is empty` : `${files} files, ${folders} folders in ${where}:`;
      const footer = truncated
        ? `\n… stopped at ${max} entries: list a subfolder, or raise max_entries (at most ${caps.listMaxEntries})`
        : "";
      return {
        output: [header, ...lines].join("\n") + footer,
        meta: { path: start.rel || ".", files, folders, truncated },
      };
    },
  );
}

// ─── read_file ───────────────────────────────────────────────────────────────

function readTool(runtime: Runtime): AgentTool {
  const { caps } = runtime;
  const schema = z
    .object({
      path: ZPath.describe("File to read, relative to the workspace root (e.g. src/index.ts)."),
      start_line: z.number().int().min(1).optional().describe("First line to show (1-based). Default 1."),
      end_line: z
        .number()
        .int()
        .min(1)
        .optional()
        .describe(`Last line to show (inclusive). Default: ${caps.readMaxLines} lines from start_line.`),
    })
    .strict();
  return defineTool(
    runtime,
    {
      name: "read_file",
      description: `Read a text file of the workspace, with line numbers (number, tab, line). Give start_line/end_line to read part of a long file; one answer holds at most ${caps.readMaxLines} lines.`,
      schema,
    },
    async (input, _context, root) => {
      if (input.start_line && input.end_line && input.end_line < input.start_line)
        return fail(`end_line (${input.end_line}) is before start_line (${input.start_line})`);
      const resolved = await resolveWorkspacePath(root, input.path);
      if (resolved.stat?.isDirectory())
        return fail(`${resolved.rel} is a folder; use list_files to see what it holds`);
      const bytes = await readWorkspaceFile(root, resolved, caps.readMaxFileBytes);
      const text = decodeText(bytes);
      if (text === null)
        return fail(
          `${resolved.rel} is a binary file (${bytes.byteLength} bytes); it cannot be shown as text`,
          {
            path: resolved.rel,
            binary: true,
          },
        );
      const lines = splitLines(text);
      const total = lines.length;
      if (total === 0)
        return { output: `${resolved.rel} is empty (0 lines)`, meta: { path: resolved.rel, lines: 0 } };
      const start = input.start_line ?? 1;
      if (start > total)
        return fail(`start_line ${start} is past the end of ${resolved.rel} (${total} lines)`);
      let end = Math.min(
        input.end_line ?? start + caps.readMaxLines - 1,
        total,
        start + caps.readMaxLines - 1,
      );
      // Fit the byte cap: drop lines from the end.
      let body = numbered(lines.slice(start - 1, end), start, caps.maxLineChars);
      let size = body.reduce((n, l) => n + Buffer.byteLength(l) + 1, 0);
      while (size > caps.readMaxOutputBytes && body.length > 1) {
        const dropped = body.pop()!;
        size -= Buffer.byteLength(dropped) + 1;
        end -= 1;
      }
      if (size > caps.readMaxOutputBytes) body = [utf8Head(body[0]!, caps.readMaxOutputBytes)];
      const crlf = text.includes("\r\n") ? ", CRLF line endings" : "";
      const header = `${resolved.rel} (lines ${start}-${end} of ${total}${crlf})`;
      const more = end < total ? `\n[${total - end} more lines: read_file with start_line=${end + 1}]` : "";
      return {
        output: `${header}\n${body.join("\n")}${more}`,
        meta: { path: resolved.rel, startLine: start, endLine: end, totalLines: total },
      };
    },
  );
}

// ─── write_file / edit_file ──────────────────────────────────────────────────

function checkWritable(text: string, caps: AgentToolCaps, what: string): string | null {
  const size = Buffer.byteLength(text, "utf8");
  if (size > caps.writeMaxBytes)
    return `${what} would be ${size} bytes; files are limited to ${caps.writeMaxBytes} bytes`;
  if (text.includes("\u0000")) return `${what} contains a NUL character; only text files can be written`;
  return null;
}

function writeTool(runtime: Runtime): AgentTool {
  const { caps } = runtime;
  const schema = z
    .object({
      path: ZPath.describe(
        "File to create or replace, relative to the workspace root. Missing folders are created.",
      ),
      content: z
        .string({ error: "content must be a string" })
        .describe("The complete new content of the file."),
    })
    .strict();
  return defineTool(
    runtime,
    {
      name: "write_file",
      description:
        "Create a file, or replace a file's whole content. To change part of an existing file prefer edit_file.",
      schema,
    },
    async (input, _context, root) => {
      const problem = checkWritable(input.content, caps, "The content");
      if (problem) return fail(problem);
      const resolved = await resolveWorkspacePath(root, input.path);
      if (resolved.stat?.isDirectory()) return fail(`${resolved.rel} is a folder, not a file`);
      const { created, bytes } = await writeWorkspaceFile(root, resolved, input.content);
      return {
        output: `${created ? "Created" : "Wrote"} ${resolved.rel} (${countLines(input.content)} lines, ${bytes} bytes)`,
        meta: { path: resolved.rel, created, bytes },
      };
    },
  );
}

/** Character offsets of every occurrence of `needle` (non-overlapping). */
function occurrences(haystack: string, needle: string): number[] {
  const found: number[] = [];
  for (let at = haystack.indexOf(needle); at !== -1; at = haystack.indexOf(needle, at + needle.length))
    found.push(at);
  return found;
}

const squash = (s: string) => s.replace(/\s+/g, " ").trim();

/** Why old_text was not found, and what to try. */
function notFoundHint(text: string, oldText: string): string {
  const lines = splitLines(text);
  const wanted = splitLines(oldText).map(squash).filter(Boolean);
  if (wanted.length > 0) {
    for (let i = 0; i < lines.length; i += 1) {
      if (squash(lines[i]!) !== wanted[0]) continue;
      let j = 0;
      let k = i;
      while (j < wanted.length && k < lines.length) {
        const line = squash(lines[k]!);
        if (line === "") {
          k += 1;
          continue;
        }
        if (line !== wanted[j]) break;
        j += 1;
        k += 1;
      }
      if (j === wanted.length)
        return `Text matching it apart from whitespace or indentation starts at line ${i + 1}: read_file that region and copy it exactly.`;
    }
  }
  return "read_file the file and copy old_text exactly, including whitespace and indentation.";
}

function editTool(runtime: Runtime): AgentTool {
  const { caps } = runtime;
  const schema = z
    .object({
      path: ZPath.describe("File to edit, relative to the workspace root."),
      old_text: z
        .string({ error: "old_text must be a string" })
        .min(1, "old_text must not be empty (use write_file to create a file)")
        .describe(
          "The exact text to replace, including whitespace and indentation. It must occur exactly once unless replace_all is true: include enough surrounding lines to make it unique.",
        ),
      new_text: z.string({ error: "new_text must be a string" }).describe("The text to put in its place."),
      replace_all: z
        .boolean()
        .optional()
        .describe("Replace every occurrence instead of requiring exactly one. Default false."),
    })
    .strict();
  return defineTool(
    runtime,
    {
      name: "edit_file",
      description:
        "Replace an exact piece of text in a file (search and replace). Fails, changing nothing, when old_text is not found or occurs more than once (unless replace_all).",
      schema,
    },
    async (input, _context, root) => {
      if (input.old_text === input.new_text)
        return fail("old_text and new_text are the same: nothing to change");
      const resolved = await resolveWorkspacePath(root, input.path);
      if (resolved.stat?.isDirectory()) return fail(`${resolved.rel} is a folder, not a file`);
      const bytes = await readWorkspaceFile(root, resolved, caps.readMaxFileBytes);
      const text = decodeText(bytes);
      if (text === null) return fail(`${resolved.rel} is a binary file; edit_file changes text files only`);
      let oldText = input.old_text;
      let newText = input.new_text;
      let found = occurrences(text, oldText);
      // A CRLF file and a model that writes "\n": match its line endings.
      if (found.length === 0 && text.includes("\r\n") && oldText.includes("\n") && !oldText.includes("\r")) {
        const crlfOld = oldText.replace(/\n/g, "\r\n");
        const crlfFound = occurrences(text, crlfOld);
        if (crlfFound.length > 0) {
          oldText = crlfOld;
          newText = newText.replace(/\r?\n/g, "\r\n");
          found = crlfFound;
        }
      }
      if (found.length === 0)
        return fail(
          `old_text was not found in ${resolved.rel} (0 occurrences). ${notFoundHint(text, input.old_text)}`,
          {
            path: resolved.rel,
            occurrences: 0,
          },
        );
      const lineNumbers = lineNumbersAt(text, found);
      if (found.length > 1 && !input.replace_all) {
        const shown = lineNumbers.slice(0, 10).join(", ") + (found.length > 10 ? ", …" : "");
        return fail(
          `old_text occurs ${found.length} times in ${resolved.rel} (at lines ${shown}); nothing was changed. Include more surrounding lines to make it unique, or set replace_all to true to change every occurrence.`,
          { path: resolved.rel, occurrences: found.length },
        );
      }
      const updated = input.replace_all
        ? text.split(oldText).join(newText)
        : text.replace(oldText, () => newText);
      const problem = checkWritable(updated, caps, `${resolved.rel} after the edit`);
      if (problem) return fail(problem);
      await writeWorkspaceFile(root, resolved, updated);
      // Show the edited region so the model can check it without another read.
      const firstLine = lineNumbers[0]!;
      const newLines = splitLines(updated);
      const from = Math.max(1, firstLine - 2);
      const to = Math.min(newLines.length, firstLine + countLines(newText) + 2);
      const excerpt =
        to >= from ? numbered(newLines.slice(from - 1, to), from, caps.maxLineChars).join("\n") : "";
      const summary = `Edited ${resolved.rel}: replaced ${found.length} occurrence${found.length === 1 ? "" : "s"} (line${found.length === 1 ? "" : "s"} ${lineNumbers.slice(0, 10).join(", ")}${found.length > 10 ? ", …" : ""})`;
      return {
        output: excerpt ? `${summary}\n${utf8Head(excerpt, 8 * KiB)}` : summary,
        meta: { path: resolved.rel, occurrences: found.length, lines: lineNumbers },
      };
    },
  );
}

// ─── search ──────────────────────────────────────────────────────────────────

/** A glob (`*.ts`, `src/**\/*.test.ts`, `*.{js,ts}`) as a RegExp over relative paths. */
export function globToRegExp(glob: string): RegExp {
  let out = "";
  let depth = 0;
  for (let i = 0; i < glob.length; i += 1) {
    const c = glob[i]!;
    if (c === "*") {
      if (glob[i + 1] === "*") {
        i += 1;
        if (glob[i + 1] === "/") {
          i += 1;
          out += "(?:.*/)?";
        } else out += ".*";
      } else out += "[^/]*";
    } else if (c === "?") out += "[^/]";
    else if (c === "{") {
      depth += 1;
      out += "(?:";
    } else if (c === "}" && depth > 0) {
      depth -= 1;
      out += ")";
    } else if (c === "," && depth > 0) out += "|";
    else out += c.replace(/[.+^$()|[\]\\]/g, "\\$&");
  }
  if (depth > 0) throw new Error(`unbalanced { in glob ${glob}`);
  return new RegExp(`^${out}$`);
}

/**
 * Runs the regex in a worker thread: a pathological pattern ((a+)+$ on a long line) blocks only the worker,
 * which is terminated at the time limit. Files are opened with O_NOFOLLOW and must still be regular files.
 */
const SEARCH_WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const fs = require("node:fs");
const { files, source, flags, maxResults, maxLineChars, maxFileBytes } = workerData;
const re = new RegExp(source, flags);
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const matches = [];
let filesWithMatches = 0, binary = 0, searched = 0, truncated = false;
outer: for (const file of files) {
  let fd;
  try { fd = fs.openSync(file.abs, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK); }
  catch { continue; }
  let buffer;
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile() || st.size > maxFileBytes) continue;
    buffer = Buffer.alloc(st.size);
    let read = 0;
    while (read < st.size) { const n = fs.readSync(fd, buffer, read, st.size - read, read); if (n === 0) break; read += n; }
    buffer = buffer.subarray(0, read);
  } finally { fs.closeSync(fd); }
  if (buffer.subarray(0, 8192).includes(0)) { binary++; continue; }
  let text;
  try { text = decoder.decode(buffer); } catch { binary++; continue; }
  searched++;
  const lines = text.split("\\n");
  let hit = false;
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i];
    if (line.endsWith("\\r")) line = line.slice(0, -1);
    if (!re.test(line)) continue;
    if (matches.length >= maxResults) { truncated = true; break outer; }
    hit = true;
    matches.push({ path: file.rel, line: i + 1, text: line.length > maxLineChars ? line.slice(0, maxLineChars) + "…" : line });
  }
  if (hit) filesWithMatches++;
}
parentPort.postMessage({ matches, filesWithMatches, binary, searched, truncated });
`;

type SearchOutcome = {
  matches: Array<{ path: string; line: number; text: string }>;
  filesWithMatches: number;
  binary: number;
  searched: number;
  truncated: boolean;
};

function runSearchWorker(
  data: Record<string, unknown>,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<SearchOutcome | "timeout" | "cancelled"> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(SEARCH_WORKER, { eval: true, workerData: data });
    let settled = false;
    const finish = (value: SearchOutcome | "timeout" | "cancelled" | Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      void worker.terminate();
      if (value instanceof Error) reject(value);
      else resolve(value);
    };
    const timer = setTimeout(() => finish("timeout"), timeoutMs);
    const onAbort = () => finish("cancelled");
    signal.addEventListener("abort", onAbort, { once: true });
    worker.once("message", (message: SearchOutcome) => finish(message));
    worker.once("error", (error) => finish(error));
    worker.once("exit", (code) => finish(new Error(`the search worker stopped (exit code ${code})`)));
  });
}

function searchTool(runtime: Runtime): AgentTool {
  const { caps } = runtime;
  const schema = z
    .object({
      pattern: z
        .string({ error: "pattern must be a string" })
        .min(1, "pattern must not be empty")
        .max(1_000, "pattern is longer than 1000 characters")
        .describe("A JavaScript regular expression, matched against each line."),
      path: ZPath.optional().describe(
        'Folder (or file) to search, relative to the workspace root. Default ".".',
      ),
      glob: z
        .string()
        .max(500)
        .optional()
        .describe(
          'Only files whose path matches this glob, e.g. "*.ts" or "src/**/*.test.{ts,tsx}". A glob without "/" matches file names.',
        ),
      case_sensitive: z.boolean().optional().describe("Default true."),
      max_results: z
        .number()
        .int()
        .min(1)
        .max(caps.searchMaxResults)
        .optional()
        .describe(`Most matching lines to return (default ${caps.searchDefaultResults}).`),
    })
    .strict();
  return defineTool(
    runtime,
    {
      name: "search",
      description:
        "Search the workspace's text files for a regular expression; answers file:line: text for each matching line. Skips binary files, large files and folders like .git and node_modules.",
      schema,
    },
    async (input, context, root) => {
      const flags = input.case_sensitive === false ? "i" : "";
      try {
        new RegExp(input.pattern, flags);
      } catch (error) {
        return fail(`Invalid regular expression: ${(error as Error).message}`);
      }
      let glob: RegExp | undefined;
      if (input.glob) {
        try {
          glob = globToRegExp(input.glob);
        } catch (error) {
          return fail(`Invalid glob: ${(error as Error).message}`);
        }
      }
      const start = await resolveWorkspacePath(root, input.path ?? ".", { allowRoot: true });
      if (!start.stat) return fail(`Not found: ${start.rel}`);
      let candidates: WalkEntry[];
      if (start.stat.isDirectory()) {
        candidates = (await walkWorkspace(root, start)).entries.filter((e) => e.kind === "file");
      } else if (start.stat.isFile()) {
        candidates = [{ rel: start.rel, kind: "file", size: start.stat.size, mode: start.stat.mode }];
      } else return fail(`${start.rel} is not a file or folder`);
      const globbed = glob
        ? candidates.filter((e) =>
            glob.test(input.glob!.includes("/") ? e.rel : e.rel.slice(e.rel.lastIndexOf("/") + 1)),
          )
        : candidates;
      const tooLarge = globbed.filter((e) => e.size > caps.searchMaxFileBytes).length;
      const files = globbed
        .filter((e) => e.size <= caps.searchMaxFileBytes)
        .map((e) => ({ rel: e.rel, abs: `${root}/${e.rel}` }));
      const maxResults = input.max_results ?? caps.searchDefaultResults;
      const outcome = await runSearchWorker(
        {
          files,
          source: input.pattern,
          flags,
          maxResults,
          maxLineChars: Math.min(caps.maxLineChars, 500),
          maxFileBytes: caps.searchMaxFileBytes,
        },
        caps.searchTimeoutMs,
        context.signal,
      );
      if (outcome === "timeout")
        return fail(
          `The search took longer than ${caps.searchTimeoutMs / 1000} s and was stopped (a pattern with nested repetition like (a+)+ can take forever). Simplify the pattern or narrow path/glob.`,
        );
      if (outcome === "cancelled") return fail("The search was cancelled");
      const notes: string[] = [];
      if (outcome.binary > 0) notes.push(`${outcome.binary} binary files skipped`);
      if (tooLarge > 0) notes.push(`${tooLarge} files over ${caps.searchMaxFileBytes} bytes skipped`);
      const noteText = notes.length > 0 ? ` (${notes.join("; ")})` : "";
      const meta = {
        matches: outcome.matches.length,
        files: outcome.filesWithMatches,
        searched: outcome.searched,
        truncated: outcome.truncated,
      };
      if (outcome.matches.length === 0)
        return {
          output: `No matches for /${input.pattern}/${flags} in ${outcome.searched} files${noteText}`,
          meta,
        };
      const header = `${outcome.matches.length} matching lines in ${outcome.filesWithMatches} files${noteText}:`;
      const lines = outcome.matches.map((m) => `${m.path}:${m.line}: ${m.text}`);
      const footer = outcome.truncated
        ? `\n… stopped at ${maxResults} matches: narrow the pattern, path or glob, or raise max_results (at most ${caps.searchMaxResults})`
        : "";
      return { output: utf8Head([header, ...lines].join("\n"), 128 * KiB) + footer, meta };
    },
  );
}

// ─── run_command ─────────────────────────────────────────────────────────────

/** The head and the tail of a long output (a test run's verdict is at its end). */
export function capOutput(text: string, maxBytes: number): { text: string; omittedBytes: number } {
  const size = Buffer.byteLength(text, "utf8");
  if (size <= maxBytes) return { text, omittedBytes: 0 };
  const headBytes = Math.floor(maxBytes / 4);
  const head = utf8Head(text, headBytes);
  const tail = utf8Tail(text, maxBytes - headBytes);
  const omittedBytes = size - Buffer.byteLength(head) - Buffer.byteLength(tail);
  return { text: `${head}\n… [${omittedBytes} bytes of output omitted] …\n${tail}`, omittedBytes };
}

function describeRun(result: SandboxResult, timeoutMs: number): string {
  const parts = [`exit code ${result.exitCode ?? "none"}`];
  if (result.signal) parts.push(`killed by ${result.signal}`);
  if (result.timedOut) parts.push(`timed out after ${Math.round(timeoutMs / 100) / 10} s`);
  if (result.cancelled) parts.push("cancelled");
  if (result.limitsHit.length > 0) parts.push(`limit reached: ${result.limitsHit.join(", ")}`);
  if (result.outputTruncated) parts.push(`output over the sandbox cap: ${result.droppedBytes} bytes dropped`);
  return parts.join("; ");
}

function commandTool(runtime: Runtime): AgentTool {
  const { caps, options } = runtime;
  const maxTimeoutMs = options.sandbox.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  const maxSeconds = Math.max(1, Math.floor(maxTimeoutMs / 1000));
  const schema = z
    .object({
      command: z
        .string({ error: "command must be a string" })
        .min(1, "command must not be empty")
        .max(20_000, "command is longer than 20000 characters")
        .describe("A shell command (run by /bin/sh -c), e.g. `npm test` or `node --test`."),
      cwd: ZPath.optional().describe('Folder to run in, relative to the workspace root. Default ".".'),
      timeout_seconds: z
        .number()
        .int()
        .min(1)
        .max(maxSeconds, `timeout_seconds can be at most ${maxSeconds}`)
        .optional()
        .describe(
          `Wall-clock limit; the command and everything it started are killed then. Default and most ${maxSeconds}.`,
        ),
    })
    .strict();
  return defineTool(
    runtime,
    {
      name: "run_command",
      description: `Run a shell command in a sandbox whose current directory is the workspace (mounted at /workspace): no network, only the workspace is writable (besides a private /tmp), limited memory, processes and time (${maxSeconds} s at most). Answers the exit code and the output (long output keeps its beginning and end).`,
      schema,
    },
    async (input, context, root) => {
      let cwd: string | undefined;
      if (input.cwd !== undefined) {
        const resolved = await resolveWorkspacePath(root, input.cwd, { allowRoot: true });
        if (!resolved.stat) return fail(`cwd ${resolved.rel} does not exist`);
        if (!resolved.stat.isDirectory()) return fail(`cwd ${resolved.rel} is not a folder`);
        cwd = resolved.rel || undefined;
      }
      const timeoutMs = input.timeout_seconds ? input.timeout_seconds * 1000 : maxTimeoutMs;
      let result: SandboxResult;
      try {
        result = await runInSandbox(
          {
            command: input.command,
            workspace: root,
            ...(cwd ? { cwd } : {}),
            timeoutMs,
            ...(options.sandbox.limits ? { limits: options.sandbox.limits } : {}),
            maxOutputBytes: options.sandbox.maxOutputBytes ?? MiB,
            signal: context.signal,
            ...(context.onOutput ? { onOutput: context.onOutput } : {}),
          },
          options.sandbox.config,
        );
      } catch (error) {
        if (isSandboxError(error)) {
          const prefix =
            error.code === "SANDBOX_UNAVAILABLE"
              ? "Commands cannot run on this server (no sandbox is available)"
              : "The command was refused";
          return fail(`${prefix}: ${error.message.split(root).join("/workspace")}`, { code: error.code });
        }
        throw error;
      } finally {
        // Whatever ran may have left setuid/setgid files: never on the host.
        await dropSpecialBits(root).catch(() => 0);
      }
      const status = describeRun(result, timeoutMs);
      const { text, omittedBytes } = capOutput(result.output, caps.commandOutputBytes);
      const output = result.output === "" ? `${status}\n(no output)` : `${status}\n${text}`;
      return {
        output,
        isError: result.exitCode !== 0,
        meta: {
          exitCode: result.exitCode,
          signal: result.signal,
          timedOut: result.timedOut,
          cancelled: result.cancelled,
          limitsHit: result.limitsHit,
          durationMs: result.durationMs,
          outputBytes: Buffer.byteLength(result.output),
          omittedBytes,
          mode: result.mode,
        },
      };
    },
  );
}

// ─── finish ──────────────────────────────────────────────────────────────────

function finishTool(runtime: Runtime): AgentTool {
  const schema = z
    .object({
      summary: z
        .string({ error: "summary must be a string" })
        .trim()
        .min(1, "summary must not be empty: say what you changed and how you checked it")
        .max(20_000, "summary is longer than 20000 characters")
        .describe("What you changed and how you verified it, for the person reviewing the diff."),
    })
    .strict();
  return defineTool(
    runtime,
    {
      name: "finish",
      description:
        "Call when the task is done (or cannot be done): ends the run. Your changes are then shown to the user as a diff to review.",
      schema,
    },
    async (input) => ({ output: "Finished.", meta: { summary: input.summary } }),
  );
}

// ─── Assembly ────────────────────────────────────────────────────────────────

/**
 * The built-in tools over `workspaceDir`, in AGENT_TOOL_NAMES order. Nothing is touched until a tool runs.
 */
export function createAgentTools(options: CreateAgentToolsOptions): AgentTool[] {
  let root: Promise<string> | undefined;
  const runtime: Runtime = {
    caps: { ...DEFAULT_AGENT_TOOL_CAPS, ...options.caps },
    options,
    root: () => {
      root ??= realWorkspaceRoot(options.workspaceDir);
      root.catch(() => {
        root = undefined;
      });
      return root;
    },
  };
  return [
    listTool(runtime),
    readTool(runtime),
    writeTool(runtime),
    editTool(runtime),
    searchTool(runtime),
    commandTool(runtime),
    finishTool(runtime),
  ];
}
