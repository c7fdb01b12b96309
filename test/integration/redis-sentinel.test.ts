import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { accounts } from '../fixtures/graphs/shop.ts';
import {
  get,
  post,
  startSubgraphs,
  startTestGateway,
  writeProject,
  type TestGateway,
} from '../helpers/env.ts';
import { whenReady } from '../../src/kernel/redis-reply.ts';
import { createRedisClient } from '../../src/runtime/redis.ts';
import { OwnRedis, OwnSentinel, redisSettings, uniquePrefix } from '../helpers/redis.ts';

const LIMIT = 5;
const MASTER = 'main';
const PASSWORD = 'master-s3cret';
const SENTINEL_PASSWORD = 'sentinel-s3cret';
/** How long the gateway may take to decide through the new master after a failover. */
const SWITCH_BOUND_MS = 8_000;

/** Polls `check` every 100 ms until it holds; fails naming `what` after `ms`. */
async function until(what: string, ms: number, check: () => Promise<boolean>): Promise<number> {
  const started = performance.now();
  while (!(await check())) {
    assert.ok(performance.now() - started < ms, `${what} did not happen within ${ms} ms`);
    await sleep(100);
  }
  return performance.now() - started;
}

/** A test's own client of one server (or sentinel), with its password. */
function client(port: number, password?: string): Redis {
  const redis = new Redis({
    port,
    host: '127.0.0.1',
    ...(password ? { password } : {}),
    maxRetriesPerRequest: 1,
  });
  redis.on('error', () => {});
  return redis;
}

async function role(redis: Redis): Promise<string> {
  const info = await redis.info('replication');
  return /role:(\w+)/.exec(info)?.[1] ?? 'unknown';
}

/**
 * Real servers: a master with a password, a replica of it, and one sentinel (with a password of
 * its own) watching them, all on loopback ports of this test. Two gateways configured with
 * `redis.sentinel` share rate budgets through whichever server the sentinel names master, and
 * follow it through a manual failover (the old master demoted while still running) and a crash
 * of the master (found by the sentinel after its down-after of 1 s).
 */
test('two gateways configured with redis.sentinel share budgets, and follow the master through a failover and a crash', async (t) => {
  const auth = ['--requirepass', PASSWORD, '--masterauth', PASSWORD];
  const first = await OwnRedis.start(auth);
  t.after(() => first.kill());
  const second = await OwnRedis.start([...auth, '--replicaof', '127.0.0.1', String(first.port)]);
  t.after(() => second.kill());
  const sentinel = await OwnSentinel.start({
    name: MASTER,
    master: first,
    masterPassword: PASSWORD,
    password: SENTINEL_PASSWORD,
  });
  t.after(() => sentinel.kill());
  const servers = new Map([
    [first.port, client(first.port, PASSWORD)],
    [second.port, client(second.port, PASSWORD)],
  ]);
  const sentinelClient = client(sentinel.port, SENTINEL_PASSWORD);
  t.after(() => {
    for (const redis of [...servers.values(), sentinelClient]) redis.disconnect();
  });
  /** The port the sentinel names master now. */
  const masterPort = async () => {
    const reply = (await sentinelClient.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', MASTER)) as [
      string,
      string,
    ];
    return Number(reply[1]);
  };
  /** Whether the sentinel knows `replica` as a healthy replica it could promote. */
  const promotable = (replica: OwnRedis) => async () => {
    const replicas = (await sentinelClient.call('SENTINEL', 'REPLICAS', MASTER)) as string[][];
    return replicas.some((fields) => {
      const at = (name: string) => fields[fields.indexOf(name) + 1];
      return (
        at('port') === String(replica.port) &&
        at('flags') === 'slave' &&
        at('master-link-status') === 'ok'
      );
    });
  };

  const subgraphs = await startSubgraphs([accounts]);
  t.after(() => subgraphs.close());
  const prefix = uniquePrefix('sentinel');
  const project = await writeProject(
    [{ name: 'accounts', url: subgraphs.servers[0]!.url, sdl: accounts.sdl }],
    {
      // Callers named by X-Forwarded-For from loopback, so each phase has a budget of its own.
      server: { trusted_proxies: ['127.0.0.1', '::1'] },
      limits: {
        store: { kind: 'redis', on_unavailable: 'local' },
        rate: { policies: [{ name: 'requests', limit: LIMIT, window: '60s' }] },
      },
      redis: {
        sentinel: {
          master: MASTER,
          nodes: [sentinel.address],
          password: '${TEST_REDIS_PASSWORD}',
          sentinel_password: '${TEST_SENTINEL_PASSWORD}',
        },
        key_prefix: prefix,
        // Generous: this measures sharing and failover, not a slow Redis on a loaded machine.
        command_timeout: '1s',
      },
      traffic: { dedup: { enabled: false } },
    },
  );
  t.after(() => project.remove());
  const env = { TEST_REDIS_PASSWORD: PASSWORD, TEST_SENTINEL_PASSWORD: SENTINEL_PASSWORD };
  const gateways: TestGateway[] = [];
  for (let i = 0; i < 2; i++) {
    const gateway = await startTestGateway({ configFile: project.configFile, env });
    t.after(() => gateway.close());
    gateways.push(gateway);
  }
  for (const gateway of gateways) await gateway.logs.find((l) => l.msg === 'limit store connected');

  const query = { query: '{ me { id } }' };
  let callers = 0;
  /** 2L requests of a new caller, alternating between the gateways; the statuses in order. */
  const spend = async () => {
    const caller = { 'x-forwarded-for': `198.51.100.${++callers}` };
    const statuses: number[] = [];
    for (let i = 0; i < 2 * LIMIT; i++)
      statuses.push((await post(gateways[i % 2]!.url, query, caller)).status);
    return statuses;
  };
  const sharedExactly = async (when: string) => {
    // One budget for both: L admitted in all, not L per gateway (what the local fallback gives).
    assert.deepEqual(
      await spend(),
      [...Array(LIMIT).fill(200), ...Array(LIMIT).fill(429)],
      `${when}: the budget is shared`,
    );
  };
  const storeUp = async (gateway: TestGateway) => {
    const body = (await get(`${gateway.adminOrigin}/metrics`)).text;
    const line = body
      .split('\n')
      .find((l) => l.startsWith('gateway_limit_store_up{store="redis"}'));
    return line?.endsWith(' 1') ?? false;
  };
  /** Whether the caller's budget keys are in the server on `port` (the decision landed there). */
  const decidedOn = async (port: number, caller: number) => {
    const keys = await servers.get(port)!.keys(`${prefix}*198.51.100.${caller}*`);
    return keys.length > 0;
  };

  // (a) Sharing through the master the sentinel names.
  assert.equal(await masterPort(), first.port);
  await sharedExactly('through the first master');
  assert.ok(await decidedOn(first.port, callers), 'the budget is kept in the master');

  // (b) A manual failover: the replica is promoted, the old master demoted while still up.
  await until('the sentinel sees the replica', 10_000, promotable(second));
  await sentinelClient.call('SENTINEL', 'FAILOVER', MASTER);
  const switched = await until(
    'the gateways decide through the new master',
    SWITCH_BOUND_MS,
    async () => {
      // Every request is answered (the fallback covers the switch), and once one lands on the
      // promoted server, the gateway follows the new master.
      const statuses = await spend();
      assert.ok(
        statuses.every((s) => s === 200 || s === 429),
        `statuses ${statuses}`,
      );
      return (await masterPort()) === second.port && (await decidedOn(second.port, callers));
    },
  );
  t.diagnostic(
    `after SENTINEL FAILOVER, decided through the new master within ${switched.toFixed(0)} ms`,
  );
  assert.equal(await role(servers.get(second.port)!), 'master');
  await until('both gateways report the store up', SWITCH_BOUND_MS, async () => {
    // A store that fell back finds Redis again on a request (one at a time tries it), not on a
    // timer: a gateway that got no request since the switch still reports down until one comes.
    await spend();
    return (await Promise.all(gateways.map(storeUp))).every(Boolean);
  });
  await sharedExactly('after the failover');

  // (c) The new master crashes: the sentinel promotes the old one (a replica again by now).
  // The sentinel makes the old master, still running as a master, a replica of the new one by
  // itself, but only once it has reported so for 8 s (SENTINEL_PUBLISH_PERIOD * 4 in Redis's
  // sentinel.c); the test sends the same REPLICAOF at once.
  await servers.get(first.port)!.replicaof('127.0.0.1', second.port);
  await until('the demoted master is a promotable replica', 10_000, promotable(first));
  await second.kill();
  const crashed = await until(
    'the gateways decide through the promoted replica',
    15_000,
    async () => {
      const statuses = await spend();
      assert.ok(
        statuses.every((s) => s === 200 || s === 429),
        `statuses ${statuses}`,
      );
      return (await masterPort()) === first.port && (await decidedOn(first.port, callers));
    },
  );
  t.diagnostic(
    `after the master's crash, decided through the promoted replica within ${crashed.toFixed(0)} ms`,
  );
  await until('both gateways report the store up', SWITCH_BOUND_MS, async () => {
    // A store that fell back finds Redis again on a request (one at a time tries it), not on a
    // timer: a gateway that got no request since the switch still reports down until one comes.
    await spend();
    return (await Promise.all(gateways.map(storeUp))).every(Boolean);
  });
  await sharedExactly('after the crash');

  for (const gateway of gateways) {
    assert.doesNotMatch(gateway.logs.text(), new RegExp(`${PASSWORD}|${SENTINEL_PASSWORD}`));
  }
});

/**
 * A managed service's failover without Sentinel: its primary endpoint's name moves to the new
 * master, while the old one, demoted, may keep the gateway's connection open. A READONLY reply
 * there must make the client reconnect (which resolves the name again), not fail every write
 * until the connection happens to drop.
 */
test('with redis.url, a READONLY reply from a demoted server makes the connection reconnect', async (t) => {
  const server = await OwnRedis.start();
  t.after(() => server.kill());
  const other = await OwnRedis.start();
  t.after(() => other.kill());
  const prefix = uniquePrefix('readonly');
  const redis = createRedisClient(redisSettings(server.url, prefix));
  t.after(() => redis.disconnect());
  assert.equal(await whenReady(redis, 2_000), true);
  assert.equal(await redis.set(`${prefix}k`, '1'), 'OK');

  const admin = client(server.port);
  t.after(() => admin.disconnect());
  await admin.replicaof('127.0.0.1', other.port);
  const reconnecting = once(redis, 'reconnecting');
  await assert.rejects(redis.set(`${prefix}k`, '2'), /READONLY/);
  await reconnecting;
  // Back to a master (as the name now pointing at the new one would be): writes go through.
  await admin.replicaof('NO', 'ONE');
  await until(
    'the reconnected client writes',
    5_000,
    async () => (await redis.set(`${prefix}k`, '3').catch(() => undefined)) === 'OK',
  );
});
