import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { LimitStoreConfig } from '../../src/config/schema.ts';
import type { LimitStoreSignal } from '../../src/kernel/channels.ts';
import { ErrorCode, GatewayError } from '../../src/kernel/errors.ts';
import type { Charge } from '../../src/policies/limits/stores/store.ts';
import { openLimitStore, type OpenedLimitStore } from '../../src/runtime/limit-store.ts';
import { accounts } from '../fixtures/graphs/shop.ts';
import { get, post, startSubgraphs, startTestGateway, writeProject } from '../helpers/env.ts';
import { OwnRedis, redisSettings, uniquePrefix } from '../helpers/redis.ts';

const LIMIT = 5;
const COMMAND_TIMEOUT = 100;
const charge: Charge = { policy: 'requests', cost: 1, budget: { limit: LIMIT, windowMs: 60_000 } };

/** Decisions keep coming while Redis is away: each within the command timeout and some slack. */
const DECISION_BOUND_MS = COMMAND_TIMEOUT + 150;

/**
 * Redis stopped mid-test: a redis-server of the test's own, killed by its PID (never the
 * machine's server) and started again on the same port.
 */
describe('limit store when Redis goes away and comes back', () => {
  let redis: OwnRedis;
  before(async () => {
    redis = await OwnRedis.start();
  });
  after(() => redis.kill());

  /** A store over the test's server (running unless `stopped`), closed when the test ends. */
  async function open(t: TestContext, mode: 'local' | 'allow' | 'refuse', stopped = false) {
    await (stopped ? redis.kill() : redis.restart());
    const signals: LimitStoreSignal[] = [];
    const opened: OpenedLimitStore = openLimitStore({
      store: LimitStoreConfig.parse({ kind: 'redis', on_unavailable: mode }),
      redis: redisSettings(redis.url, uniquePrefix(mode), { command_timeout: COMMAND_TIMEOUT }),
      onSignal: (signal) => signals.push(signal),
    });
    await opened.start();
    t.after(() => opened.close());
    return { ...opened, signals };
  }

  /** `take` timed: it must answer (or refuse with a typed error) within the bound. */
  async function timedTake(opened: OpenedLimitStore, identity: string) {
    const started = performance.now();
    const decision = await opened.store.take(identity, [charge]);
    const ms = performance.now() - started;
    assert.ok(ms < DECISION_BOUND_MS, `a decision took ${ms.toFixed(0)} ms`);
    return decision;
  }

  test('local: decisions go on within the command timeout, one instance admits at most the limit, and sharing resumes after a restart', async (t) => {
    const opened = await open(t, 'local');
    assert.deepEqual(opened.signals[0], {
      type: 'up',
      store: 'redis',
      initial: true,
      fallback: 'local',
    });
    // Two units spent in Redis before it goes.
    for (let i = 0; i < 2; i++) assert.equal((await timedTake(opened, 'a')).admitted, true);
    await redis.kill();
    // 3L decisions, sequential and concurrent: none throws, none waits past the bound, and
    // the local limiter (empty when Redis went) admits exactly L: N instances, N × L at most.
    let admitted = 0;
    for (let i = 0; i < LIMIT; i++) if ((await timedTake(opened, 'a')).admitted) admitted++;
    const burst = await Promise.all(
      Array.from({ length: 2 * LIMIT }, () => timedTake(opened, 'a')),
    );
    admitted += burst.filter((d) => d.admitted).length;
    assert.equal(admitted, LIMIT);
    const down = opened.signals.filter((s) => s.type === 'down');
    assert.equal(down.length, 1, 'one transition, not one per decision');
    assert.ok(opened.signals.filter((s) => s.type === 'fallback').length >= 3 * LIMIT);

    // Redis back (empty: it saves nothing): shared decisions resume without a restart.
    await redis.restart();
    const back = performance.now();
    while (!opened.signals.some((s) => s.type === 'up' && !s.initial)) {
      assert.ok(performance.now() - back < 5_000, 'shared decisions did not resume in 5 s');
      await opened.store.take('b', [charge]);
      await sleep(50);
    }
    // The budget in Redis again: `c` spends from the empty server, L then refused.
    const shared = await Promise.all(
      Array.from({ length: 2 * LIMIT }, () => opened.store.take('c', [charge])),
    );
    assert.equal(shared.filter((d) => d.admitted).length, LIMIT);
    assert.equal(opened.signals.filter((s) => s.type === 'up' && !s.initial).length, 1);
  });

  test('refuse: while Redis is away each decision is a typed 503, fast', async (t) => {
    const opened = await open(t, 'refuse');
    await redis.kill();
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      await assert.rejects(opened.store.take('a', [charge]), (error: unknown) => {
        assert.ok(error instanceof GatewayError);
        assert.equal(error.code, ErrorCode.RATE_LIMIT_UNAVAILABLE);
        assert.equal(error.status, 503);
        return true;
      });
      assert.ok(performance.now() - started < DECISION_BOUND_MS);
    }
  });

  test('allow: while Redis is away everything is admitted, the budget reported whole', async (t) => {
    const opened = await open(t, 'allow');
    await redis.kill();
    const decisions = await Promise.all(
      Array.from({ length: 3 * LIMIT }, () => timedTake(opened, 'a')),
    );
    assert.ok(decisions.every((d) => d.admitted && d.states[0]!.remaining === LIMIT));
  });

  test('a store that cannot reach Redis at start starts down and decides with the fallback', async (t) => {
    const opened = await open(t, 'local', true);
    assert.equal(opened.signals[0]?.type, 'down');
    assert.equal(opened.signals[0]?.initial, true);
    assert.equal((await timedTake(opened, 'a')).admitted, true);
  });
});

/**
 * The gateway with `limits.store.kind: redis`: a stage of the test's own spends one unit per
 * request from `ctx.snapshot.limitStore` (the rate-limit stage of another branch will), so the
 * answers show which store decided; the log and /metrics show the transitions.
 */
describe('gateway with a Redis limit store', () => {
  test('answers normally, falls back when Redis dies, says so once, and shares again when it returns', async (t) => {
    const redis = await OwnRedis.start();
    t.after(() => redis.kill());
    const subgraphs = await startSubgraphs([accounts]);
    t.after(() => subgraphs.close());
    const [subgraph] = subgraphs.servers;
    const project = await writeProject(
      [{ name: 'accounts', url: subgraph!.url, sdl: accounts.sdl }],
      {
        limits: {
          store: { kind: 'redis' },
          rate: { policies: [{ name: 'requests', limit: LIMIT, window: '60s' }] },
        },
        redis: {
          url: '${TEST_REDIS_URL}',
          key_prefix: uniquePrefix('gateway'),
          command_timeout: `${COMMAND_TIMEOUT}ms`,
        },
      },
    );
    t.after(() => project.remove());
    // The URL with a password the server does not ask for: it must appear in no log line.
    const url = redis.url.replace('redis://', 'redis://:s3cret-pass@');
    const gateway = await startTestGateway({
      configFile: project.configFile,
      env: { TEST_REDIS_URL: url },
    });
    t.after(() => gateway.close());
    const query = { query: '{ me { id } }' };
    const metric = async (name: string) => {
      const body = (await get(`${gateway.adminOrigin}/metrics`)).text;
      const line = body.split('\n').find((l) => l.startsWith(`${name}{store="redis"}`));
      return line === undefined ? undefined : Number(line.split(' ').pop());
    };

    await gateway.logs.find((l) => l.msg === 'limit store connected');
    const first = await post(gateway.url, query);
    assert.equal(first.status, 200, first.text);
    assert.match(String(first.headers.ratelimit ?? ''), /"requests";r=4;t=60/);
    assert.equal(await metric('gateway_limit_store_up'), 1);

    await redis.kill();
    // The first spent unit was Redis's; the local limiter starts empty and admits L.
    const during = [];
    for (let i = 0; i < LIMIT + 2; i++) during.push((await post(gateway.url, query)).status);
    assert.deepEqual(during, [...Array(LIMIT).fill(200), 429, 429]);
    const unavailable = (l: Record<string, unknown>) =>
      l.level === 40 && String(l.msg).startsWith('limit store unavailable');
    const warned = await gateway.logs.find(unavailable);
    assert.equal(warned.fallback, 'local');
    assert.equal(gateway.logs.lines.filter(unavailable).length, 1, 'one line per transition');
    assert.equal(await metric('gateway_limit_store_up'), 0);
    assert.ok((await metric('gateway_limit_store_fallbacks_total'))! >= LIMIT + 2);

    await redis.restart();
    const back = performance.now();
    while (
      !gateway.logs.lines.some((l) => l.msg === 'limit store available again: rate limits shared')
    ) {
      assert.ok(performance.now() - back < 5_000, 'shared decisions did not resume in 5 s');
      await post(gateway.url, query);
      await sleep(50);
    }
    assert.equal(await metric('gateway_limit_store_up'), 1);
    assert.doesNotMatch(gateway.logs.text(), /s3cret-pass/);
  });
});
