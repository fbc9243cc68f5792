/**
 * Where the CLI keeps its login: `$XDG_CONFIG_HOME/agentry/config.json`, else `~/.config/agentry/config.json`
 * (directory 0700, file 0600: it holds an API key). Which server and key a command uses:
 *
 *   URL: --url, else AGENTRY_URL, else the stored url, else http://localhost:3000
 *   key: AGENTRY_API_KEY, else the stored key — but only when the URL is the one it was stored for, so a
 *        `--url` pointing elsewhere never receives the stored key.
 */
import { chmod, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { z } from "zod";
import type { Io } from "./env.ts";
import { CliError, EXIT, UsageError } from "./errors.ts";

export const DEFAULT_URL = "http://localhost:3000";

/** `agt_` + 33 base62 characters + a 6-character checksum (see README "API keys"). */
export const API_KEY_PATTERN = /^agt_[0-9A-Za-z]{39}$/;

const ZConfig = z.object({ url: z.string().min(1), key: z.string().min(1) });
export type StoredConfig = z.infer<typeof ZConfig>;

export function configDir(env: Io["env"]): string {
  const xdg = env.XDG_CONFIG_HOME;
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(env.HOME || os.homedir(), ".config");
  return path.join(base, "agentry");
}

export function configPath(env: Io["env"]): string {
  return path.join(configDir(env), "config.json");
}

/** The stored login, or null when there is none. A broken file is an error that names it. */
export async function readConfig(env: Io["env"]): Promise<StoredConfig | null> {
  const file = configPath(env);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
  try {
    return ZConfig.parse(JSON.parse(text));
  } catch {
    throw new CliError(
      `${file} is not a valid Agentry config; run \`agentry logout\` then \`agentry login\`.`,
    );
  }
}

export async function writeConfig(env: Io["env"], config: StoredConfig): Promise<string> {
  const dir = configDir(env);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const file = configPath(env);
  const tmp = `${file}.${process.pid}.tmp`;
  // Written 0600 from the start (never readable by others, even briefly), then renamed into place.
  await writeFile(tmp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, file);
  return file;
}

/** Removes the stored login; false when there was none. */
export async function deleteConfig(env: Io["env"]): Promise<boolean> {
  const file = configPath(env);
  try {
    await rm(file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw error;
  }
}

/** `http://host:3000/` → `http://host:3000` (no trailing slash, no path beyond a base path). */
export function normalizeUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`Not a URL: ${raw} (expected e.g. http://localhost:3000)`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new UsageError(`The server URL must be http:// or https://, got ${raw}`);
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
}

export type Target = { url: string; key: string | null; keySource: "env" | "config" | null };

export async function resolveTarget(io: Io, flagUrl: string | undefined): Promise<Target> {
  const stored = await readConfig(io.env);
  const rawUrl = flagUrl ?? io.env.AGENTRY_URL ?? stored?.url ?? DEFAULT_URL;
  const url = normalizeUrl(rawUrl);
  const envKey = io.env.AGENTRY_API_KEY?.trim();
  if (envKey) return { url, key: envKey, keySource: "env" };
  if (stored && normalizeUrl(stored.url) === url) return { url, key: stored.key, keySource: "config" };
  return { url, key: null, keySource: null };
}

export function requireKey(target: Target): string {
  if (target.key) return target.key;
  throw new CliError(
    `Not logged in to ${target.url}. Run \`agentry login\` (or set AGENTRY_API_KEY).`,
    EXIT.auth,
    "UNAUTHORIZED",
  );
}
