import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { RedisLimitStore, keysOf } from '../../src/policies/limits/stores/redis.ts';
import { createRedisClient } from '../../src/runtime/redis.ts';
import { limitStoreContract } from '../helpers/limit-store-contract.ts';
import {
  REDIS_URL,
  deleteKeys,
  redisSettings,
  testClient,
  uniquePrefix,
} from '../helpers/redis.ts';

/**
 * A store on the machine's Redis under a prefix of its own, connected (a test needing Redis
 * fails when it does not answer), and a way to remove its keys.
 */
async function openStore(prefix: string) {
  const redis = createRedisClient({
    ...redisSettings(REDIS_URL, prefix, { command_timeout: 2_000 }),
    url: REDIS_URL,
  });
  const store = new RedisLimitStore(redis, { keyPrefix: prefix, commandTimeoutMs: 2_000 });
  if (!(await store.ready(2_000))) {
    redis.disconnect();
    assert.fail(`Redis does not answer at ${REDIS_URL}`);
  }
  return {
    store,
    redis,
    async close() {
      try {
        await deleteKeys(redis, prefix);
      } finally {
        redis.disconnect();
      }
    },
  };
}

describe('redis limit store', () => {
  limitStoreContract(async () => {
    const opened = await openStore(uniquePrefix('contract'));
    return {
      store: opened.store,
      // Redis's clock decides: time passes for it only by waiting.
      advance: (ms) => sleep(ms),
      identity: (name) => name,
      close: () => opened.close(),
    };
  });

  test('keys hold the identity as a hash tag, braces escaped, and expire with the window', async () => {
    const prefix = uniquePrefix('layout');
    const opened = await openStore(prefix);
    try {
      const identity = 'sub:a}b{c';
      const charge = { policy: 'requests', cost: 2, budget: { limit: 5, windowMs: 60_000 } };
      await opened.store.take(identity, [charge]);
      const [log, sum] = keysOf(prefix, identity, 'requests');
      assert.equal(log, `${prefix}{sub:a%7Db%7Bc}:log:requests`);
      assert.equal(await opened.redis.get(sum), '2');
      assert.equal(await opened.redis.zcard(log), 1);
      const ttl = await opened.redis.pttl(log);
      assert.ok(ttl > 55_000 && ttl <= 60_000, `${ttl}`);
      // Another identity that the unescaped braces would have mixed up stays apart.
      const other = await opened.store.take('sub:a', [{ ...charge, policy: 'x}:requests' }]);
      assert.equal(other.states[0]!.remaining, 3);
    } finally {
      await opened.close();
    }
  });

  test('a budget holds at most one slot per 1/1000 of its window, whatever its limit', async () => {
    const prefix = uniquePrefix('slots');
    const opened = await openStore(prefix);
    try {
      // 2,000 admissions in a 30 s window: one slot per 30 ms at most, however fast they come.
      const charge = { policy: 'quota', cost: 1, budget: { limit: 1_000_000, windowMs: 30_000 } };
      const started = Date.now();
      let last;
      for (let i = 0; i < 2_000; i++) last = await opened.store.take('busy', [charge]);
      const elapsed = Date.now() - started;
      const [log] = keysOf(prefix, 'busy', 'quota');
      const slots = await opened.redis.zcard(log);
      assert.ok(slots <= Math.ceil(elapsed / 30) + 1, `${slots} slots in ${elapsed} ms`);
      assert.ok(slots < 2_000, `${slots} slots`);
      assert.equal(last!.states[0]!.remaining, 1_000_000 - 2_000);
    } finally {
      await opened.close();
    }
  });

  test('three processes sharing one budget of L admit exactly L of 10L concurrent takes, run after run', async (t) => {
    const prefix = uniquePrefix('processes');
    const cleanup = testClient();
    const helper = fileURLToPath(new URL('../helpers/redis-taker.ts', import.meta.url));
    const loader = fileURLToPath(new URL('../../bin/typescript-loader.js', import.meta.url));
    const children: ChildProcess[] = [];
    t.after(async () => {
      for (const child of children) if (child.connected) child.send({ type: 'exit' });
      await Promise.all(
        children.map((child) => (child.exitCode === null ? once(child, 'exit') : undefined)),
      );
      await deleteKeys(cleanup, prefix);
      cleanup.disconnect();
    });
    for (let i = 0; i < 3; i++) {
      const child = fork(helper, [REDIS_URL, prefix], {
        execArgv: ['--import', loader],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      children.push(child);
    }
    const ready = await Promise.all(children.map((child) => once(child, 'message')));
    assert.deepEqual(
      ready.map(([m]) => m),
      children.map(() => ({ ready: true })),
    );
    const limit = 30;
    for (let run = 0; run < 3; run++) {
      // 10L takes: 100 in each of the three processes (300 = 10 × 30), all in flight at once.
      const answers = children.map((child) => once(child, 'message'));
      for (const child of children)
        child.send({
          type: 'take',
          identity: `run-${run}`,
          count: 100,
          limit,
          windowMs: 60_000,
        });
      const results = (await Promise.all(answers)).map(([m]) => m as { admitted: number });
      const admitted = results.reduce((sum, r) => sum + r.admitted, 0);
      assert.equal(admitted, limit, `run ${run}: ${JSON.stringify(results)}`);
    }
  });
});
