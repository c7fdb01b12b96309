/**
 * Where cached answers are kept: this process's memory (memory-store.ts) or a Redis every
 * instance shares (redis-store.ts). The response cache and the entity cache keep their entries in
 * one store, told apart by the key (each prefixes its own) and by `cache` on the entry.
 */

/** Which cache an entry belongs to: metric labels and the byte counts are per cache. */
export type CacheName = 'response' | 'entity';

/** One cached value and what it takes to serve it and to find it again. */
export interface CacheEntry {
  readonly cache: CacheName;
  /**
   * What it holds, for metric labels: the entity's type (`Product`) or, for a response, the
   * operation's root type (`Query`).
   */
  readonly type: string;
  /** The value as JSON text: a response's `data`, or one entity as its subgraph answered it. */
  readonly value: string;
  /** When it was stored, in milliseconds since the epoch: what `Age` is counted from. */
  readonly storedAt: number;
  /** Seconds it is fresh for after `storedAt` (the policy's max-age, at least 1). */
  readonly maxAge: number;
  /**
   * Seconds past `maxAge` it may still be served while one request refreshes it
   * (`stale-while-revalidate`); 0: never served stale.
   */
  readonly staleWhileRevalidate: number;
  /** Whether it may be served to anyone (`PUBLIC`) or only to the identity its key names. */
  readonly scope: 'PUBLIC' | 'PRIVATE';
  /**
   * What invalidations find it by (tags.ts builds them): its types, its entities' keys, the
   * subgraph it came from, the tags its fields and types declare.
   */
  readonly tags: readonly string[];
}

export interface CacheWrite {
  readonly key: string;
  readonly entry: CacheEntry;
}

/**
 * A store. Reads and writes never reject: a store that cannot answer is a miss, and a write it
 * cannot make is dropped (the caller serves uncached, never an error). An invalidation rejects
 * when it could not be applied, so whoever asked for it (the admin endpoint) is told.
 */
export interface CacheStore {
  /** The entries at these keys, undefined where there is none (or it expired); one round trip. */
  get(keys: readonly string[]): Promise<(CacheEntry | undefined)[]>;
  /** Stores each entry for `maxAge + staleWhileRevalidate` seconds; one round trip. */
  set(writes: readonly CacheWrite[]): Promise<void>;
  /** Removes every entry carrying any of `tags`; resolves how many were removed. */
  invalidate(tags: readonly string[]): Promise<number>;
  /**
   * Takes the fill lock on `key` for `ttlMs` (a short lock, so a holder that dies frees it):
   * true when this caller holds it and should fetch, false when another does and its entry is
   * worth waiting for. A store that cannot say (Redis down) answers true: fetch.
   */
  lock(key: string, ttlMs: number): Promise<boolean>;
  /** Releases a lock this caller took. */
  unlock(key: string): Promise<void>;
  /** Bytes held per cache, where the store can tell (memory); undefined for a shared store. */
  bytes(): Readonly<Record<CacheName, number>> | undefined;
  /** Waits (at most `timeoutMs`) for a shared store to connect; the gateway starts either way. */
  start(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}
