import type { CacheSignal } from '../../kernel/channels.ts';
import type { CacheEntry, CacheName, CacheStore, CacheWrite } from './store.ts';

/**
 * What an entry costs beyond its strings' UTF-8 bytes: the entry object, its tags array and its
 * strings' headers, the Map slot and the record around it, a Set slot per tag, and a Set of its
 * own for a tag only it carries (an entity's key). Measured on Node 20 (heap growth over 100,000
 * small entities, less their strings' bytes): about 300 bytes when every tag is shared, about
 * 560 with one tag of its own. Large entries hardly notice it; for small entities, the common
 * case, it is most of their weight, so the figure leans to that case. The bound stays an
 * estimate: V8 keeps strings as Latin-1 or UTF-16, not UTF-8.
 */
export const ENTRY_OVERHEAD_BYTES = 512;

export interface MemoryCacheStoreOptions {
  /** The bound on what the store holds, in bytes (`ENTRY_OVERHEAD_BYTES` counted per entry). */
  maxBytes: number;
  /** Milliseconds since the epoch, what `storedAt` is counted in; tests move it by hand. */
  now?: () => number;
  /** Entries evicted for room; app.ts publishes them on `gateway:cache`. */
  onSignal?: (signal: CacheSignal) => void;
}

interface Held {
  readonly entry: CacheEntry;
  readonly bytes: number;
  /** When it is gone: `storedAt` plus `maxAge + staleWhileRevalidate`. */
  readonly expiresAt: number;
}

/**
 * Cached answers in this process: bounded by the bytes they hold, evicting the least recently
 * used past the bound (a Map keeps insertion order, so re-inserting on a hit makes its first key
 * the least recently used, as the APQ cache does). Entries are bounded by bytes, not by count,
 * because one response can weigh as much as a thousand entities.
 *
 * A tag index (tag → keys) answers invalidations without a scan; it is kept exact on every
 * removal, so an invalidation counts only entries still held.
 */
export class MemoryCacheStore implements CacheStore {
  readonly #maxBytes: number;
  readonly #now: () => number;
  readonly #signal: (signal: CacheSignal) => void;
  readonly #entries = new Map<string, Held>();
  readonly #byTag = new Map<string, Set<string>>();
  readonly #locks = new Map<string, number>();
  readonly #bytes: Record<CacheName, number> = { response: 0, entity: 0 };
  #total = 0;

  constructor(options: MemoryCacheStoreOptions) {
    this.#maxBytes = options.maxBytes;
    this.#now = options.now ?? Date.now;
    this.#signal = options.onSignal ?? (() => {});
  }

  async get(keys: readonly string[]): Promise<(CacheEntry | undefined)[]> {
    const now = this.#now();
    return keys.map((key) => {
      const held = this.#entries.get(key);
      if (held === undefined) return undefined;
      this.#entries.delete(key);
      if (held.expiresAt <= now) {
        this.#forget(key, held);
        return undefined;
      }
      this.#entries.set(key, held);
      return held.entry;
    });
  }

  async set(writes: readonly CacheWrite[]): Promise<void> {
    const now = this.#now();
    for (const { key, entry } of writes) {
      // The new entry replaces the old one whether or not it is kept itself: the old one is
      // what the caller has just found outdated.
      this.#remove(key);
      const expiresAt = entry.storedAt + (entry.maxAge + entry.staleWhileRevalidate) * 1000;
      const bytes = sizeOf(key, entry);
      // An entry larger than the whole store would evict everything and still not fit.
      if (expiresAt <= now || bytes > this.#maxBytes) continue;
      this.#entries.set(key, { entry, bytes, expiresAt });
      this.#bytes[entry.cache] += bytes;
      this.#total += bytes;
      for (const tag of entry.tags) {
        let keys = this.#byTag.get(tag);
        if (keys === undefined) this.#byTag.set(tag, (keys = new Set()));
        keys.add(key);
      }
      this.#makeRoom(now);
    }
    this.#report();
  }

  async invalidate(tags: readonly string[]): Promise<number> {
    let removed = 0;
    for (const tag of tags) {
      const keys = this.#byTag.get(tag);
      if (keys === undefined) continue;
      // Removing an entry edits this very set: walk a copy.
      for (const key of [...keys]) if (this.#remove(key)) removed++;
    }
    if (removed > 0) this.#report();
    return removed;
  }

  async lock(key: string, ttlMs: number): Promise<boolean> {
    const now = this.#now();
    const until = this.#locks.get(key);
    if (until !== undefined && until > now) return false;
    this.#locks.set(key, now + ttlMs);
    return true;
  }

  async unlock(key: string): Promise<void> {
    this.#locks.delete(key);
  }

  bytes(): Readonly<Record<CacheName, number>> {
    return { ...this.#bytes };
  }

  start(): Promise<void> {
    return Promise.resolve();
  }

  async close(): Promise<void> {
    this.#entries.clear();
    this.#byTag.clear();
    this.#locks.clear();
    this.#bytes.response = this.#bytes.entity = this.#total = 0;
  }

  /** The bytes held per cache, for the `gateway_cache_bytes` gauge. */
  #report(): void {
    this.#signal({ type: 'size', cache: 'response', bytes: this.#bytes.response });
    this.#signal({ type: 'size', cache: 'entity', bytes: this.#bytes.entity });
  }

  /** Evicts from the least recently used end until the store is within its bound. */
  #makeRoom(now: number): void {
    for (const [key, held] of this.#entries) {
      if (this.#total <= this.#maxBytes) return;
      this.#entries.delete(key);
      this.#forget(key, held);
      // An entry that had run out was not evicted for room: it was gone already.
      if (held.expiresAt > now)
        this.#signal({
          type: 'evict',
          cache: held.entry.cache,
          entryType: held.entry.type,
          bytes: held.bytes,
        });
    }
  }

  /** Removes the entry at `key`, if any; true when there was one. */
  #remove(key: string): boolean {
    const held = this.#entries.get(key);
    if (held === undefined) return false;
    this.#entries.delete(key);
    this.#forget(key, held);
    return true;
  }

  /** Takes an entry already out of the Map off the byte counts and the tag index. */
  #forget(key: string, held: Held): void {
    this.#bytes[held.entry.cache] -= held.bytes;
    this.#total -= held.bytes;
    for (const tag of held.entry.tags) {
      const keys = this.#byTag.get(tag);
      if (keys === undefined) continue;
      keys.delete(key);
      if (keys.size === 0) this.#byTag.delete(tag);
    }
  }
}

/** What an entry weighs against `maxBytes`: its key, value and tags, and the overhead. */
function sizeOf(key: string, entry: CacheEntry): number {
  let bytes = ENTRY_OVERHEAD_BYTES + Buffer.byteLength(key) + Buffer.byteLength(entry.value);
  for (const tag of entry.tags) bytes += Buffer.byteLength(tag);
  return bytes;
}
