/**
 * The automatic persisted query store Apollo Server is given (`persistedQueries.cache`): document
 * text by hash, bounded by the bytes of text it holds and evicting the least recently used entry
 * past the bound. Apollo Server's default would put APQ in its shared 30 MiB cache, where any
 * client registering documents competes with everything else kept there; a bound of its own
 * makes the worst case a number in the config (`server.apq_cache_size`). A Map keeps insertion
 * order, so re-inserting on a hit makes its first key the least recently used.
 */
export class ApqCache {
  readonly #maxBytes: number;
  readonly #entries = new Map<string, string>();
  #bytes = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /** Bytes of document text held. */
  get size(): number {
    return this.#bytes;
  }

  async get(key: string): Promise<string | undefined> {
    const value = this.#entries.get(key);
    if (value === undefined) return undefined;
    this.#entries.delete(key);
    this.#entries.set(key, value);
    return value;
  }

  async set(key: string, value: string): Promise<void> {
    await this.delete(key);
    const bytes = Buffer.byteLength(value);
    // A document larger than the whole cache is not kept: it would evict everything and still
    // not fit. The request that sent it runs all the same.
    if (bytes > this.#maxBytes) return;
    this.#entries.set(key, value);
    this.#bytes += bytes;
    for (const [oldest, text] of this.#entries) {
      if (this.#bytes <= this.#maxBytes) break;
      this.#entries.delete(oldest);
      this.#bytes -= Buffer.byteLength(text);
    }
  }

  async delete(key: string): Promise<boolean> {
    const value = this.#entries.get(key);
    if (value === undefined) return false;
    this.#entries.delete(key);
    this.#bytes -= Buffer.byteLength(value);
    return true;
  }
}
