import { Redis } from 'ioredis';
import type { RedisConfig } from '../config/schema.ts';
import { whenReady } from '../kernel/redis-reply.ts';

/**
 * The gateway's connection to Redis (`redis`), made once at start and shared by what keeps
 * state there. Its settings serve one rule: a request never waits on Redis for long.
 *
 * - `enableOfflineQueue: false`: while disconnected a command fails at once instead of queueing
 *   until a reconnect, so the caller's fallback decides now;
 * - no `commandTimeout`: a Redis that accepts the connection but does not answer (overloaded,
 *   paused, a network partition) is bounded by each caller's `command_timeout` instead
 *   (`answerWithin` in policies/limits/stores/redis.ts), which a busy event loop cannot trip;
 * - `maxRetriesPerRequest: 0`, `autoResendUnfulfilledCommands: false`: a command lost with its
 *   connection is not sent again after the reconnect; its caller has decided without it, and
 *   a late replay would spend a budget twice;
 * - `retryStrategy`: reconnect forever, 100 ms after the first failure and then at most every
 *   second, so shared state resumes within about a second of Redis coming back.
 */
export function createRedisClient(config: RedisConfig & { url: string }): Redis {
  const redis = new Redis(config.url, {
    connectTimeout: config.connect_timeout,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    retryStrategy: (attempt) => Math.min(attempt * 100, 1_000),
  });
  // Connection errors are reported by the commands that fail (fallback.ts logs the transition);
  // without a listener, ioredis would print each reconnect attempt's error to the console.
  redis.on('error', () => {});
  return redis;
}

/**
 * The process's one connection to Redis, opened the first time a store asks for it (the limit
 * store, the APQ store) and closed once when the gateway stops: every shared store rides the
 * same socket, so an instance holds one connection per Redis whatever it keeps there.
 */
export class SharedRedis {
  readonly config: RedisConfig;
  #client: Redis | undefined;

  constructor(config: RedisConfig) {
    this.config = config;
  }

  /** The connection, opened now if no store asked before. */
  client(): Redis {
    if (this.#client) return this.#client;
    const url = this.config.url;
    // The config loader refuses a redis store without it (load.ts); a caller building settings
    // by hand meets it here.
    if (url === undefined) throw new Error('a redis store needs redis.url');
    return (this.#client = createRedisClient({ ...this.config, url }));
  }

  /** Resolves true once connected, false if not within `timeoutMs`; never rejects. */
  ready(timeoutMs: number): Promise<boolean> {
    return whenReady(this.client(), timeoutMs);
  }

  close(): void {
    this.#client?.disconnect();
    this.#client = undefined;
  }
}
