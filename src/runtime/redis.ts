import { Redis } from 'ioredis';
import type { RedisConfig } from '../config/schema.ts';

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
