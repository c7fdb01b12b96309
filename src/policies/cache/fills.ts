import type { CacheEntry } from './store.ts';

/**
 * The fills in flight in this process, by cache key: many requests missing one key at once
 * cause one backend fetch, the others waiting for its entry (a stampede is one fetch per
 * instance; the store's lock makes it one across instances). Shared by every snapshot: a fill
 * that began before a reload is still worth waiting for.
 */
export class Fills {
  readonly #inFlight = new Map<string, Promise<CacheEntry | undefined>>();

  /** The fill of `key` in flight: its entry, or undefined if it stored none. */
  join(key: string): Promise<CacheEntry | undefined> | undefined {
    return this.#inFlight.get(key);
  }

  /**
   * Marks `key` as being filled by the caller, who must call what this returns once with the
   * entry it stored (or undefined); later calls are ignored, so a safety net may call it again.
   */
  begin(key: string): (entry: CacheEntry | undefined) => void {
    let settle!: (entry: CacheEntry | undefined) => void;
    const fill = new Promise<CacheEntry | undefined>((resolve) => (settle = resolve));
    this.#inFlight.set(key, fill);
    let done = false;
    return (entry) => {
      if (done) return;
      done = true;
      if (this.#inFlight.get(key) === fill) this.#inFlight.delete(key);
      settle(entry);
    };
  }
}

/** `promise`'s value, or undefined once `ms` have passed without it. */
export function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  if (ms <= 0) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      () => {
        clearTimeout(timer);
        resolve(undefined);
      },
    );
  });
}
