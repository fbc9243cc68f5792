/**
 * The model catalog: what each model costs, how much context it takes, whether it calls tools. Shipped as
 * data (catalog/models.json) and extended by the operator's AI_MODELS_FILE (same format, merged by id).
 */
import { readFileSync } from "node:fs";
import { type CatalogEntry, parseModelId, type Usage, ZCatalogFile } from "./ai.types.ts";
import shipped from "./catalog/models.json";

export type Catalog = {
  readonly entries: readonly CatalogEntry[];
  get(id: string): CatalogEntry | undefined;
};

/** Build a catalog from entries; later entries replace earlier ones with the same id. */
export function createCatalog(...lists: ReadonlyArray<readonly CatalogEntry[]>): Catalog {
  const byId = new Map<string, CatalogEntry>();
  for (const list of lists) for (const entry of list) byId.set(entry.id, entry);
  const entries = [...byId.values()];
  return { entries, get: (id) => byId.get(id) };
}

/** The shipped catalog, plus `modelsFile` when given. Throws a readable error naming the file and the bad entry. */
export function loadCatalog({ modelsFile }: { modelsFile?: string } = {}): Catalog {
  const base = ZCatalogFile.parse(shipped).models;
  if (!modelsFile) return createCatalog(base);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(modelsFile, "utf8"));
  } catch (error) {
    throw new Error(`AI_MODELS_FILE ${modelsFile} could not be read as JSON: ${(error as Error).message}`);
  }
  const parsed = ZCatalogFile.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new Error(`AI_MODELS_FILE ${modelsFile} is not a valid model catalog:\n${lines.join("\n")}`);
  }
  return createCatalog(base, parsed.data.models);
}

/**
 * Cost of a call in micro-dollars. A price of $X per million tokens is X micro-dollars per token, so this is
 * exact arithmetic on small numbers; rounded up so a call is never free by rounding.
 */
export function costMicros(entry: CatalogEntry | undefined, usage: Usage): number {
  if (!entry) return 0;
  return Math.ceil(usage.tokensIn * entry.inputPerMTok + usage.tokensOut * entry.outputPerMTok);
}

/** A rough token count (4 characters a token): used for estimates before and during a call, never billed. */
export function estimateTokens(characters: number): number {
  return Math.ceil(characters / 4);
}

export function providerOf(id: string): string | undefined {
  const parsed = parseModelId(id);
  return parsed.ok ? parsed.ref.provider : undefined;
}
