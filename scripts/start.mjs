#!/usr/bin/env node
// `npm start`: build when there is no build or the sources are newer than it,
// then run the bundled server in this process (signals reach it directly).
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const stamp = path.join(root, "build/.stamp");
const entry = path.join(root, "build/agentry/server.js");

function newestMtime(target) {
  if (!existsSync(target)) return 0;
  const stats = statSync(target);
  if (!stats.isDirectory()) return stats.mtimeMs;
  let newest = 0;
  for (const name of readdirSync(target)) {
    if (name === "generated" || name.startsWith(".")) continue;
    newest = Math.max(newest, newestMtime(path.join(target, name)));
  }
  return newest;
}

const sources = ["app", "worker", "public", "server.ts", "vite.config.ts", "package-lock.json"].map((p) =>
  path.join(root, p),
);
const stale =
  !existsSync(stamp) || !existsSync(entry) || Math.max(...sources.map(newestMtime)) > statSync(stamp).mtimeMs;

if (stale) {
  console.info(
    existsSync(stamp) ? "Sources changed since the last build: rebuilding…" : "No build yet: building…",
  );
  const result = spawnSync(process.execPath, [path.join(root, "scripts/build.mjs")], {
    cwd: root,
    stdio: "inherit",
  });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

process.chdir(root);
await import(pathToFileURL(entry).href);
