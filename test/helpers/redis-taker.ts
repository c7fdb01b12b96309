/**
 * A child process with a RedisLimitStore of its own (test/integration/redis-limit-store.test.ts
 * forks three): it connects, says `ready`, and on each `take` message spends `count` concurrent
 * takes of one budget and answers how many were admitted. It runs what the gateway runs
 * (runtime/redis.ts's client, the store), so the test measures exactness across processes.
 */
import { createRedisClient } from '../../src/runtime/redis.ts';
import { RedisLimitStore } from '../../src/policies/limits/stores/redis.ts';
import { redisSettings } from './redis.ts';

interface TakeOrder {
  type: 'take';
  identity: string;
  count: number;
  limit: number;
  windowMs: number;
}

const [url = '', prefix = ''] = process.argv.slice(2);
// A generous command timeout: the test measures exactness, not the fallback.
const redis = createRedisClient({ ...redisSettings(url, prefix, { command_timeout: 5_000 }), url });
const store = new RedisLimitStore(redis, { keyPrefix: prefix, commandTimeoutMs: 5_000 });

process.on('message', (message: TakeOrder | { type: 'exit' }) => {
  if (message.type === 'exit') {
    redis.disconnect();
    process.disconnect();
    return;
  }
  const { identity, count, limit, windowMs } = message;
  const charge = { policy: 'requests', cost: 1, budget: { limit, windowMs } };
  void Promise.all(Array.from({ length: count }, () => store.take(identity, [charge]))).then(
    (decisions) => process.send?.({ admitted: decisions.filter((d) => d.admitted).length }),
    (error: Error) => process.send?.({ error: error.message }),
  );
});

void store.ready(5_000).then((connected) => process.send?.({ ready: connected }));
