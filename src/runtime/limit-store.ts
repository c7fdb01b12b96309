import type { LimitStoreConfig, RedisConfig } from '../config/schema.ts';
import type { LimitStoreSignal } from '../kernel/channels.ts';
import type { Clock } from '../kernel/clock.ts';
import type { RedisClient } from '../kernel/redis-reply.ts';
import { FallbackLimitStore } from '../policies/limits/stores/fallback.ts';
import { MemoryLimitStore } from '../policies/limits/stores/memory.ts';
import { RedisLimitStore } from '../policies/limits/stores/redis.ts';
import type { LimitStore } from '../policies/limits/stores/store.ts';
import { createRedisClient, type SharedRedis } from './redis.ts';

export interface LimitStoreSettings {
  store: LimitStoreConfig;
  redis: RedisConfig;
  /** The process's connection, shared with the other stores; not closed here. @default one of its own */
  connection?: SharedRedis;
  clock?: Clock;
  onSignal?: (signal: LimitStoreSignal) => void;
}

/** The running gateway's limit store, with what must happen at start and at stop. */
export interface OpenedLimitStore {
  readonly store: LimitStore;
  /** Waits (at most `redis.connect_timeout`) for Redis; the gateway starts either way. */
  start(): Promise<void>;
  /** Closes the store and its connection. */
  close(): Promise<void>;
}

/**
 * The store `limits.store` names, built once at start: budgets outlive reloads, so a reload
 * that changes `limits.store` or `redis` applies at the next restart (runtime/snapshot.ts).
 */
export function openLimitStore(settings: LimitStoreSettings): OpenedLimitStore {
  const local = new MemoryLimitStore(settings.clock ? { clock: settings.clock } : {});
  if (settings.store.kind === 'memory')
    return { store: local, start: () => Promise.resolve(), close: () => local.close() };
  const own = settings.connection === undefined;
  // Without `redis.url`, `redis.sentinel` or `redis.cluster` this throws; the config loader refuses that first.
  const redis: RedisClient = settings.connection?.client() ?? createRedisClient(settings.redis);
  const store = new FallbackLimitStore({
    shared: new RedisLimitStore(redis, {
      keyPrefix: settings.redis.key_prefix,
      commandTimeoutMs: settings.redis.command_timeout,
    }),
    local,
    mode: settings.store.on_unavailable,
    ...(settings.onSignal ? { onSignal: settings.onSignal } : {}),
  });
  return {
    store,
    start: () => store.start(settings.redis.connect_timeout),
    async close() {
      await store.close();
      if (own) redis.disconnect();
    },
  };
}
