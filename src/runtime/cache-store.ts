import type { CacheConfig, RedisConfig } from '../config/schema.ts';
import type { CacheSignal } from '../kernel/channels.ts';
import { MemoryCacheStore } from '../policies/cache/memory-store.ts';
import { RedisCacheStore } from '../policies/cache/redis-store.ts';
import type { CacheStore } from '../policies/cache/store.ts';
import type { SharedRedis } from './redis.ts';

export interface CacheStoreSettings {
  readonly cache: CacheConfig;
  /** The process's connection, shared with the other stores; not closed here. */
  readonly connection: SharedRedis;
  readonly onSignal?: (signal: CacheSignal) => void;
}

/**
 * The store `cache.store` names, opened once at start: entries outlive reloads, so a reload
 * that changes `cache.store`, `cache.max_size` or `cache.compress_above` applies at the next
 * restart (runtime/snapshot.ts). Opened whether or not the cache is enabled, so a reload may
 * turn it on: a memory store holds nothing until then, and Redis is connected only when named.
 */
export function openCacheStore(settings: CacheStoreSettings): CacheStore {
  const { cache } = settings;
  const onSignal = settings.onSignal ? { onSignal: settings.onSignal } : {};
  if (cache.store === 'memory')
    return new MemoryCacheStore({ maxBytes: cache.max_size, ...onSignal });
  const { config } = settings.connection;
  return new RedisCacheStore({
    redis: settings.connection.client(),
    keyPrefix: cacheKeyPrefix(config),
    commandTimeoutMs: config.command_timeout,
    compressAbove: cache.compress_above,
    ...onSignal,
  });
}

/**
 * Where the cache's keys start. On a Redis Cluster every one of them shares the hash tag
 * `{cache}`, so all sit in one slot: a lookup reads a request's entries in one MGET, a write puts
 * entries and their tag sets in one MULTI, and an invalidation's script deletes entries it finds
 * in the sets (keys it cannot declare beforehand); Cluster refuses each of these across slots.
 * The price is that the cache lives on one shard (its master and replicas); rate budgets and APQ
 * documents still spread over all of them. The config refuses braces in `key_prefix` with a
 * cluster (schema.ts), so no brace of the prefix can take the tag's place.
 */
export function cacheKeyPrefix(config: RedisConfig): string {
  return config.cluster ? `${config.key_prefix}{cache}:` : config.key_prefix;
}
