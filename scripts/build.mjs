#!/usr/bin/env node
// Production build: the Remix app (client + SSR bundle) with Vite, then the
// process entry (server, worker, migrations) and the migration command with esbuild. Writes build/.stamp
// so `npm start` knows the build matches the sources.
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const started = performance.now();

const vite = spawnSync(
  process.execPath,
  [path.join(root, "node_modules/@remix-run/dev/dist/cli.js"), "vite:build"],
  {
    cwd: root,
    stdio: "inherit",
    env: { ...process.env, NODE_ENV: "production" },
  },
);
if (vite.status !== 0) process.exit(vite.status ?? 1);

// Node bundles: dependencies stay in node_modules; only our own code (and the generated Prisma client) is bundled.
const nodeBundle = (options) =>
  build({
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    sourcemap: true,
    logLevel: "warning",
    ...options,
  });

await nodeBundle({
  entryPoints: { server: path.join(root, "server.ts") },
  outdir: path.join(root, "build/agentry"),
});

// The release step of a deployment (fly.toml release_command, a systemd ExecStartPre): `node build/migrate.js`
// applies pending migrations where only the built output and production dependencies exist (no tsx).
// It sits in build/ rather than build/agentry/ because scripts/db-migrate.ts finds prisma/migrations one
// directory above its own file.
await nodeBundle({
  entryPoints: [path.join(root, "scripts/db-migrate.ts")],
  outfile: path.join(root, "build/migrate.js"),
});

writeFileSync(path.join(root, "build/.stamp"), `${new Date().toISOString()}\n`);
console.info(`build finished in ${((performance.now() - started) / 1000).toFixed(1)} s`);
