import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { RedisClusterConfig, RedisConfig, RedisSentinelConfig } from '../config/schema.ts';
import { whenReady, type RedisClient } from '../kernel/redis-reply.ts';

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
 *
 * With `redis.sentinel` the same holds, and a failover must move the connection to the new
 * master (see `sentinelOptions`); with `redis.cluster`, see `createClusterClient`.
 */
export function createRedisClient(config: RedisConfig): RedisClient {
  const common = {
    connectTimeout: config.connect_timeout,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    retryStrategy: reconnectDelay,
    reconnectOnError: reconnectOnReadonly,
  } satisfies RedisOptions;
  let redis: RedisClient;
  if (config.cluster) redis = createClusterClient(config.cluster, config);
  else if (config.sentinel)
    redis = new Redis({ ...common, ...sentinelOptions(config.sentinel, config) });
  else if (config.url !== undefined) redis = new Redis(config.url, common);
  // The config loader refuses a redis store without one (load.ts); a caller building settings
  // by hand meets it here.
  else throw new Error('a redis store needs redis.url, redis.sentinel or redis.cluster');
  // Connection errors are reported by the commands that fail (fallback.ts logs the transition);
  // without a listener, ioredis would print each reconnect attempt's error to the console.
  redis.on('error', () => {});
  return redis;
}

/**
 * A Redis Cluster client with the same rule. `enableOfflineQueue: false` at the cluster's level
 * too: until the slot map is read, and while it is lost, commands fail at once. Each node's
 * connection keeps `maxRetriesPerRequest: 0` and `autoResendUnfulfilledCommands: false`, and
 * `retryDelayOnFailover: 0` keeps the cluster from retrying in their place, so a command lost
 * with a node is not replayed; MOVED, ASK, TRYAGAIN and CLUSTERDOWN replies are followed or
 * retried by ioredis, which is safe: Redis ran nothing. `clusterRetryStrategy`
 * reconnects forever, as `retryStrategy` does for one server.
 *
 * `dnsLookup` passes names through unresolved: a TLS node is then reached by the name its
 * certificate carries (managed services' configuration endpoints), not by an address.
 */
function createClusterClient(cluster: RedisClusterConfig, config: RedisConfig): Cluster {
  return new Cluster(cluster.nodes.map(address), {
    enableOfflineQueue: false,
    // Not the default 100: ioredis would send a command again after its node's connection
    // closed under it, when Redis may have run it already (a budget spent twice).
    retryDelayOnFailover: 0,
    clusterRetryStrategy: reconnectDelay,
    slotsRefreshTimeout: config.connect_timeout,
    dnsLookup: (name, callback) => callback(null, name),
    redisOptions: {
      connectTimeout: config.connect_timeout,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      ...(cluster.username === undefined ? {} : { username: cluster.username }),
      ...(cluster.password === undefined ? {} : { password: cluster.password }),
      ...(cluster.tls ? { tls: {} } : {}),
    },
  });
}

/** `host:port` as ioredis takes it; `[::1]:6379`'s brackets belong to the URL form only. */
function address(node: string): { host: string; port: number } {
  const colon = node.lastIndexOf(':');
  return {
    host: node.slice(0, colon).replace(/^\[(.*)\]$/, '$1'),
    port: Number(node.slice(colon + 1)),
  };
}

/**
 * A READONLY reply means the server is a replica now (demoted by a failover while the
 * connection stayed open): every write would fail there, so the client reconnects, which through
 * Sentinel, or a managed service's primary endpoint whose name moved, reaches the new master.
 * 1, never 2: the failed command is not sent again, for the reason
 * `autoResendUnfulfilledCommands` is off.
 */
function reconnectOnReadonly(error: Error): 1 | false {
  return error.message.includes('READONLY') ? 1 : false;
}

/** 100 ms after the first failure, then at most every second, forever. */
function reconnectDelay(attempt: number): number {
  return Math.min(attempt * 100, 1_000);
}

/**
 * ioredis's Sentinel mode: it asks the sentinels for the master's address on every (re)connect
 * and checks the server's role before using it (a stale answer naming a replica is retried).
 * What it does not do by default, and a failover needs:
 *
 * - `sentinelRetryStrategy`: the default gives up on the sentinels for good once a round finds
 *   none answering; like the server, they are retried forever, at most every second;
 * - `failoverDetector`: a subscription to the sentinels' `+switch-master` drops the connection
 *   as soon as they promote a replica. Without it, a master demoted while still running (a
 *   manual `SENTINEL FAILOVER`, a partition healing) keeps the connection open and serves reads
 *   of a replica;
 * - `reconnectOnError` on READONLY (`reconnectOnReadonly`, set for every connection): a write
 *   that reaches a demoted master anyway (before the detector's message) reconnects, and so
 *   finds the new master.
 */
function sentinelOptions(sentinel: RedisSentinelConfig, config: RedisConfig): RedisOptions {
  const tls = sentinel.tls ? {} : undefined;
  return {
    name: sentinel.master,
    sentinels: sentinel.nodes.map(address),
    db: sentinel.db,
    ...(sentinel.username === undefined ? {} : { username: sentinel.username }),
    ...(sentinel.password === undefined ? {} : { password: sentinel.password }),
    ...(sentinel.sentinel_username === undefined
      ? {}
      : { sentinelUsername: sentinel.sentinel_username }),
    ...(sentinel.sentinel_password === undefined
      ? {}
      : { sentinelPassword: sentinel.sentinel_password }),
    ...(tls ? { tls, sentinelTLS: tls, enableTLSForSentinelMode: true } : {}),
    sentinelRetryStrategy: reconnectDelay,
    sentinelCommandTimeout: config.connect_timeout,
    failoverDetector: true,
  };
}

/**
 * The process's one connection to Redis, opened the first time a store asks for it (the limit
 * store, the APQ store) and closed once when the gateway stops: every shared store rides the
 * same socket, so an instance holds one connection per Redis whatever it keeps there.
 */
export class SharedRedis {
  readonly config: RedisConfig;
  #client: RedisClient | undefined;

  constructor(config: RedisConfig) {
    this.config = config;
  }

  /** The connection, opened now if no store asked before. */
  client(): RedisClient {
    return (this.#client ??= createRedisClient(this.config));
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
