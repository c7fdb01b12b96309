import { randomBytes } from 'node:crypto';
import { brotliCompressSync, brotliDecompressSync, constants } from 'node:zlib';
import {
  availabilityReporting,
  type Attempt,
  type Availability,
} from '../../kernel/availability.ts';
import type { CacheSignal } from '../../kernel/channels.ts';
import { answerWithin, whenReady, type RedisClient } from '../../kernel/redis-reply.ts';
import type { CacheEntry, CacheName, CacheStore, CacheWrite } from './store.ts';

/**
 * Removes every entry of the tag sets `KEYS`, and the sets. `ARGV[1]` is the prefix of entry
 * keys: a set holds cache keys, not Redis keys, so whatever a set holds, the script deletes
 * nothing but cache entries of this prefix. Reply: the entries that existed and were deleted
 * (DEL counts only keys it found, so an entry in two sets, or one Redis expired, counts once or
 * not at all). Redis runs a script alone: no write lands between the read of a set and the
 * deletes. DEL takes its keys in chunks: Lua's `unpack` has a bound on how many values it spreads.
 *
 * The entry keys come from the sets, not from `KEYS`: on a Redis Cluster this needs every key
 * of the prefix in one slot, which runtime/cache-store.ts gives it (`{cache}`).
 */
const INVALIDATE_SCRIPT = /* lua */ `
local removed = 0
for _, set in ipairs(KEYS) do
  local members = redis.call('SMEMBERS', set)
  for i = 1, #members, 1000 do
    local chunk = {}
    for j = i, math.min(i + 999, #members) do chunk[#chunk + 1] = ARGV[1] .. members[j] end
    removed = removed + redis.call('DEL', unpack(chunk))
  end
  redis.call('DEL', set)
end
return removed
`;

/** Deletes the lock `KEYS[1]` only while it still holds this holder's token `ARGV[1]`. */
const UNLOCK_SCRIPT = /* lua */ `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/** The client with the scripts as commands (ioredis sends EVALSHA, and EVAL once on NOSCRIPT). */
type ScriptedRedis = RedisClient & {
  gatewayCacheInvalidate(keys: number, ...args: string[]): Promise<number>;
  gatewayCacheUnlock(key: string, token: string): Promise<number>;
};

/**
 * The first byte of a stored value: how the rest is encoded. Anything else there (another
 * writer's value, a format this version does not know) is a miss.
 */
const PLAIN = 0x01;
const BROTLI = 0x02;

/**
 * Brotli at quality 3, chosen by measuring GraphQL-shaped JSON (lists of entities) on Node 20
 * against raw deflate at level 1 and brotli at 1 and 4. At 22 KB: deflate-1 kept 11% of the
 * bytes in 44 µs, brotli-3 7% in 82 µs, brotli-4 7% in 113 µs; at 225 KB: 9% in 0.31 ms, 5% in
 * 0.70 ms, 5% in 0.98 ms. Decompressing brotli-3 was as fast as deflate or faster (28 µs at
 * 22 KB, 0.12 ms at 225 KB). An entry is written once and read by every instance many times,
 * and Redis memory and the bytes on the wire are what every instance shares, so the smaller
 * encoding is worth the write's extra tens of µs; past quality 3 the bytes hardly shrink while
 * the write keeps growing.
 */
const BROTLI_OPTIONS = {
  params: {
    [constants.BROTLI_PARAM_QUALITY]: 3,
  },
};

export interface RedisCacheStoreOptions {
  /** The process's shared connection (runtime/redis.ts); the caller closes it. */
  redis: RedisClient;
  /** `redis.key_prefix`: entries at `<prefix>cache:<key>`, tag sets, locks beside them. */
  keyPrefix: string;
  /** How long one command may take (`redis.command_timeout`); past it, a miss. */
  commandTimeoutMs: number;
  /** Stored values larger than this many bytes are compressed. */
  compressAbove: number;
  /** Transitions and operations made without Redis; app.ts publishes them on `gateway:cache`. */
  onSignal?: (signal: CacheSignal) => void;
}

/**
 * Cached answers in a Redis every instance shares: what one instance stored is a hit on all of
 * them, and an invalidation made through one reaches them all.
 *
 * Keys under the prefix:
 *   `cache:<key>`       the entry (encoded below), expiring with it (PX: maxAge + swr)
 *   `cache-tag:<tag>`   SET of the keys of entries carrying the tag, living as long as the
 *                       longest of them
 *   `cache-lock:<key>`  the fill lock: a random token of its holder, expiring by itself
 *
 * A tag set keeps the keys of entries that expired or were overwritten with other tags until
 * it expires itself: an invalidation may then delete a newer entry that no longer carries the
 * tag, which costs a miss, never a wrong answer. A tag nearly every write carries (a type's)
 * keeps its set alive, and growing with such keys, until an invalidation of it deletes the set.
 *
 * Redis can make the cache miss, never fail a request (store.ts): as for the APQ store
 * (gateway/apq-cache.ts), a command Redis refuses or does not answer within `commandTimeoutMs`
 * takes it for down, and while it is down one command at a time probes it
 * (kernel/availability.ts): the others get all misses, drop their writes and fetch without the
 * lock. An invalidation alone rejects, so the admin endpoint can say it was not applied.
 */
export class RedisCacheStore implements CacheStore {
  readonly #redis: ScriptedRedis;
  readonly #prefix: string;
  readonly #timeoutMs: number;
  readonly #compressAbove: number;
  readonly #signal: (signal: CacheSignal) => void;
  readonly #availability: Availability;
  /** The token of each lock this process holds, so `unlock` frees only its own. */
  readonly #tokens = new Map<string, string>();

  constructor(options: RedisCacheStoreOptions) {
    options.redis.defineCommand('gatewayCacheInvalidate', { lua: INVALIDATE_SCRIPT });
    options.redis.defineCommand('gatewayCacheUnlock', { lua: UNLOCK_SCRIPT, numberOfKeys: 1 });
    this.#redis = options.redis as ScriptedRedis;
    this.#prefix = options.keyPrefix;
    this.#timeoutMs = options.commandTimeoutMs;
    this.#compressAbove = options.compressAbove;
    const signal = (this.#signal = options.onSignal ?? (() => {}));
    this.#availability = availabilityReporting(signal);
  }

  async get(keys: readonly string[]): Promise<(CacheEntry | undefined)[]> {
    if (keys.length === 0) return [];
    const answer = await this.#attempt('get', () =>
      this.#redis.mgetBuffer(keys.map((key) => this.#entryKey(key))),
    );
    if (!answer.ok) return keys.map(() => undefined);
    return answer.value.map((stored) => (stored === null ? undefined : decode(stored)));
  }

  async set(writes: readonly CacheWrite[]): Promise<void> {
    if (writes.length === 0) return;
    // Built only when Redis is asked: while it is down, nothing is compressed for nothing. A
    // command Redis refused inside the transaction (a tag key another writer made a string) is
    // in the reply, not a rejection: Redis answered, so it is up, and the entries are stored.
    await this.#attempt('set', () => this.#transaction(writes).exec());
  }

  async invalidate(tags: readonly string[]): Promise<number> {
    if (tags.length === 0) return 0;
    const sets = [...new Set(tags)].map((tag) => this.#tagKey(tag));
    const answer = await this.#attempt('invalidate', () =>
      this.#redis.gatewayCacheInvalidate(sets.length, ...sets, `${this.#prefix}cache:`),
    );
    if (answer.ok) return answer.value;
    throw answer.error ?? new Error('Redis is down: the invalidation was not applied');
  }

  async lock(key: string, ttlMs: number): Promise<boolean> {
    const token = randomBytes(16).toString('base64url');
    const answer = await this.#attempt('lock', () =>
      this.#redis.set(this.#lockKey(key), token, 'PX', ttlMs, 'NX'),
    );
    // Without Redis no one can say who fills the entry: this caller fetches for itself.
    if (!answer.ok) return true;
    if (answer.value !== 'OK') return false;
    this.#tokens.set(key, token);
    return true;
  }

  async unlock(key: string): Promise<void> {
    const token = this.#tokens.get(key);
    // A lock granted without Redis has nothing to release.
    if (token === undefined) return;
    this.#tokens.delete(key);
    // If Redis does not take this, the lock frees itself at its TTL.
    await this.#attempt('lock', () => this.#redis.gatewayCacheUnlock(this.#lockKey(key), token));
  }

  bytes(): Readonly<Record<CacheName, number>> | undefined {
    return undefined;
  }

  /** Waits (at most `timeoutMs`) for the connection and reports the state the store starts in. */
  async start(timeoutMs: number): Promise<void> {
    const connected = await whenReady(this.#redis, timeoutMs);
    this.#availability.assume(connected);
    this.#signal({
      type: connected ? 'up' : 'down',
      initial: true,
      ...(connected ? {} : { reason: `not connected within ${timeoutMs} ms` }),
    });
  }

  /** The connection is the caller's to close (runtime/redis.ts): it may serve others. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  /** Runs `command` within the timeout unless Redis is skipped; says when Redis was not used. */
  async #attempt<T>(
    operation: 'get' | 'set' | 'lock' | 'invalidate',
    command: () => Promise<T>,
  ): Promise<Attempt<T>> {
    const answer = await this.#availability.attempt(() => answerWithin(command(), this.#timeoutMs));
    if (!answer.ok) this.#signal({ type: 'fallback', operation });
    return answer;
  }

  /**
   * One transaction for all of `writes`: an entry and its place in its tag sets land together,
   * so an invalidation (a script, run alone) sees both or neither.
   */
  #transaction(writes: readonly CacheWrite[]) {
    const multi = this.#redis.multi();
    const tagged = new Map<string, { keys: string[]; ttlMs: number }>();
    for (const { key, entry } of writes) {
      const ttlMs = Math.ceil((entry.maxAge + entry.staleWhileRevalidate) * 1000);
      multi.set(this.#entryKey(key), this.#encode(entry), 'PX', ttlMs);
      for (const tag of entry.tags) {
        const set = tagged.get(tag);
        if (set === undefined) tagged.set(tag, { keys: [key], ttlMs });
        else {
          set.keys.push(key);
          set.ttlMs = Math.max(set.ttlMs, ttlMs);
        }
      }
    }
    for (const [tag, { keys, ttlMs }] of tagged) {
      const setKey = this.#tagKey(tag);
      multi.sadd(setKey, ...keys);
      // GT alone leaves a set without a TTL as it is (Redis counts none as infinite), and SADD
      // creates sets without one: NX gives a new set its TTL, GT lengthens an existing one's.
      multi.pexpire(setKey, ttlMs, 'NX');
      multi.pexpire(setKey, ttlMs, 'GT');
    }
    return multi;
  }

  #entryKey(key: string): string {
    return `${this.#prefix}cache:${key}`;
  }

  #tagKey(tag: string): string {
    return `${this.#prefix}cache-tag:${tag}`;
  }

  #lockKey(key: string): string {
    return `${this.#prefix}cache-lock:${key}`;
  }

  /**
   * The stored bytes: the encoding byte, then the body, compressed past `compressAbove` when
   * that makes it smaller. The body is the entry's fields but its value as one line of JSON,
   * then a newline, then the value as it is: the value is JSON text already, and escaping it
   * into a JSON string would cost bytes and a second parse on every read.
   */
  #encode(entry: CacheEntry): Buffer {
    const value = Buffer.from(entry.value);
    const meta: Meta = {
      cache: entry.cache,
      type: entry.type,
      storedAt: entry.storedAt,
      maxAge: entry.maxAge,
      staleWhileRevalidate: entry.staleWhileRevalidate,
      scope: entry.scope,
      tags: entry.tags,
      // A read compares it with what follows the newline: a value cut short is a miss.
      bytes: value.length,
    };
    const body = Buffer.concat([Buffer.from(`${JSON.stringify(meta)}\n`), value]);
    if (body.length > this.#compressAbove) {
      const compressed = brotliCompressSync(body, BROTLI_OPTIONS);
      if (compressed.length < body.length) return Buffer.concat([Buffer.of(BROTLI), compressed]);
    }
    return Buffer.concat([Buffer.of(PLAIN), body]);
  }
}

/** An entry's fields as stored before its value; `bytes` is the value's length. */
type Meta = Omit<CacheEntry, 'value'> & { readonly bytes: number };

/** The entry `stored` holds, or undefined when it is not one this store wrote whole. */
function decode(stored: Buffer): CacheEntry | undefined {
  try {
    const encoding = stored[0];
    const rest = stored.subarray(1);
    const body =
      encoding === PLAIN ? rest : encoding === BROTLI ? brotliDecompressSync(rest) : undefined;
    if (body === undefined) return undefined;
    const newline = body.indexOf(0x0a);
    if (newline < 0) return undefined;
    const meta: unknown = JSON.parse(body.subarray(0, newline).toString());
    const value = body.subarray(newline + 1);
    if (!isMeta(meta) || meta.bytes !== value.length) return undefined;
    return {
      cache: meta.cache,
      type: meta.type,
      value: value.toString(),
      storedAt: meta.storedAt,
      maxAge: meta.maxAge,
      staleWhileRevalidate: meta.staleWhileRevalidate,
      scope: meta.scope,
      tags: meta.tags,
    };
  } catch {
    // Brotli refused it, or the fields are not JSON: not an entry.
    return undefined;
  }
}

function isMeta(meta: unknown): meta is Meta {
  if (typeof meta !== 'object' || meta === null) return false;
  const m = meta as Record<string, unknown>;
  return (
    (m.cache === 'response' || m.cache === 'entity') &&
    typeof m.type === 'string' &&
    Number.isFinite(m.storedAt) &&
    Number.isFinite(m.maxAge) &&
    Number.isFinite(m.staleWhileRevalidate) &&
    (m.scope === 'PUBLIC' || m.scope === 'PRIVATE') &&
    Array.isArray(m.tags) &&
    m.tags.every((tag) => typeof tag === 'string') &&
    Number.isInteger(m.bytes)
  );
}
