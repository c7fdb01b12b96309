import type { Cluster, Redis } from 'ioredis';

/** A connection to one Redis (direct or through Sentinel) or to a Redis Cluster. */
export type RedisClient = Redis | Cluster;

/**
 * Waiting on Redis without letting it hold a request: what every store that keeps shared state
 * there (rate budgets, persisted queries, the cache) uses to bound a command and a connection.
 */

/** Resolves true once `redis` is connected, false if not within `timeoutMs`; never rejects. */
export function whenReady(redis: RedisClient, timeoutMs: number): Promise<boolean> {
  if (redis.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (connected: boolean) => {
      clearTimeout(timer);
      redis.off('ready', onReady);
      resolve(connected);
    };
    const onReady = () => done(true);
    const timer = setTimeout(() => done(false), timeoutMs);
    redis.on('ready', onReady);
  });
}

/**
 * `reply`, or a rejection once `ms` have passed without it. A timer fires first in the event
 * loop's turn, before the sockets are read: on a loop busy for longer than `ms` (a process at
 * full CPU) a reply that arrived in time would lose to it, and every instance under load would
 * take Redis for down and fall back. So the timer only lets the sockets be read once
 * (`setImmediate` runs after the poll phase) and then judges: a reply already received wins.
 */
export function answerWithin<T>(reply: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(
      () =>
        setImmediate(() => {
          if (settled) return;
          settled = true;
          reject(new Error(`Redis did not answer within ${ms} ms`));
        }),
      ms,
    );
    reply.then(
      (value) => {
        clearTimeout(timer);
        if (settled) return;
        settled = true;
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        if (settled) return;
        settled = true;
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
