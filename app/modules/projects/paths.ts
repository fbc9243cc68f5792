/**
 * Project file paths, shared by the server and the browser (no Node imports here).
 *
 * A project path is a relative POSIX path: segments joined by `/`, no leading slash, no `.` or `..`
 * segment, no empty segment, no control character, NFC-normalised unicode, at most
 * {@link MAX_PATH_LENGTH} characters. Every path that reaches the database, a zip entry or a workspace on
 * disk goes through {@link normalizeProjectPath} first, so none can escape the project.
 */
import { AppError } from "#app/lib/app-error.ts";

/** Longest accepted path, in characters (after normalisation). */
export const MAX_PATH_LENGTH = 512;

// C0 controls, DEL and C1 controls: never part of a real file name, and NUL cannot be stored by PostgreSQL.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const DRIVE = /^[A-Za-z]:/;

function unsafe(input: string, why: string): AppError {
  // Quote a bounded, printable rendering of what was refused: the input may be long or hold controls.
  const shown = JSON.stringify(input.length > 80 ? `${input.slice(0, 80)}…` : input);
  return new AppError("BAD_REQUEST", `Unsafe path: ${shown} ${why}`);
}

/**
 * The canonical form of a path inside a project, or AppError BAD_REQUEST "Unsafe path: …".
 *
 * Backslashes are taken as separators (Windows zips and uploads) and the result is checked like any other
 * path; `.` segments are dropped (`./src/a.ts` → `src/a.ts`). Refused: empty paths, absolute paths,
 * drive letters (`C:`), `..` segments, empty segments (`a//b`, a trailing `/`), control characters
 * (including NUL) and paths longer than {@link MAX_PATH_LENGTH} characters.
 */
export function normalizeProjectPath(input: string): string {
  if (typeof input !== "string") throw new AppError("BAD_REQUEST", "Path must be a string");
  const nfc = input.normalize("NFC");
  if (CONTROL.test(nfc)) throw unsafe(input, "contains a control character");
  const slashed = nfc.replaceAll("\\", "/");
  if (slashed.trim() === "") throw unsafe(input, "is empty");
  if (slashed.startsWith("/")) throw unsafe(input, "is absolute");
  if (DRIVE.test(slashed)) throw unsafe(input, "names a drive");
  const segments: string[] = [];
  for (const segment of slashed.split("/")) {
    if (segment === "") throw unsafe(input, "has an empty segment");
    if (segment === "..") throw unsafe(input, "leaves its folder (`..`)");
    if (segment === ".") continue;
    segments.push(segment);
  }
  if (segments.length === 0) throw unsafe(input, "is empty");
  const path = segments.join("/");
  if (path.length > MAX_PATH_LENGTH) throw unsafe(input, `is longer than ${MAX_PATH_LENGTH} characters`);
  return path;
}

/** The path if it is safe, else null: for code that wants to skip rather than fail. */
export function tryNormalizeProjectPath(input: string): string | null {
  try {
    return normalizeProjectPath(input);
  } catch {
    return null;
  }
}

/** `src/lib/a.ts` → `a.ts`. */
export function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** `src/lib/a.ts` → `src/lib`; a top-level file → `""`. */
export function folderOf(path: string): string {
  const at = path.lastIndexOf("/");
  return at < 0 ? "" : path.slice(0, at);
}

/** The folders above a path, outermost first: `a/b/c.ts` → `["a", "a/b"]`. */
export function ancestorFolders(path: string): string[] {
  const parts = path.split("/");
  const out: string[] = [];
  for (let i = 1; i < parts.length; i += 1) out.push(parts.slice(0, i).join("/"));
  return out;
}

/** True when `path` lies inside `folder` (at any depth). */
export function isInFolder(path: string, folder: string): boolean {
  return path.startsWith(`${folder}/`);
}

const BY_EXTENSION: Record<string, string> = {
  ts: "typescript",
  tsx: "typescript",
  mts: "typescript",
  cts: "typescript",
  js: "javascript",
  jsx: "javascript",
  mjs: "javascript",
  cjs: "javascript",
  json: "json",
  jsonc: "json",
  json5: "json",
  md: "markdown",
  markdown: "markdown",
  mdx: "mdx",
  py: "python",
  pyi: "python",
  go: "go",
  rs: "rust",
  java: "java",
  kt: "kotlin",
  kts: "kotlin",
  scala: "scala",
  c: "c",
  h: "c",
  cc: "cpp",
  cpp: "cpp",
  cxx: "cpp",
  hpp: "cpp",
  hh: "cpp",
  hxx: "cpp",
  cs: "csharp",
  fs: "fsharp",
  css: "css",
  scss: "scss",
  less: "less",
  html: "html",
  htm: "html",
  xml: "xml",
  svg: "xml",
  yaml: "yaml",
  yml: "yaml",
  toml: "ini",
  ini: "ini",
  cfg: "ini",
  conf: "ini",
  properties: "ini",
  sh: "shell",
  bash: "shell",
  zsh: "shell",
  ps1: "powershell",
  bat: "bat",
  cmd: "bat",
  sql: "sql",
  rb: "ruby",
  php: "php",
  swift: "swift",
  lua: "lua",
  r: "r",
  dart: "dart",
  ex: "elixir",
  exs: "elixir",
  clj: "clojure",
  graphql: "graphql",
  gql: "graphql",
  proto: "proto",
  sol: "sol",
  tf: "hcl",
  hcl: "hcl",
  pl: "perl",
  vue: "html",
  svelte: "html",
  hbs: "handlebars",
  pug: "pug",
  rst: "restructuredtext",
  dockerfile: "dockerfile",
};

const BY_NAME: Record<string, string> = {
  dockerfile: "dockerfile",
  containerfile: "dockerfile",
  // Monaco has no Makefile grammar; recipes are shell and comments start with `#`.
  makefile: "shell",
  gnumakefile: "shell",
  ".bashrc": "shell",
  ".zshrc": "shell",
  ".profile": "shell",
  ".env": "ini",
  ".editorconfig": "ini",
  gemfile: "ruby",
  rakefile: "ruby",
};

/**
 * The Monaco language id for a file, from its name then its extension; "plaintext" when unknown.
 * Only ids Monaco 0.57 registers are returned (it has no TOML grammar: TOML is shown as "ini").
 */
export function languageForPath(path: string): string {
  const name = baseName(path).toLowerCase();
  const byName = BY_NAME[name];
  if (byName) return byName;
  if (name.startsWith("dockerfile.") || name.endsWith(".dockerfile")) return "dockerfile";
  if (name.startsWith(".env.")) return "ini";
  const dot = name.lastIndexOf(".");
  if (dot <= 0) return "plaintext";
  return BY_EXTENSION[name.slice(dot + 1)] ?? "plaintext";
}

/**
 * Folders skipped wherever they appear (like `node_modules/` in a .gitignore), and files by name.
 * Shared with the browser, which leaves them out of a picked folder before zipping it.
 */
export const DEFAULT_SKIP = {
  folders: [
    "node_modules",
    ".git",
    ".hg",
    ".svn",
    "dist",
    "build",
    ".next",
    ".nuxt",
    ".turbo",
    ".cache",
    ".venv",
    "venv",
    "__pycache__",
    ".pytest_cache",
    ".mypy_cache",
    ".tox",
    "target",
    "coverage",
    ".idea",
    ".gradle",
    "__MACOSX",
  ],
  files: [".DS_Store", "Thumbs.db", "desktop.ini"],
} as const;
