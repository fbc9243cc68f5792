/**
 * The adapter for each provider kind. Tests can swap one in (`overrideAdapter`) to script failures without
 * an HTTP server.
 */
import type { ProviderKind } from "../ai.types.ts";
import { anthropicAdapter } from "./anthropic.server.ts";
import { compatAdapter, openaiAdapter } from "./openai.server.ts";
import type { ProviderAdapter } from "./types.server.ts";

const ADAPTERS: Record<ProviderKind, ProviderAdapter> = {
  openai: openaiAdapter,
  anthropic: anthropicAdapter,
  compat: compatAdapter,
};

const overrides = new Map<ProviderKind, ProviderAdapter>();

export function adapterFor(kind: ProviderKind): ProviderAdapter {
  return overrides.get(kind) ?? ADAPTERS[kind];
}

/** Use `adapter` for `kind` until the returned function is called (or `resetAdapterOverrides`). Tests only. */
export function overrideAdapter(kind: ProviderKind, adapter: ProviderAdapter): () => void {
  overrides.set(kind, adapter);
  return () => {
    if (overrides.get(kind) === adapter) overrides.delete(kind);
  };
}

export function resetAdapterOverrides(): void {
  overrides.clear();
}

export { anthropicAdapter, compatAdapter, openaiAdapter };
