import { createHash } from 'node:crypto';
import type { ApqCacheConfig } from '../config/schema.ts';
import { availabilityReporting, type Availability } from '../kernel/availability.ts';
import type { ApqStoreSignal } from '../kernel/channels.ts';
import { answerWithin, type RedisClient } from '../kernel/redis-reply.ts';
import type { SharedRedis } from '../runtime/redis.ts';

/**
 * What Apollo Server's `persistedQueries.cache` is handed (its `KeyValueCache<string>`). Apollo
 * Server prefixes each key with `apq:`, so a key is `apq:<sha256 of the document>`.
 */
export interface DocumentCache {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
  delete(key: string): Promise<boolean | void>;
}

/**
 * The automatic persisted query store Apollo Server is given (`persistedQueries.cache`): document
 * text by hash, bounded by the bytes of text it holds and evicting the least recently used entry
 * past the bound. Apollo Server's default would put APQ in its shared 30 MiB cache, where any
 * client registering documents competes with everything else kept there; a bound of its own
 * makes the worst case a number in the config (`server.apq_cache.max_size`). A Map keeps insertion
 * order, so re-inserting on a hit makes its first key the least recently used.
 */
export class ApqCache implements DocumentCache {
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

export interface SharedApqCacheOptions {
  /** This process's cache, in front: hot documents cost no round trip. */
  local: ApqCache;
  redis: RedisClient;
  /** `redis.key_prefix`: a document is kept at `<prefix>apq:<sha256>`. */
  keyPrefix: string;
  /** How long one command may take (`redis.command_timeout`); past it, the local cache alone. */
  commandTimeoutMs: number;
  /** How long a registered document stays in Redis (`server.apq_cache.ttl`). */
  ttlMs: number;
  /** Documents larger than this are kept locally only (`server.body_limit`). */
  maxDocumentBytes: number;
  /** Transitions and answers made without Redis; app.ts publishes them on `gateway:apq-store`. */
  onSignal?: (signal: ApqStoreSignal) => void;
}

/**
 * Automatic persisted queries shared by every instance through Redis, with this process's
 * `ApqCache` in front: a document registered through one instance is a hit on all of them, and
 * a document this instance served lately never waits on Redis.
 *
 * Redis can only ever make APQ better, never fail a request: a lookup or registration that Redis
 * refuses or does not answer within `commandTimeoutMs` is answered by the local cache alone (a
 * miss is PERSISTED_QUERY_NOT_FOUND, which has the client send the document again, and its
 * registration is kept locally). As for the limit store, once a command fails Redis counts as
 * down: commands then skip it, and one at a time probes it (kernel/availability.ts), so a Redis
 * that hangs costs one request its timeout, not every request; the first probe that succeeds
 * brings it back (the client reconnects by itself, runtime/redis.ts).
 *
 * A document read from Redis is served only if it hashes to its key: Redis is shared, and what
 * another writer put there must not answer for a hash that is not its own.
 */
export class SharedApqCache implements DocumentCache {
  readonly #local: ApqCache;
  readonly #redis: RedisClient;
  readonly #prefix: string;
  readonly #timeoutMs: number;
  readonly #ttlMs: number;
  readonly #maxDocumentBytes: number;
  readonly #signal: (signal: ApqStoreSignal) => void;
  readonly #availability: Availability;

  constructor(options: SharedApqCacheOptions) {
    this.#local = options.local;
    this.#redis = options.redis;
    this.#prefix = options.keyPrefix;
    this.#timeoutMs = options.commandTimeoutMs;
    this.#ttlMs = options.ttlMs;
    this.#maxDocumentBytes = options.maxDocumentBytes;
    const signal = (this.#signal = options.onSignal ?? (() => {}));
    this.#availability = availabilityReporting(signal);
  }

  /** Records the state the gateway starts in: `connected` is whether Redis answered in time. */
  start(connected: boolean): void {
    this.#availability.assume(connected);
    this.#signal({
      type: connected ? 'up' : 'down',
      initial: true,
      ...(connected ? {} : { reason: 'not connected within connect_timeout' }),
    });
  }

  /** True while Redis is asked. */
  get up(): boolean {
    return this.#availability.up;
  }

  async get(key: string): Promise<string | undefined> {
    const local = await this.#local.get(key);
    if (local !== undefined) return local;
    const shared = await this.#ask('get', () => this.#redis.get(this.#prefix + key));
    if (typeof shared !== 'string' || !hashesTo(shared, key)) return undefined;
    await this.#local.set(key, shared);
    return shared;
  }

  async set(key: string, value: string): Promise<void> {
    await this.#local.set(key, value);
    if (Buffer.byteLength(value) > this.#maxDocumentBytes) return;
    await this.#ask('set', () => this.#redis.set(this.#prefix + key, value, 'PX', this.#ttlMs));
  }

  async delete(key: string): Promise<boolean> {
    const local = await this.#local.delete(key);
    const shared = await this.#ask('set', () => this.#redis.del(this.#prefix + key));
    return local || shared === 1;
  }

  /** `command`'s answer, or undefined when Redis is down, refuses or is late; never rejects. */
  async #ask<T>(operation: 'get' | 'set', command: () => Promise<T>): Promise<T | undefined> {
    const answer = await this.#availability.attempt(() => answerWithin(command(), this.#timeoutMs));
    if (answer.ok) return answer.value;
    this.#signal({ type: 'fallback', operation });
    return undefined;
  }
}

/** Whether `document` is the one its key names (`apq:<sha256>`, Apollo Server's prefix). */
function hashesTo(document: string, key: string): boolean {
  const hash = key.slice(key.lastIndexOf(':') + 1);
  return createHash('sha256').update(document).digest('hex') === hash;
}

export interface ApqCacheSettings {
  config: ApqCacheConfig;
  /** The process's Redis connection, for `store: redis`; the caller closes it. */
  connection?: SharedRedis;
  /** The largest document Redis is given (`server.body_limit`). */
  maxDocumentBytes: number;
  onSignal?: (signal: ApqStoreSignal) => void;
}

/** The running gateway's APQ cache, with what must happen at start. */
export interface OpenedApqCache {
  readonly cache: DocumentCache;
  /** Waits (at most `redis.connect_timeout`) for Redis; the gateway starts either way. */
  start(): Promise<void>;
}

/**
 * The APQ cache `server.apq_cache` names, built once at start (the setting applies at the next
 * restart, runtime/snapshot.ts `startupSettings`).
 */
export function openApqCache(settings: ApqCacheSettings): OpenedApqCache {
  const { config, connection } = settings;
  const local = new ApqCache(config.max_size);
  if (config.store === 'memory') return { cache: local, start: () => Promise.resolve() };
  // The config loader refuses `store: redis` without `redis.url`, `redis.sentinel` or `redis.cluster` (load.ts).
  if (connection === undefined)
    throw new Error(
      'server.apq_cache.store redis needs redis.url, redis.sentinel or redis.cluster',
    );
  const cache = new SharedApqCache({
    local,
    redis: connection.client(),
    keyPrefix: connection.config.key_prefix,
    commandTimeoutMs: connection.config.command_timeout,
    ttlMs: config.ttl,
    maxDocumentBytes: settings.maxDocumentBytes,
    ...(settings.onSignal ? { onSignal: settings.onSignal } : {}),
  });
  return {
    cache,
    start: async () => cache.start(await connection.ready(connection.config.connect_timeout)),
  };
}
