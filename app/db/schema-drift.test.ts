/**
 * Does the database our migrations build match schema.prisma, which the Prisma client is
 * generated from? Since `prisma migrate` cannot run here, nothing else would notice a model
 * edited without a migration (or a migration that does not match its model) before production.
 *
 * Two independent checks:
 * 1. our comparator: schema.prisma parsed by Prisma (getDMMF) against the PostgreSQL catalog —
 *    tables, columns, types, nullability, primary keys, unique and plain indexes, foreign keys
 *    (with their ON DELETE / ON UPDATE), enums; proven to fail on a deliberately altered database
 *    and on a schema edited without a migration;
 * 2. Prisma's own schema engine (WebAssembly): the SQL it would need to go from the migrated
 *    database, and from the replayed migrations, to schema.prisma must be empty.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import internals from "@prisma/internals";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { datamodelTarget, diffScript, loadMigrationList, openSchemaEngine } from "#prisma/schema-engine.ts";
import { createTestDatabase, setupTestDatabase, type TestDatabase } from "#tests/setup/database.ts";
import { migrationsDir, repoRoot } from "#tests/setup/database-server.ts";

const { getDMMF } = internals;
type Dmmf = Awaited<ReturnType<typeof getDMMF>>;

const schemaPath = path.join(repoRoot, "prisma", "schema.prisma");

// ─── The comparator ──────────────────────────────────────────────────────────

type Column = { type: string; nullable: boolean };
type ForeignKey = {
  columns: string[];
  refTable: string;
  refColumns: string[];
  onDelete: string;
  onUpdate: string;
};
type Table = {
  columns: Map<string, Column>;
  primaryKey: { name: string; columns: string[] } | null;
  /** name → columns */
  uniques: Map<string, string[]>;
  indexes: Map<string, string[]>;
  foreignKeys: Map<string, ForeignKey>;
};
type DbShape = { tables: Map<string, Table>; enums: Map<string, string[]> };

const emptyTable = (): Table => ({
  columns: new Map(),
  primaryKey: null,
  uniques: new Map(),
  indexes: new Map(),
  foreignKeys: new Map(),
});

/** Tables that exist in the database on purpose without a model. */
const IGNORED_TABLES = new Set(["_prisma_migrations"]);

const PRISMA_SCALAR_TYPES: Record<string, string> = {
  String: "text",
  Int: "integer",
  BigInt: "bigint",
  Boolean: "boolean",
  DateTime: "timestamp(3) without time zone",
  Json: "jsonb",
  Bytes: "bytea",
  Float: "double precision",
  Decimal: "numeric(65,30)",
};

function nativeType([name, args]: readonly [string, readonly string[]]): string {
  const [a, b] = args;
  switch (name) {
    case "Uuid":
      return "uuid";
    case "Text":
      return "text";
    case "VarChar":
      return a ? `character varying(${a})` : "character varying";
    case "Char":
      return `character(${a ?? 1})`;
    case "Integer":
      return "integer";
    case "SmallInt":
      return "smallint";
    case "BigInt":
      return "bigint";
    case "Timestamp":
      return `timestamp(${a ?? 6}) without time zone`;
    case "Timestamptz":
      return `timestamp(${a ?? 6}) with time zone`;
    case "Date":
      return "date";
    case "JsonB":
      return "jsonb";
    case "Json":
      return "json";
    case "Inet":
      return "inet";
    case "Decimal":
      return a ? `numeric(${a},${b ?? 0})` : "numeric";
    default:
      throw new Error(
        `the drift comparator does not know @db.${name} yet: teach nativeType() its SQL spelling`,
      );
  }
}

const ACTIONS: Record<string, string> = {
  Cascade: "CASCADE",
  Restrict: "RESTRICT",
  NoAction: "NO ACTION",
  SetNull: "SET NULL",
  SetDefault: "SET DEFAULT",
};

/** Prisma's default constraint names; longer than PostgreSQL's 63 bytes would be truncated by Prisma. */
function prismaName(table: string, columns: string[], suffix: "key" | "idx" | "fkey"): string {
  const name = `${table}_${columns.join("_")}_${suffix}`;
  if (Buffer.byteLength(name) > 63)
    throw new Error(`${name}: give it an explicit map: name, the comparator does not truncate`);
  return name;
}

/** What schema.prisma says the database should be. */
function expectedShape(dmmf: Dmmf): DbShape {
  const tableOf = new Map(dmmf.datamodel.models.map((m) => [m.name, m.dbName ?? m.name]));
  const enumName = new Map(dmmf.datamodel.enums.map((e) => [e.name, e.dbName ?? e.name]));
  const shape: DbShape = { tables: new Map(), enums: new Map() };
  for (const e of dmmf.datamodel.enums) {
    shape.enums.set(
      e.dbName ?? e.name,
      e.values.map((v) => v.dbName ?? v.name),
    );
  }
  for (const model of dmmf.datamodel.models) {
    const table = emptyTable();
    const tableName = tableOf.get(model.name)!;
    const columnOf = new Map(model.fields.map((f) => [f.name, f.dbName ?? f.name]));
    const cols = (fields: readonly string[]) => fields.map((f) => columnOf.get(f) ?? f);
    for (const field of model.fields) {
      if (field.kind === "scalar" || field.kind === "enum") {
        let type: string;
        if (field.kind === "enum") type = enumName.get(field.type)!;
        else if (field.nativeType) type = nativeType(field.nativeType as [string, string[]]);
        else {
          const mapped = PRISMA_SCALAR_TYPES[field.type];
          if (!mapped) throw new Error(`the drift comparator does not know Prisma type ${field.type}`);
          type = mapped;
        }
        // Prisma never puts NOT NULL on scalar lists.
        table.columns.set(field.dbName ?? field.name, {
          type: field.isList ? `${type}[]` : type,
          nullable: field.isList || !field.isRequired,
        });
      } else if (field.kind === "object" && field.relationFromFields && field.relationFromFields.length > 0) {
        const from = cols(field.relationFromFields);
        const target = dmmf.datamodel.models.find((m) => m.name === field.type)!;
        const targetColumns = new Map(target.fields.map((f) => [f.name, f.dbName ?? f.name]));
        const required = field.relationFromFields.every(
          (name) => model.fields.find((f) => f.name === name)?.isRequired === true,
        );
        table.foreignKeys.set(prismaName(tableName, from, "fkey"), {
          columns: from,
          refTable: tableOf.get(field.type)!,
          refColumns: (field.relationToFields ?? []).map((f) => targetColumns.get(f) ?? f),
          onDelete: ACTIONS[field.relationOnDelete ?? (required ? "Restrict" : "SetNull")]!,
          onUpdate: ACTIONS[field.relationOnUpdate ?? "Cascade"]!,
        });
      }
    }
    for (const index of dmmf.datamodel.indexes.filter((i) => i.model === model.name)) {
      const columns = cols(index.fields.map((f) => f.name));
      if (index.type === "id") {
        table.primaryKey = { name: index.dbName ?? `${tableName}_pkey`, columns };
      } else if (index.type === "unique") {
        table.uniques.set(index.dbName ?? prismaName(tableName, columns, "key"), columns);
      } else if (index.type === "normal") {
        table.indexes.set(index.dbName ?? prismaName(tableName, columns, "idx"), columns);
      } else {
        throw new Error(`the drift comparator does not handle ${index.type} indexes`);
      }
    }
    shape.tables.set(tableName, table);
  }
  return shape;
}

const PG_ACTIONS: Record<string, string> = {
  a: "NO ACTION",
  r: "RESTRICT",
  c: "CASCADE",
  n: "SET NULL",
  d: "SET DEFAULT",
};

/** What the database is, read from the catalog of its current schema. */
async function actualShape(connectionString: string): Promise<DbShape> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    const shape: DbShape = { tables: new Map(), enums: new Map() };
    const table = (name: string) => {
      const existing = shape.tables.get(name);
      if (existing) return existing;
      const created = emptyTable();
      shape.tables.set(name, created);
      return created;
    };
    const unquote = (type: string) => type.replaceAll('"', "");

    const columns = await client.query<{ table: string; column: string; type: string; notnull: boolean }>(`
      SELECT c.relname AS table, a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type,
             a.attnotnull AS notnull
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
       ORDER BY c.relname, a.attnum`);
    for (const r of columns.rows) {
      if (IGNORED_TABLES.has(r.table)) continue;
      table(r.table).columns.set(r.column, { type: unquote(r.type), nullable: !r.notnull });
    }

    const indexes = await client.query<{
      table: string;
      name: string;
      primary: boolean;
      unique: boolean;
      columns: string[];
    }>(`
      SELECT t.relname AS table, i.relname AS name, x.indisprimary AS primary, x.indisunique AS unique,
             array(SELECT coalesce(a.attname, '(expression)')
                     FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                     LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
                    ORDER BY k.ord)::text[] AS columns
        FROM pg_index x
        JOIN pg_class i ON i.oid = x.indexrelid
        JOIN pg_class t ON t.oid = x.indrelid
        JOIN pg_namespace n ON n.oid = t.relnamespace
       WHERE n.nspname = current_schema()
       ORDER BY 1, 2`);
    for (const r of indexes.rows) {
      if (IGNORED_TABLES.has(r.table)) continue;
      const t = table(r.table);
      if (r.primary) t.primaryKey = { name: r.name, columns: r.columns };
      else if (r.unique) t.uniques.set(r.name, r.columns);
      else t.indexes.set(r.name, r.columns);
    }

    const fks = await client.query<{
      table: string;
      name: string;
      columns: string[];
      ref_table: string;
      ref_columns: string[];
      on_delete: string;
      on_update: string;
    }>(`
      SELECT t.relname AS table, c.conname AS name,
             array(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
                     JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum ORDER BY k.ord)::text[] AS columns,
             r.relname AS ref_table,
             array(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY AS k(attnum, ord)
                     JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum ORDER BY k.ord)::text[] AS ref_columns,
             c.confdeltype::text AS on_delete, c.confupdtype::text AS on_update
        FROM pg_constraint c
        JOIN pg_class t ON t.oid = c.conrelid
        JOIN pg_class r ON r.oid = c.confrelid
        JOIN pg_namespace n ON n.oid = t.relnamespace
       WHERE c.contype = 'f' AND n.nspname = current_schema()
       ORDER BY 1, 2`);
    for (const r of fks.rows) {
      table(r.table).foreignKeys.set(r.name, {
        columns: r.columns,
        refTable: r.ref_table,
        refColumns: r.ref_columns,
        onDelete: PG_ACTIONS[r.on_delete] ?? r.on_delete,
        onUpdate: PG_ACTIONS[r.on_update] ?? r.on_update,
      });
    }

    const enums = await client.query<{ name: string; values: string[] }>(`
      SELECT t.typname AS name, array_agg(e.enumlabel ORDER BY e.enumsortorder)::text[] AS values
        FROM pg_type t
        JOIN pg_enum e ON e.enumtypid = t.oid
        JOIN pg_namespace n ON n.oid = t.typnamespace
       WHERE n.nspname = current_schema()
       GROUP BY t.typname`);
    for (const r of enums.rows) shape.enums.set(r.name, r.values);
    return shape;
  } finally {
    await client.end();
  }
}

const list = (columns: string[]) => `(${columns.join(", ")})`;

/** Every way `actual` differs from `expected`, one readable line each; empty when they agree. */
function compareShapes(expected: DbShape, actual: DbShape): string[] {
  const out: string[] = [];
  for (const [name, values] of expected.enums) {
    const got = actual.enums.get(name);
    if (!got) out.push(`enum ${name}: missing from the database`);
    else if (got.join(",") !== values.join(","))
      out.push(
        `enum ${name}: values [${values.join(", ")}] in schema.prisma, [${got.join(", ")}] in the database`,
      );
  }
  for (const name of actual.enums.keys())
    if (!expected.enums.has(name)) out.push(`enum ${name}: in the database, not in schema.prisma`);

  for (const [name, want] of expected.tables) {
    const got = actual.tables.get(name);
    if (!got) {
      out.push(`table ${name}: missing from the database`);
      continue;
    }
    for (const [column, c] of want.columns) {
      const g = got.columns.get(column);
      if (!g) out.push(`column ${name}.${column}: missing from the database`);
      else {
        if (g.type !== c.type)
          out.push(`column ${name}.${column}: type ${c.type} in schema.prisma, ${g.type} in the database`);
        if (g.nullable !== c.nullable)
          out.push(
            `column ${name}.${column}: ${c.nullable ? "nullable" : "NOT NULL"} in schema.prisma, ${g.nullable ? "nullable" : "NOT NULL"} in the database`,
          );
      }
    }
    for (const column of got.columns.keys())
      if (!want.columns.has(column))
        out.push(`column ${name}.${column}: in the database, not in schema.prisma`);

    const pkWant = want.primaryKey ? `${want.primaryKey.name} ${list(want.primaryKey.columns)}` : "none";
    const pkGot = got.primaryKey ? `${got.primaryKey.name} ${list(got.primaryKey.columns)}` : "none";
    if (pkWant !== pkGot)
      out.push(`primary key of ${name}: ${pkWant} in schema.prisma, ${pkGot} in the database`);

    for (const [kind, w, g] of [
      ["unique index", want.uniques, got.uniques],
      ["index", want.indexes, got.indexes],
    ] as const) {
      for (const [index, columns] of w) {
        const have = g.get(index);
        if (!have) out.push(`${kind} ${index} ${list(columns)}: missing from the database`);
        else if (have.join(",") !== columns.join(","))
          out.push(`${kind} ${index}: ${list(columns)} in schema.prisma, ${list(have)} in the database`);
      }
      for (const [index, columns] of g)
        if (!w.has(index))
          out.push(`${kind} ${index} ${list(columns)}: in the database, not in schema.prisma`);
    }

    const describeFk = (fk: ForeignKey) =>
      `${list(fk.columns)} → ${fk.refTable}${list(fk.refColumns)} ON DELETE ${fk.onDelete} ON UPDATE ${fk.onUpdate}`;
    for (const [fk, def] of want.foreignKeys) {
      const have = got.foreignKeys.get(fk);
      if (!have) out.push(`foreign key ${fk} ${describeFk(def)}: missing from the database`);
      else if (describeFk(have) !== describeFk(def))
        out.push(
          `foreign key ${fk}: ${describeFk(def)} in schema.prisma, ${describeFk(have)} in the database`,
        );
    }
    for (const [fk, def] of got.foreignKeys)
      if (!want.foreignKeys.has(fk))
        out.push(`foreign key ${fk} ${describeFk(def)}: in the database, not in schema.prisma`);
  }
  for (const name of actual.tables.keys())
    if (!expected.tables.has(name)) out.push(`table ${name}: in the database, not in schema.prisma`);
  return out;
}

// ─── The tests ───────────────────────────────────────────────────────────────

const schema = await readFile(schemaPath, "utf8");
const dmmf = await getDMMF({ datamodel: schema });
const database = setupTestDatabase();

describe("schema drift", () => {
  it("the migrated database matches schema.prisma", async () => {
    const expected = expectedShape(dmmf);
    const actual = await actualShape(database.url);
    expect(compareShapes(expected, actual)).toEqual([]);
    // Sanity: the comparator looked at something real.
    expect(actual.tables.size).toBe(dmmf.datamodel.models.length);
    expect(actual.tables.get("RunEvent")!.uniques.get("RunEvent_runId_seq_key")).toEqual(["runId", "seq"]);
    expect(actual.tables.get("WorkflowRun")!.foreignKeys.get("WorkflowRun_apiKeyId_fkey")?.onDelete).toBe(
      "SET NULL",
    );
  });

  describe("Prisma's own schema engine", () => {
    let handle: Awaited<ReturnType<typeof openSchemaEngine>>;
    beforeAll(async () => {
      handle = await openSchemaEngine({ connectionString: database.url, schema });
    });
    afterAll(async () => {
      await handle?.close();
    });

    it("needs no SQL to bring the migrated database to schema.prisma", async () => {
      const target = {
        tag: "schemaDatasource" as const,
        files: [{ path: "schema.prisma", content: schema }],
        configDir: repoRoot,
      };
      expect(await diffScript(handle.engine, target, datamodelTarget(schema))).toBe("");
    });

    it("needs no new migration: replaying the migrations gives schema.prisma (scripts/db-diff.ts --check)", async () => {
      const migrations = await loadMigrationList(migrationsDir);
      expect(
        await diffScript(handle.engine, { tag: "migrations", ...migrations }, datamodelTarget(schema)),
      ).toBe("");
    });
  });

  describe("house rules of the data model", () => {
    // Stores whose layout a library dictates (rate-limiter-flexible's RateLimiterPostgres inserts
    // positionally into (key, points, expire) and upserts ON CONFLICT (key)): not ours to shape.
    const libraryOwned = new Set(["RateLimit"]);
    const system = new Set(["WorkerProcess", "WorkerProbe", ...libraryOwned]);
    const models = dmmf.datamodel.models.filter((m) => !system.has(m.name));

    it("every user-owned row carries its owner, indexed for the per-user queries", () => {
      const problems: string[] = [];
      const shape = expectedShape(dmmf);
      for (const model of models) {
        const table = shape.tables.get(model.dbName ?? model.name)!;
        if (model.name === "User") continue;
        const owner = table.columns.get("userId");
        if (!owner) {
          problems.push(`${model.name} has no userId`);
          continue;
        }
        if (owner.type !== "uuid") problems.push(`${model.name}.userId is ${owner.type}, not uuid`);
        const leading = [...table.uniques.values(), ...table.indexes.values()].some(
          (cols) => cols[0] === "userId",
        );
        if (!leading) problems.push(`${model.name}: no index starts with userId`);
        const fk = [...table.foreignKeys.values()].find((f) => f.columns.join() === "userId");
        // AuditEvent keeps no foreign key on purpose: the trail outlives the account.
        if (model.name !== "AuditEvent" && (fk?.refTable !== "User" || fk.onDelete !== "CASCADE"))
          problems.push(`${model.name}.userId is not a cascading foreign key to User`);
      }
      expect(problems).toEqual([]);
    });

    it("ids are database uuids, money is integer micro-dollars", () => {
      const problems: string[] = [];
      for (const model of dmmf.datamodel.models) {
        for (const field of model.fields) {
          if (
            field.isId &&
            !libraryOwned.has(model.name) &&
            !(field.type === "String" && field.nativeType?.[0] === "Uuid")
          )
            problems.push(`${model.name}.${field.name} is not a @db.Uuid id`);
          if (/micros$/i.test(field.name) && field.type !== "BigInt")
            problems.push(`${model.name}.${field.name} holds money but is ${field.type}, not BigInt`);
          if (field.type === "Float" || field.type === "Decimal")
            problems.push(
              `${model.name}.${field.name}: no floating point or decimal columns (money is BigInt micros)`,
            );
        }
      }
      expect(problems).toEqual([]);
    });
  });

  describe("the comparator fails when they disagree", () => {
    let altered: TestDatabase;
    beforeAll(async () => {
      altered = await createTestDatabase();
    });
    afterAll(async () => {
      await altered?.close();
    });

    it("on a database altered behind schema.prisma's back", async () => {
      await altered.db.$executeRawUnsafe(`
        ALTER TABLE "Project" DROP COLUMN "description";
        ALTER TABLE "Project" ADD COLUMN "color" TEXT;
        ALTER TABLE "ApiKey" ALTER COLUMN "rateLimitPerMinute" TYPE BIGINT;
        ALTER TABLE "User" ALTER COLUMN "name" SET NOT NULL;
        ALTER TABLE "WorkflowRun" ALTER COLUMN "input" DROP NOT NULL;
        DROP INDEX "ApiKey_keyHash_key";
        DROP INDEX "WorkflowRun_status_heartbeatAt_idx";
        CREATE INDEX "Project_name_idx" ON "Project"("name");
        ALTER TABLE "RunEvent" DROP CONSTRAINT "RunEvent_runId_fkey";
        ALTER TABLE "AiCall" DROP CONSTRAINT "AiCall_projectId_fkey";
        ALTER TABLE "AiCall" ADD CONSTRAINT "AiCall_projectId_fkey" FOREIGN KEY ("projectId") REFERENCES "Project"("id") ON DELETE CASCADE ON UPDATE CASCADE;
        ALTER TYPE "RunStatus" ADD VALUE 'paused';
        CREATE TABLE "Stray" (id INTEGER);
      `);

      const differences = compareShapes(expectedShape(dmmf), await actualShape(altered.url));

      expect(differences.sort()).toEqual(
        [
          "enum RunStatus: values [queued, running, succeeded, failed, cancelled, dead] in schema.prisma, [queued, running, succeeded, failed, cancelled, dead, paused] in the database",
          "column Project.description: missing from the database",
          "column Project.color: in the database, not in schema.prisma",
          "column ApiKey.rateLimitPerMinute: type integer in schema.prisma, bigint in the database",
          "column User.name: nullable in schema.prisma, NOT NULL in the database",
          "column WorkflowRun.input: NOT NULL in schema.prisma, nullable in the database",
          "unique index ApiKey_keyHash_key (keyHash): missing from the database",
          "index WorkflowRun_status_heartbeatAt_idx (status, heartbeatAt): missing from the database",
          "index Project_name_idx (name): in the database, not in schema.prisma",
          "foreign key RunEvent_runId_fkey (runId) → WorkflowRun(id) ON DELETE CASCADE ON UPDATE CASCADE: missing from the database",
          "foreign key AiCall_projectId_fkey: (projectId) → Project(id) ON DELETE SET NULL ON UPDATE CASCADE in schema.prisma, (projectId) → Project(id) ON DELETE CASCADE ON UPDATE CASCADE in the database",
          "table Stray: in the database, not in schema.prisma",
        ].sort(),
      );

      // Prisma's engine sees it too.
      const handle = await openSchemaEngine({ connectionString: altered.url, schema });
      try {
        const target = {
          tag: "schemaDatasource" as const,
          files: [{ path: "schema.prisma", content: schema }],
          configDir: repoRoot,
        };
        const sql = await diffScript(handle.engine, target, datamodelTarget(schema));
        expect(sql).toContain(`CREATE UNIQUE INDEX "ApiKey_keyHash_key"`);
        expect(sql).toContain(`DROP TABLE "Stray"`);
      } finally {
        await handle.close();
      }
    });

    it("on a schema.prisma edited without a migration", async () => {
      const edited = schema
        .replace(/(model User \{\n)/, `$1  nickname String\n`)
        .replace(
          /(model Project \{[\s\S]*?)(\n\s*@@index\(\[userId, createdAt\]\))/,
          `$1\n  @@index([name])$2`,
        )
        .replace(/(enum SnippetKind \{\n)/, `$1  folder\n`);
      expect(edited).not.toBe(schema);

      const differences = compareShapes(
        expectedShape(await getDMMF({ datamodel: edited })),
        await actualShape(database.url),
      );

      expect(differences.sort()).toEqual(
        [
          "column User.nickname: missing from the database",
          "enum SnippetKind: values [folder, file, generated, artifact] in schema.prisma, [file, generated, artifact] in the database",
          "index Project_name_idx (name): missing from the database",
        ].sort(),
      );
    });
  });
});
