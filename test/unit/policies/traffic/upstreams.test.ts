import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Upstreams } from '../../../../src/policies/traffic/upstream-registry.ts';
import type { UpstreamEvent } from '../../../../src/policies/traffic/upstreams.ts';
import { upstreamSpec } from '../../../helpers/upstreams.ts';

/**
 * The upstream registry and its rules without a network: balancing, Envoy's outlier detection
 * (consecutive and failure-rate ejection, the multiplier, the max share), the retry budget,
 * health verdicts, DNS resolution. Time is a clock the test moves.
 */

const KEY = 'http://backend.internal:4001';
const THREE = ['10.0.0.1:4001', '10.0.0.2:4001', '10.0.0.3:4001'];

function registry(
  own: Parameters<typeof upstreamSpec>[1] = {},
  resolve?: (name: string) => Promise<string[]>,
) {
  const clock = { ms: 1_000 };
  const events: UpstreamEvent[] = [];
  const upstreams = new Upstreams({
    clock: { now: () => clock.ms },
    onEvent: (e) => events.push(e),
    ...(resolve ? { resolve } : {}),
  });
  upstreams.follow([upstreamSpec(KEY, { name: 'backend', instances: THREE, ...own })]);
  const upstream = upstreams.of(KEY)!;
  const byAddress = (address: string) => upstream.instances.find((i) => i.address === address)!;
  /** One attempt to `address` that ends as `failed` says. */
  const call = (address: string, failed: boolean) => upstream.settle(byAddress(address), failed);
  const ejections = () =>
    events.filter((e) => e.type === 'instance' && e.state === 'ejected') as Extract<
      UpstreamEvent,
      { type: 'instance' }
    >[];
  return { upstreams, upstream, clock, events, byAddress, call, ejections };
}

describe('balancing', () => {
  test('round robin takes the instances in turn and passes over an ejected one', () => {
    const { upstream, byAddress } = registry();
    const picks = Array.from({ length: 6 }, () => upstream.pick().address);
    assert.deepEqual(
      THREE.map((a) => picks.filter((p) => p === a).length),
      [2, 2, 2],
    );
    byAddress(THREE[1]!).ejected = true;
    byAddress(THREE[1]!).ejectedUntil = Infinity;
    const after = Array.from({ length: 6 }, () => upstream.pick().address);
    assert.ok(!after.includes(THREE[1]!));
    assert.equal(after.filter((p) => p === THREE[0]).length, 3);
  });

  test('least_loaded takes the less loaded of two, so a busy instance gets no new call', () => {
    const { upstream, byAddress } = registry({ balance: 'least_loaded' });
    byAddress(THREE[0]!).inFlight = 50;
    const picks = Array.from({ length: 300 }, () => upstream.pick().address);
    // Whenever the busy one is drawn, its partner is less loaded and wins.
    assert.equal(picks.filter((p) => p === THREE[0]).length, 0);
    assert.ok(picks.filter((p) => p === THREE[1]).length > 50);
    assert.ok(picks.filter((p) => p === THREE[2]).length > 50);
  });

  test('a retry avoids the instance it comes from where another will do', () => {
    const { upstream, byAddress } = registry();
    for (let i = 0; i < 10; i++) {
      const last = byAddress(THREE[i % 3]!);
      assert.notEqual(upstream.pick(last), last);
    }
  });
});

describe('outlier detection', () => {
  test('consecutive failures eject, for base_ejection_time × times ejected', () => {
    const { upstream, clock, call, byAddress, ejections } = registry({
      outlier: { consecutive_failures: 3, base_ejection_time: 10_000 },
    });
    const a = THREE[0]!;
    call(a, true);
    call(a, true);
    call(a, false); // a success resets the run
    call(a, true);
    call(a, true);
    assert.equal(byAddress(a).state, 'healthy');
    call(a, true);
    assert.equal(byAddress(a).state, 'ejected');
    assert.equal(ejections()[0]?.forMs, 10_000);
    assert.equal(ejections()[0]?.reason, 'consecutive_failures');

    clock.ms += 9_999;
    assert.equal(upstream.available(byAddress(a)), false);
    clock.ms += 1;
    assert.equal(upstream.available(byAddress(a)), true, 're-admitted at its time');
    for (let i = 0; i < 3; i++) call(a, true);
    assert.equal(ejections()[1]?.forMs, 20_000, 'the second ejection lasts twice as long');
  });

  test('quiet intervals after a re-admission take the multiplier back down', () => {
    const { upstream, clock, call, byAddress, ejections } = registry({
      outlier: { consecutive_failures: 1, base_ejection_time: 1_000 },
    });
    const a = THREE[0]!;
    call(a, true);
    clock.ms += 1_000;
    upstream.available(byAddress(a));
    call(a, true);
    assert.equal(ejections()[1]?.forMs, 2_000);
    clock.ms += 2_000;
    upstream.available(byAddress(a));
    clock.ms += 30_000; // three failure-rate intervals of 10 s without trouble
    call(a, true);
    assert.equal(ejections()[2]?.forMs, 1_000);
  });

  test('a failure rate over the threshold ejects once the minimum of calls is reached', () => {
    const { call, byAddress, ejections } = registry({
      outlier: {
        consecutive_failures: 100,
        failure_rate: { threshold: 50, minimum_calls: 20, interval: 10_000 },
      },
    });
    const a = THREE[0]!;
    for (let i = 0; i < 18; i++) call(a, i % 2 === 0);
    assert.equal(byAddress(a).state, 'healthy', '9 of 18: under the minimum of calls');
    call(a, false);
    call(a, true); // 10 of 20
    assert.equal(byAddress(a).state, 'ejected');
    assert.equal(ejections()[0]?.reason, 'failure_rate');
  });

  test('a failure rate under the threshold, or spread over windows, ejects nothing', () => {
    const { clock, call, byAddress } = registry({
      outlier: { consecutive_failures: 100 },
    });
    const a = THREE[0]!;
    for (let i = 0; i < 40; i++) call(a, i % 3 === 0); // 14 of 40: 35%
    assert.equal(byAddress(a).state, 'healthy');
    for (let round = 0; round < 5; round++) {
      clock.ms += 10_000;
      for (let i = 0; i < 10; i++) call(a, true); // 10 a window: under minimum_calls
    }
    assert.equal(byAddress(a).state, 'healthy');
  });

  test('never more than max_ejection_percent out; a lone instance only at 100 (a breaker)', () => {
    const { call, byAddress } = registry({
      instances: THREE.slice(0, 2),
      outlier: { consecutive_failures: 1 },
    });
    call(THREE[0]!, true);
    assert.equal(byAddress(THREE[0]!).state, 'ejected', '1 of 2 is 50%');
    call(THREE[1]!, true);
    assert.equal(byAddress(THREE[1]!).state, 'healthy', '2 of 2 would be over 50%');

    const single = registry({ instances: [THREE[0]!], outlier: { consecutive_failures: 1 } });
    single.call(THREE[0]!, true);
    assert.equal(single.byAddress(THREE[0]!).state, 'healthy', 'ejecting it would be an outage');

    const breaker = registry({
      instances: [THREE[0]!],
      outlier: { consecutive_failures: 1, max_ejection_percent: 100 },
    });
    breaker.call(THREE[0]!, true);
    assert.equal(breaker.byAddress(THREE[0]!).state, 'ejected');
    assert.equal(breaker.upstreams.refuses(KEY), true, 'no instance left: the backend refuses');
  });

  test('off, nothing is ejected', () => {
    const { call, byAddress } = registry({ outlier: { enabled: false } });
    for (let i = 0; i < 50; i++) call(THREE[0]!, true);
    assert.equal(byAddress(THREE[0]!).state, 'healthy');
  });
});

test('a health check passed after an ejection re-admits the instance before its time', () => {
  const clock = { ms: 1_000 };
  let lastPass = 0;
  const upstreams = new Upstreams({
    clock: { now: () => clock.ms },
    // The checker's record of each instance, as health-check.ts keeps it (wall-clock times).
    health: {
      set: () => {},
      describe: () => ({ healthy: true, lastCheckAt: lastPass, consecutive: 1 }),
      close: () => {},
    },
  });
  upstreams.follow([
    upstreamSpec(KEY, {
      instances: THREE,
      outlier: { consecutive_failures: 1, base_ejection_time: 60_000 },
      healthCheck: {
        path: '/health',
        service: '',
        interval: 1_000,
        timeout: 100,
        healthy_threshold: 1,
        unhealthy_threshold: 1,
      },
    }),
  ]);
  const upstream = upstreams.of(KEY)!;
  const a = upstream.instances[0]!;
  lastPass = Date.now() - 1; // a pass from before the ejection re-admits nothing
  upstream.settle(a, true);
  assert.equal(upstream.available(a), false);
  lastPass = Date.now() + 1;
  assert.equal(upstream.available(a), true, 're-admitted by the pass, 59 s early');
  upstreams.close();
});

describe('the retry budget', () => {
  test('retries in flight stay under budget_percent of attempts in flight, or the minimum', () => {
    const { upstream } = registry({ retries: { budget_percent: 20, min_retry_concurrency: 3 } });
    upstream.inFlight = 5;
    const granted = Array.from({ length: 10 }, () => upstream.claimRetry()).filter(Boolean);
    assert.equal(granted.length, 3, 'max(3, 20% of 5)');
    upstream.inFlight = 50;
    const more = Array.from({ length: 20 }, () => upstream.claimRetry()).filter(Boolean);
    assert.equal(granted.length + more.length, 10, '20% of 50');
    upstream.releaseRetry();
    assert.equal(upstream.claimRetry(), true, 'a released slot is free again');
  });
});

describe('health and records across configs', () => {
  test('an instance failing its health checks takes no calls; all of them down refuses', () => {
    const { upstreams, upstream, events } = registry();
    upstreams.markHealth(KEY, THREE[0]!, false);
    assert.ok(!Array.from({ length: 6 }, () => upstream.pick().address).includes(THREE[0]!));
    assert.ok(events.some((e) => e.type === 'instance' && e.reason === 'health_check'));
    upstreams.markHealth(KEY, THREE[1]!, false);
    upstreams.markHealth(KEY, THREE[2]!, false);
    assert.equal(upstreams.refuses(KEY), true);
    upstreams.markHealth(KEY, THREE[2]!, true);
    assert.equal(upstreams.refuses(KEY), false);
  });

  test('a new config keeps the records of the instances it still names', () => {
    const { upstreams, call, byAddress, events } = registry({
      outlier: { consecutive_failures: 1 },
    });
    call(THREE[0]!, true);
    const kept = byAddress(THREE[0]!);
    upstreams.follow([
      upstreamSpec(KEY, { name: 'backend', instances: [THREE[0]!, '10.0.0.9:4001'] }),
    ]);
    const upstream = upstreams.of(KEY)!;
    assert.equal(upstream.instances[0], kept);
    assert.equal(kept.state, 'ejected');
    assert.ok(events.some((e) => e.type === 'instance' && e.reason === 'removed'));
    assert.ok(
      events.some(
        (e) => e.type === 'instance' && e.reason === 'added' && e.instance === '10.0.0.9:4001',
      ),
    );
    upstreams.follow([]);
    assert.equal(upstreams.of(KEY), undefined);
  });

  test('names are resolved to every address, again on refresh; a failed resolution keeps the last', async () => {
    let answer: string[] | Error = ['10.1.0.1', '10.1.0.2'];
    const asked: string[] = [];
    const { upstreams, events } = registry(
      { instances: ['backend.internal:4001'], dnsRefreshMs: 60_000 },
      async (name) => {
        asked.push(name);
        if (answer instanceof Error) throw answer;
        return answer;
      },
    );
    await new Promise((resolve) => setImmediate(resolve));
    const addresses = () => upstreams.of(KEY)!.instances.map((i) => i.address);
    /** A reload with the same names: resolved again at once. */
    const refollow = async () => {
      upstreams.follow([
        upstreamSpec(KEY, {
          name: 'backend',
          instances: ['backend.internal:4001'],
          dnsRefreshMs: 60_000,
        }),
      ]);
      await new Promise((resolve) => setImmediate(resolve));
    };
    assert.deepEqual(asked, ['backend.internal']);
    assert.deepEqual(addresses(), ['10.1.0.1:4001', '10.1.0.2:4001']);

    answer = new Error('SERVFAIL');
    await refollow();
    assert.deepEqual(
      addresses(),
      ['10.1.0.1:4001', '10.1.0.2:4001'],
      'the last addresses serve on',
    );
    assert.ok(events.some((e) => e.type === 'resolve_failed'));

    answer = ['10.1.0.2', '::1'];
    await refollow();
    assert.deepEqual(addresses(), ['10.1.0.2:4001', '[::1]:4001']);
    upstreams.close();
  });
});
