/**
 * Prisma's schema engine, compiled to WebAssembly, driven through `@prisma/adapter-pg`.
 *
 * Why: the Prisma 7 CLI wants a native schema-engine binary from binaries.prisma.sh for every
 * `migrate` command, which this machine (and any offline one) cannot download. The same engine
 * ships as WebAssembly in `@prisma/schema-engine-wasm` (a dependency of `@prisma/internals`);
 * `@prisma/internals` has a loader for it but looks for the .wasm file where only the bundled
 * CLI keeps it, so we instantiate it ourselves. It produces exactly the SQL `prisma migrate`
 * would write, offline.
 *
 * Dev and test tooling only (dev dependencies): never import it from app code.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { PrismaPg } from "@prisma/adapter-pg";
import {
  bindMigrationAwareSqlAdapterFactory,
  ColumnTypeEnum,
  type SqlDriverAdapter,
  type SqlMigrationAwareDriverAdapterFactory,
  type SqlQuery,
  type SqlQueryable,
  type SqlResultSet,
} from "@prisma/driver-adapter-utils";
import type { DiffTarget, MigrationList, SchemaEngine } from "@prisma/schema-engine-wasm";
import pg from "pg";

export type { DiffTarget, MigrationList, SchemaEngine };

const require = createRequire(import.meta.url);

type WasmRuntime = typeof import("@prisma/schema-engine-wasm/schema_engine_bg") & {
  __wbg_set_wasm(exports: WebAssembly.Exports): void;
};

let runtimePromise: Promise<WasmRuntime> | undefined;

async function loadRuntime(): Promise<WasmRuntime> {
  // Resolve through @prisma/internals so we get the engine version that matches the CLI.
  const internalsDir = require.resolve("@prisma/internals/package.json");
  const requireFromInternals = createRequire(internalsDir);
  const bgJs = requireFromInternals.resolve("@prisma/schema-engine-wasm/schema_engine_bg");
  const runtime = (await import(pathToFileURL(bgJs).href)) as WasmRuntime;
  const bytes = await readFile(bgJs.replace(/\.js$/, ".wasm"));
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {
    "./schema_engine_bg.js": runtime as unknown as WebAssembly.ModuleImports,
  });
  runtime.__wbg_set_wasm(instance.exports);
  (instance.exports.__wbindgen_start as () => void)();
  return runtime;
}

/** Prefix of the throw-away databases the engine creates to replay migrations ("shadow databases"). */
export const SHADOW_DATABASE_PREFIX = "agentry_t_shadow_";

/**
 * A driver-adapter factory whose shadow databases carry our prefix (Prisma's own adapter names
 * them `prisma_migrate_shadow_db_*`), so test clean-up and permissions stay within `agentry_t_`.
 */
function adapterFactory(
  connectionString: string,
  opened: Set<SqlDriverAdapter>,
): SqlMigrationAwareDriverAdapterFactory {
  const main = pgAdapter(connectionString);
  return {
    provider: main.provider,
    adapterName: main.adapterName,
    async connect() {
      const adapter = await main.connect();
      opened.add(adapter);
      return adapter;
    },
    async connectToShadowDb(): Promise<SqlDriverAdapter> {
      const name = `${SHADOW_DATABASE_PREFIX}${crypto.randomUUID().replaceAll("-", "")}`;
      await withClient(connectionString, (c) => c.query(`CREATE DATABASE "${name}"`));
      const url = new URL(connectionString);
      url.pathname = `/${name}`;
      const adapter = await pgAdapter(url.toString()).connect();
      const dispose = adapter.dispose.bind(adapter);
      let disposed: Promise<void> | undefined;
      adapter.dispose = () =>
        (disposed ??= (async () => {
          opened.delete(adapter);
          await dispose();
          await withClient(connectionString, (c) =>
            c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`),
          );
        })());
      opened.add(adapter);
      return adapter;
    },
  };
}

/**
 * The engine's introspection queries read catalog columns of PostgreSQL's internal `"char"`
 * type (OID 18: pg_class.relkind, pg_constraint.contype, ...) and decode them as characters.
 * `@prisma/adapter-pg` 7.10 has no mapping for that OID and fails the whole query ("Column type
 * 'char' could not be deserialized"), so every diff that looks at a real database would fail.
 * We report such columns to the adapter as text (so it accepts the row) and remember their
 * positions per SQL text, then relabel them `Character` in the adapter's result.
 */
const PG_CHAR_OID = 18;
const PG_TEXT_OID = 25;
const charColumnsBySql = new Map<string, number[]>();

function patchFields(sql: string | undefined, res: pg.QueryResult | undefined) {
  const positions: number[] = [];
  for (const [i, field] of (res?.fields ?? []).entries()) {
    if (field.dataTypeID === PG_CHAR_OID) {
      field.dataTypeID = PG_TEXT_OID;
      positions.push(i);
    }
  }
  if (sql !== undefined && positions.length > 0) charColumnsBySql.set(sql, positions);
}

class CharAsTextClient extends pg.Client {
  // biome-ignore lint/suspicious/noExplicitAny: pg's query() has a dozen overloads; we only wrap its result.
  override query(...args: any[]): any {
    const first = args[0] as string | { text?: string } | undefined;
    const sql = typeof first === "string" ? first : first?.text;
    const last = args.length - 1;
    if (typeof args[last] === "function") {
      const callback = args[last] as (err: Error | null, res?: pg.QueryResult) => void;
      args[last] = (err: Error | null, res?: pg.QueryResult) => {
        if (!err) patchFields(sql, res);
        callback(err, res);
      };
    }
    // biome-ignore lint/suspicious/noExplicitAny: see above
    const result = (super.query as (...a: any[]) => any)(...args);
    if (result && typeof result.then === "function") {
      return result.then((res: pg.QueryResult) => {
        patchFields(sql, res);
        return res;
      });
    }
    return result;
  }
}

/** Relabel the `"char"` columns of a result as characters (see CharAsTextClient). */
function withCharColumns<T extends SqlQueryable>(queryable: T): T {
  const queryRaw = queryable.queryRaw.bind(queryable);
  queryable.queryRaw = async (query: SqlQuery): Promise<SqlResultSet> => {
    const result = await queryRaw(query);
    for (const i of charColumnsBySql.get(query.sql) ?? []) result.columnTypes[i] = ColumnTypeEnum.Character;
    return result;
  };
  return queryable;
}

/**
 * `@prisma/adapter-pg` 7.10's executeScript() splits a script on every ";" and runs the pieces
 * one by one, which breaks any migration with a semicolon inside a string, a comment or a
 * dollar-quoted function body (`CREATE FUNCTION ... $$ ...; $$`). PostgreSQL runs a
 * multi-statement script itself when it is sent without parameters (simple query protocol),
 * which is also what `psql` and our migration runner do.
 */
function pgAdapter(connectionString: string) {
  return {
    provider: "postgres" as const,
    adapterName: new PrismaPg(connectionString).adapterName,
    /** Each adapter gets its own small pool, closed by its dispose(). */
    async connect(): Promise<SqlDriverAdapter> {
      const pool = new pg.Pool({ connectionString, Client: CharAsTextClient, max: 2 });
      const adapter = withCharColumns(await new PrismaPg(pool, { disposeExternalPool: true }).connect());
      const startTransaction = adapter.startTransaction.bind(adapter);
      adapter.startTransaction = async (isolationLevel) =>
        withCharColumns(await startTransaction(isolationLevel));
      adapter.executeScript = async (script: string) => {
        try {
          await pool.query(script);
        } catch (error) {
          // The adapter's own mapping to Prisma's error kinds (its onError is protected, not private).
          (adapter as unknown as { onError(e: unknown): never }).onError(error);
        }
      };
      return adapter;
    },
  };
}

async function withClient<T>(connectionString: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export type SchemaEngineHandle = {
  engine: SchemaEngine;
  /** Free the engine; connections it opened through the adapter are closed. */
  close(): Promise<void>;
};

/**
 * Start the WebAssembly schema engine against `connectionString` (the database that
 * `{ tag: "schemaDatasource" }` diff targets mean; shadow databases are created next to it).
 */
export async function openSchemaEngine({
  connectionString,
  schema,
  debug,
}: {
  connectionString: string;
  /** schema.prisma contents. */
  schema: string;
  /** Receives the engine's JSON log lines; silent by default. */
  debug?: (line: string) => void;
}): Promise<SchemaEngineHandle> {
  runtimePromise ??= loadRuntime();
  const runtime = await runtimePromise;
  // The engine does not always dispose what it connected (the main adapter lives as long as it
  // does), so we keep track and close everything ourselves.
  const opened = new Set<SqlDriverAdapter>();
  const factory = bindMigrationAwareSqlAdapterFactory(adapterFactory(connectionString, opened));
  const engine = await runtime.SchemaEngine.new(
    { datamodels: [["schema.prisma", schema]] },
    debug ?? (() => {}),
    factory,
  );
  return {
    engine,
    async close() {
      engine.free();
      await Promise.all([...opened].map((adapter) => adapter.dispose()));
      opened.clear();
    },
  };
}

/** The filters argument every engine call takes: we manage no external tables or enums. */
export const NO_FILTERS = { externalTables: [], externalEnums: [] };

/**
 * SQL that turns `from` into `to`, exactly as `prisma migrate diff --script` prints it.
 * Returns "" when there is nothing to do.
 */
export async function diffScript(engine: SchemaEngine, from: DiffTarget, to: DiffTarget): Promise<string> {
  const result = await engine.diff({ from, to, script: true, exitCode: null, filters: NO_FILTERS });
  const script = result.stdout ?? "";
  return /^\s*(-- This is an empty migration\.)?\s*$/.test(script) ? "" : script;
}

/** A `{ tag: "schemaDatamodel" }` diff target for a schema string. */
export function datamodelTarget(schema: string): DiffTarget {
  return { tag: "schemaDatamodel", files: [{ path: "schema.prisma", content: schema }] };
}

/**
 * The migrations directory in the form the engine takes (`prisma/migrations/<name>/migration.sql`
 * plus `migration_lock.toml`). Directories are sorted by name, as Prisma does.
 */
export async function loadMigrationList(migrationsDir: string): Promise<MigrationList> {
  const { readdir } = await import("node:fs/promises");
  const path = await import("node:path");
  const entries = await readdir(migrationsDir, { withFileTypes: true }).catch(() => []);
  const names = entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  const migrationDirectories: MigrationList["migrationDirectories"] = [];
  for (const name of names) {
    const content = await readFile(path.join(migrationsDir, name, "migration.sql"), "utf8").then(
      (value) => ({ tag: "ok" as const, value }),
      (error: Error) => ({ tag: "error" as const, value: error.message }),
    );
    migrationDirectories.push({ path: name, migrationFile: { path: "migration.sql", content } });
  }
  const lockContent = await readFile(path.join(migrationsDir, "migration_lock.toml"), "utf8").catch(
    () => null,
  );
  return {
    baseDir: migrationsDir,
    lockfile: { path: "migration_lock.toml", content: lockContent },
    shadowDbInitScript: "",
    migrationDirectories,
  };
}
