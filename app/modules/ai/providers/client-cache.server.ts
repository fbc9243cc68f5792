/**
 * A small bounded LRU of SDK clients, keyed by where and how they connect. Building a client per call costs
 * time the proxy cannot spend (the benchmark allows ≤ 1 ms added time to first token).
 */
import type { ProviderConnection } from "./types.server.ts";

export class ClientCache<T> {
  readonly #entries = new Map<string, T>();
  constructor(
    readonly maxEntries: number,
    readonly create: (connection: ProviderConnection) => T,
  ) {}

  get(connection: ProviderConnection): T {
    const key = cacheKey(connection);
    const found = this.#entries.get(key);
    if (found !== undefined) {
      // Most recently used goes last (Map keeps insertion order).
      this.#entries.delete(key);
      this.#entries.set(key, found);
      return found;
    }
    const client = this.create(connection);
    this.#entries.set(key, client);
    if (this.#entries.size > this.maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    return client;
  }

  get size(): number {
    return this.#entries.size;
  }

  clear(): void {
    this.#entries.clear();
  }
}

function cacheKey(connection: ProviderConnection): string {
  let key = `${connection.baseUrl ?? ""}\u0000${connection.apiKey}`;
  const headers = connection.headers;
  if (headers) {
    for (const name of Object.keys(headers).sort()) key += `\u0000${name}\u0001${headers[name]}`;
  }
  return key;
}
